package lab

import (
	"strings"
	"testing"

	"github.com/enxame/enxame/internal/netlabtest"
)

// TestNATToNATHolePunched is scenario 1 of issue 12: five public peers, two
// behind port-preserving NATs; the fetch goes over a hole-punched
// connection, and jobs reach the NAT'd worker.
func TestNATToNATHolePunched(t *testing.T) {
	s := natToNAT(t, netlabtest.PortPreserving, "hole-punched", "direct")
	// Throughput of the hole-punched connection beside direct ones
	// between public hosts, over TCP and over QUIC, like for like (logged,
	// not asserted: a loaded machine makes the ratio noisy). Two rounds,
	// the best of each kept.
	const size = 32 << 20
	n1, n2 := s.nat[0], s.nat[1]
	// p1-p2 is p2's bootstrap connection (TCP); a pair of the others
	// found each other through the DHT, over QUIC (QUIC first for public
	// addresses).
	tcpFrom, tcpTo := s.pub[0], s.pub[1]
	var quicFrom, quicTo *peer
	for _, a := range s.pub[1:] {
		for _, b := range s.pub[1:] {
			if a != b && quicFrom == nil {
				if _, addr := pathTo(t, b, a.id); strings.Contains(addr, "/quic-v1") {
					quicFrom, quicTo = a, b
				}
			}
		}
	}
	best := map[string]float64{}
	via := map[string]string{}
	measure := func(kind string, from, to *peer) {
		if from == nil {
			return
		}
		r := throughput(t, from, to, size)
		best[kind] = max(best[kind], r)
		_, via[kind] = pathTo(t, to, from.id)
	}
	for range 2 {
		measure("punched", n2, n1)
		measure("direct-tcp", tcpFrom, tcpTo)
		measure("direct-quic", quicFrom, quicTo)
	}
	punchedQUIC := strings.Contains(via["punched"], "/quic-v1")
	like := "direct-tcp"
	if punchedQUIC {
		like = "direct-quic"
	}
	t.Logf("FIGURE %s: 32 MiB, best of 2: hole-punched %.1f MB/s (%s), direct TCP %.1f MB/s (%s), direct QUIC %.1f MB/s (%s); punched/direct same transport (%s) %.2f, punched/direct TCP %.2f",
		t.Name(), best["punched"], via["punched"], best["direct-tcp"], via["direct-tcp"], best["direct-quic"], via["direct-quic"],
		like, best["punched"]/best[like], best["punched"]/best["direct-tcp"])
}
