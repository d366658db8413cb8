//go:build !linux

package sandbox

import "runtime"

// restrictFiles does nothing outside Linux: there is no Landlock.
func restrictFiles(initMsg, []byte, bool) string {
	return "no file confinement on " + runtime.GOOS
}

// stage2Init reports the first stage: outside Linux the child never
// re-executes itself.
func stage2Init() (body []byte, landlock string, ok bool, err error) {
	return nil, "", false, nil
}

// restrictProcess does nothing outside Linux: no seccomp, and no rlimits
// beyond limitChild's.
func restrictProcess(initMsg) string {
	return "no system call filter on " + runtime.GOOS
}
