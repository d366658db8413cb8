package lab

import (
	"testing"

	"github.com/enxame/enxame/internal/netlabtest"
)

// TestNATToNATHolePunched is scenario 1 of issue 12: five public peers, two
// behind port-preserving NATs; the fetch goes over a hole-punched
// connection.
func TestNATToNATHolePunched(t *testing.T) {
	s := natToNAT(t, netlabtest.PortPreserving, "hole-punched", "direct")
	// Throughput of the hole-punched connection beside a direct one
	// between public hosts, one run each (logged, not asserted: a loaded
	// machine makes the ratio noisy).
	const size = 32 << 20
	punched := throughput(t, s.nat[1], s.nat[0], size)
	direct := throughput(t, s.pub[0], s.pub[1], size)
	t.Logf("32 MiB: hole-punched %.1f MB/s, direct public %.1f MB/s (ratio %.2f)", punched, direct, punched/direct)
}
