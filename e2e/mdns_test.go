package e2e

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/waittest"
)

// TestMDNSDiscovery checks that mDNS is on by default: two daemons on
// loopback with no bootstrap peer and no --no-mdns find and connect to each
// other. It needs a network interface with multicast (eth0 here; the
// loopback interface has none); the daemons listen on 127.0.0.1 only, so
// only their announcements travel over it. Other tests pass --no-mdns,
// which TestDaemonJSON checks by connecting two such daemons explicitly.
func TestMDNSDiscovery(t *testing.T) {
	root := t.TempDir()
	d1, _ := startJSONDaemon(t, filepath.Join(root, "a"))
	d2, _ := startJSONDaemon(t, filepath.Join(root, "b"))
	start := time.Now()
	waittest.For(t, "the two mDNS daemons to list each other in peers", func() bool {
		return slices.Contains(peerIDs(t, d1.home), d2.id) && slices.Contains(peerIDs(t, d2.home), d1.id)
	})
	t.Logf("mDNS daemons connected after %v", time.Since(start).Round(time.Millisecond))
}
