package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
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

// findsProvider reports whether one provider lookup of c by n lists p.
func findsProvider(t testing.TB, n *node.Node, c cid.Cid, p peer.ID) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	found := false
	for ai := range n.Router().FindProviders(ctx, c, 0) {
		found = found || ai.ID == p
	}
	return found
}

// shares reports whether n's next reprovide announces c.
func shares(t testing.TB, n *node.Node, c cid.Cid) bool {
	t.Helper()
	keys, err := n.Share().Shared(t.Context())
	if err != nil {
		t.Fatalf("Shared: %v", err)
	}
	return slices.Contains(keys, c)
}

// TestFetchedContentIsSharedBack: on loopback, B fetches two files from A,
// one with NoShare (enxame get --no-share); a third peer C then finds B as
// a provider of the other, and B does not announce the first. After a GC on
// B removes the fetched blocks, B no longer lists it for reprovide. Issue
// 15, "Sharing back".
func TestFetchedContentIsSharedBack(t *testing.T) {
	a, _ := nodetest.Start(t, nodetest.Config(t), node.Deps{})
	join := func() *node.Node {
		cfg := nodetest.Config(t)
		cfg.Bootstrap = a.Addrs()[:1]
		n, _ := nodetest.Start(t, cfg, node.Deps{})
		return n
	}
	b, c := join(), join()
	add := func(size int) cid.Cid {
		data := make([]byte, size)
		rand.Read(data)
		res, err := a.AddReader(t.Context(), bytes.NewReader(data), "f", share.AddOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res.Root
	}
	private, shared := add(200<<10), add(300<<10)
	waittest.For(t, "A to announce both files", func() bool {
		return findsProvider(t, c, private, a.Host().ID()) && findsProvider(t, c, shared, a.Host().ID())
	})

	if err := b.Fetch(t.Context(), private, share.FetchOptions{NoShare: true}); err != nil {
		t.Fatalf("B: Fetch(%s, NoShare): %v", private, err)
	}
	if err := b.Fetch(t.Context(), shared, share.FetchOptions{}); err != nil {
		t.Fatalf("B: Fetch(%s): %v", shared, err)
	}
	waittest.For(t, "C to find B as a provider of what B fetched", func() bool {
		return findsProvider(t, c, shared, b.Host().ID())
	})
	if shares(t, b, private) {
		t.Errorf("B lists %s, fetched with NoShare, for reprovide", private)
	}
	if findsProvider(t, c, private, b.Host().ID()) {
		t.Errorf("C finds B as a provider of %s, fetched with NoShare", private)
	}
	if !shares(t, b, shared) {
		t.Errorf("B does not list %s, which it fetched, for reprovide", shared)
	}

	if _, err := b.Share().GC(t.Context()); err != nil {
		t.Fatalf("B: GC: %v", err)
	}
	if ok, err := b.Blocks().Has(t.Context(), shared); err != nil || ok {
		t.Fatalf("B: Has(%s) after GC = %v, %v; want false", shared, ok, err)
	}
	if shares(t, b, shared) {
		t.Errorf("B still lists %s for reprovide after GC removed it", shared)
	}
}
