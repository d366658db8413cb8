package lab

import (
	"testing"

	"github.com/enxame/enxame/internal/netlabtest"
)

// TestNATToNATSymmetricRelayed is scenario 2 of issue 12: the provider is
// behind a symmetric NAT (random source ports), so hole punching cannot
// work; the fetch still completes, over a relay.
func TestNATToNATSymmetricRelayed(t *testing.T) {
	s := natToNAT(t, netlabtest.Symmetric, "relayed")
	t.Logf("FIGURE %s: 32 MiB over the relay: %.1f MB/s", t.Name(), throughput(t, s.nat[1], s.nat[0], 32<<20))
}
