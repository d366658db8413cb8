//go:build race

package sandbox

// raceEnabled reports that the race detector is on; wazero then compiles
// modules about 15 times slower.
const raceEnabled = true
