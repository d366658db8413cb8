package node_test

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share"
)

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
	mh := res.Root.Hash()

	cfg := nodetest.Config(t)
	cfg.Bootstrap = a.Addrs()[:1]
	b, _ := nodetest.Start(t, cfg, node.Deps{})
	nodetest.WaitFor(t, 30*time.Second, "the provider record to reach the new peer", func() bool {
		provs, err := b.Router().Kad().ProviderStore().GetProviders(t.Context(), mh)
		if err != nil {
			t.Fatalf("get providers: %v", err)
		}
		for _, p := range provs {
			if p.ID == a.Host().ID() {
				return true
			}
		}
		return false
	})
}
