package node_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestSwarmFindPeer builds 20 real nodes on loopback, each bootstrapped from
// one random earlier node, and checks that every node finds every other
// through the DHT.
func TestSwarmFindPeer(t *testing.T) {
	const n = 20
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))

	// Each node joins through a random earlier one. Every node but the
	// first must have joined through its bootstrap peer (Swarm waits for
	// that), and every node must be in some other node's routing table (a
	// node nobody has admitted yet, e.g. while identify is still running on
	// a loaded machine, cannot be found by anyone).
	nodes := nodetest.Swarm(t, n, node.Deps{}, func(i int, cfg *node.Config, started []*node.Node) {
		if i > 0 {
			cfg.Bootstrap = started[rng.IntN(i)].Addrs()[:1]
		}
	})
	for _, target := range nodes {
		id := target.Host().ID()
		waittest.For(t, "node to be in another's routing table", func() bool {
			for _, nd := range nodes {
				if nd != target && nd.Router().Kad().RoutingTable().Find(id) != "" {
					return true
				}
			}
			return false
		})
	}

	var mu sync.Mutex
	var failures []string
	retried := 0
	var wg sync.WaitGroup
	for i, a := range nodes {
		wg.Go(func() {
			for j, b := range nodes {
				if i == j {
					continue
				}
				// A lookup on a loaded machine can miss kad-dht's own
				// per-query timeouts; a user would ask again, and so
				// does the test, at most three times.
				var res dht.FindResult
				var err error
				for attempt := range 3 {
					if res, err = a.Router().FindPeer(t.Context(), b.Host().ID()); err == nil {
						break
					}
					if attempt < 2 {
						mu.Lock()
						retried++
						mu.Unlock()
					}
				}
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case res.Peer.ID != b.Host().ID() || len(res.Peer.Addrs) == 0:
					failures = append(failures, fmt.Sprintf("wrong answer for %s: %v (queried %d)", b.Host().ID(), res.Peer, res.Queried))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d of %d lookups asked again", retried, n*(n-1))
	if len(failures) > 0 {
		t.Fatalf("FindPeer failed %d of %d times; first: %s", len(failures), n*(n-1), failures[0])
	}
}

// TestBootstrapRetry checks that a node whose bootstrap peer is down keeps
// running, reports the failure in its bootstrap state, and joins once the
// peer comes up at that address.
func TestBootstrapRetry(t *testing.T) {
	// Reserve an identity and port for the bootstrap peer, then stop it.
	bcfg := nodetest.Config(t)
	bcfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	b, stopB := nodetest.Start(t, bcfg, node.Deps{})
	addr := b.Addrs()[0]
	bid := b.Host().ID()
	stopB()

	cfg := nodetest.Config(t)
	cfg.Bootstrap = []string{addr}
	a, _ := nodetest.Start(t, cfg, node.Deps{})
	waittest.For(t, "a failed bootstrap attempt", func() bool {
		bs := a.Router().Bootstrap()
		return len(bs) == 1 && bs[0].Attempts >= 2 && bs[0].LastError != ""
	})

	// Bring the bootstrap peer back on the same home and address.
	bcfg.Listen = []string{multiaddrNoPeer(t, addr)}
	b2, _ := nodetest.Start(t, bcfg, node.Deps{})
	if b2.Host().ID() != bid {
		t.Fatalf("restarted bootstrap peer has ID %s, want %s", b2.Host().ID(), bid)
	}
	waittest.For(t, "the node to join after the bootstrap peer returned", func() bool {
		bs := a.Router().Bootstrap()
		return bs[0].Connected && a.Router().TableSize() > 0
	})
	if got := a.Host().Network().Peers(); !slices.Contains(got, bid) {
		t.Fatalf("peers = %v, want %s among them", got, bid)
	}
}

func multiaddrNoPeer(t testing.TB, s string) string {
	t.Helper()
	ai, err := peer.AddrInfoFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return ai.Addrs[0].String()
}
