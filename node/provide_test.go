package node_test

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// hasProviderRecord reports whether n's own provider store (what other
// peers announced to it, not what it could look up) lists p for key.
func hasProviderRecord(t testing.TB, n *node.Node, key mh.Multihash, p peer.ID) bool {
	t.Helper()
	provs, err := n.Router().Kad().ProviderStore().GetProviders(t.Context(), key)
	if err != nil {
		t.Fatalf("get providers: %v", err)
	}
	for _, ai := range provs {
		if ai.ID == p {
			return true
		}
	}
	return false
}

// TestReprovideAnnouncesPinsAgain: a pinned root is announced again every
// ReprovideInterval with no new add, so a peer that joins after the first
// announcement receives the provider record itself (its own provider store
// holds it, which only an announcement puts there). Issue 3: "the node
// announces the content in the DHT and re-announces it periodically".
func TestReprovideAnnouncesPinsAgain(t *testing.T) {
	acfg := nodetest.Config(t)
	acfg.Share.ReprovideInterval = 500 * time.Millisecond
	a, _ := nodetest.Start(t, acfg, node.Deps{})
	bcfg := nodetest.Config(t)
	bcfg.Bootstrap = a.Addrs()[:1]
	b, _ := nodetest.Start(t, bcfg, node.Deps{})
	waittest.For(t, "the first peer in the provider's routing table", func() bool {
		return a.Router().TableSize() > 0
	})
	data := make([]byte, 100<<10)
	rand.Read(data)
	res, err := a.AddReader(t.Context(), bytes.NewReader(data), "f", share.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key := res.Root.Hash()
	// The first announcement succeeded: nothing is left to retry.
	waittest.For(t, "the first announcement to reach the peer there", func() bool {
		return hasProviderRecord(t, b, key, a.Host().ID())
	})

	ccfg := nodetest.Config(t)
	ccfg.Bootstrap = a.Addrs()[:1]
	c, _ := nodetest.Start(t, ccfg, node.Deps{})
	waittest.For(t, "a re-announcement to reach the peer that joined later", func() bool {
		return hasProviderRecord(t, c, key, a.Host().ID())
	})
}

// TestProvideRetriedWhenPeersArrive: content added by a node that knows no
// one yet cannot be announced at once; once a peer joins, the announcement
// is retried and reaches it, so the peer's DHT holds the provider record.
func TestProvideRetriedWhenPeersArrive(t *testing.T) {
	a, _ := nodetest.Start(t, nodetest.Config(t), node.Deps{})
	data := make([]byte, 300<<10)
	rand.Read(data)
	res, err := a.AddReader(t.Context(), bytes.NewReader(data), "f", share.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key := res.Root.Hash()

	cfg := nodetest.Config(t)
	cfg.Bootstrap = a.Addrs()[:1]
	b, _ := nodetest.Start(t, cfg, node.Deps{})
	waittest.For(t, "the provider record to reach the new peer", func() bool {
		return hasProviderRecord(t, b, key, a.Host().ID())
	})
}
