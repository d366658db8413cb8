package share

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/enxame/enxame/internal/nodetest/hosttest"
)

// wideDAG returns a dag-pb root (last) linking to n distinct raw leaves.
func wideDAG(t testing.TB, n int, tag string) []blocks.Block {
	t.Helper()
	pref := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: -1}
	root := merkledag.NodeWithData(nil)
	root.SetCidBuilder(merkledag.V1CidPrefix())
	var out []blocks.Block
	for i := range n {
		data := []byte(fmt.Sprintf("%s leaf %d", tag, i))
		k, err := pref.Sum(data)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := blocks.NewBlockWithCid(data, k)
		out = append(out, b)
		if err := root.AddRawLink("", &ipld.Link{Cid: k, Size: uint64(len(data))}); err != nil {
			t.Fatal(err)
		}
	}
	return append(out, root)
}

// TestBitswapThrottlesHammeringPeer pins issue 11, finding 6 (Bitswap): a
// peer that wants blocks faster than WantsPerSecond is throttled (its
// wants past the rate are denied) and the node keeps serving another peer
// meanwhile; a peer the exchange has gated is denied everything.
func TestBitswapThrottlesHammeringPeer(t *testing.T) {
	h := hosttest.New(t)
	st := newTestStore(t, StoreConfig{})
	var gatedMu sync.Mutex
	gated := map[peer.ID]bool{}
	srv, err := NewBitswap(t.Context(), BitswapConfig{WantsPerSecond: 20}, BitswapDeps{Host: h, Store: st,
		Gated: func(p peer.ID) bool { gatedMu.Lock(); defer gatedMu.Unlock(); return gated[p] }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		h.Close()
	})
	hammerDAG, otherDAG := wideDAG(t, 500, "hammer"), wideDAG(t, 3, "other")
	if err := st.PutMany(t.Context(), append(hammerDAG, otherDAG...)); err != nil {
		t.Fatal(err)
	}
	hh, hs, hb := newBitswapPeer(t)
	oh, ost, ob := newBitswapPeer(t)
	for _, c := range []interface {
		Connect(context.Context, peer.AddrInfo) error
	}{hh, oh} {
		if err := c.Connect(t.Context(), peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		hold := hs.NewHold()
		defer hold.Release()
		Walk(ctx, hammerDAG[len(hammerDAG)-1].Cid(), hold.Getter(hb), WalkOptions{Parallel: 256})
	})
	exWaitFor(t, "the hammering peer throttled", func() bool { return srv.Denied(hh.ID()) > 0 })

	hold := ost.NewHold()
	defer hold.Release()
	if _, err := Walk(t.Context(), otherDAG[len(otherDAG)-1].Cid(), hold.Getter(ob), WalkOptions{Wait: 30 * time.Second}); err != nil {
		t.Fatalf("the other peer's fetch while one hammers: %v", err)
	}
	if d := srv.Denied(oh.ID()); d != 0 {
		t.Errorf("the other peer had %d wants denied, want 0", d)
	}
	cancel()
	wg.Wait()

	// A gated peer gets nothing.
	gatedMu.Lock()
	gated[oh.ID()] = true
	gatedMu.Unlock()
	before := srv.Denied(oh.ID())
	gctx, gcancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer gcancel()
	if _, err := ob.Get(gctx, hammerDAG[0].Cid()); err == nil {
		t.Errorf("a gated peer got a block over Bitswap")
	}
	if srv.Denied(oh.ID()) == before {
		t.Errorf("a gated peer's want was not denied")
	}
}

func TestWantLimiterRate(t *testing.T) {
	l := newWantLimiter(10, nil)
	p := peer.ID("p")
	now := time.Unix(1000, 0)
	allowed := 0
	for range 25 {
		if l.allowAt(p, now) {
			allowed++
		}
	}
	if allowed != 10 {
		t.Errorf("burst: %d wants allowed at once, want 10", allowed)
	}
	if !l.allowAt(p, now.Add(100*time.Millisecond)) || l.allowAt(p, now.Add(100*time.Millisecond)) {
		t.Errorf("after 100ms at 10/s, want exactly one more want allowed")
	}
	if got := l.denied(p); got != 16 {
		t.Errorf("denied = %d, want 16", got)
	}
	if !l.allowAt(peer.ID("q"), now) {
		t.Errorf("another peer's first want denied")
	}
}
