package share

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"
)

// doubledDAG returns the blocks of a DAG of depth levels above one raw
// leaf, each level a dag-pb node linking twice to the level below: 2^depth
// paths, depth+1 distinct blocks. The root is last.
func doubledDAG(t testing.TB, depth int) []blocks.Block {
	t.Helper()
	leaf := blocks.NewBlock([]byte("leaf"))
	leafCID, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: -1}.Sum(leaf.RawData())
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := blocks.NewBlockWithCid(leaf.RawData(), leafCID)
	out := []blocks.Block{lb}
	below, belowSize := leafCID, uint64(len(leaf.RawData()))
	for i := range depth {
		nd := merkledag.NodeWithData([]byte(fmt.Sprintf("level %d", i)))
		nd.SetCidBuilder(merkledag.V1CidPrefix())
		for _, name := range []string{"a", "b"} {
			if err := nd.AddRawLink(name, &ipld.Link{Cid: below, Size: belowSize}); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, nd)
		sz, _ := nd.Size()
		below, belowSize = nd.Cid(), sz
	}
	return out
}

// countingGetter counts the Gets of each CID.
type countingGetter struct {
	g  BlockGetter
	mu sync.Mutex
	n  map[cid.Cid]int
}

func (c *countingGetter) Get(ctx context.Context, k cid.Cid) (blocks.Block, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = make(map[cid.Cid]int)
	}
	c.n[k]++
	c.mu.Unlock()
	return c.g.Get(ctx, k)
}

// TestWalkBitswapDoubledDAGOncePerBlock pins issue 11, finding 4: the
// Bitswap fallback walk of a DAG whose every level links twice to the next
// gets each distinct block once (2^depth gets before, a million at depth
// 20), over real Bitswap peers on loopback.
func TestWalkBitswapDoubledDAGOncePerBlock(t *testing.T) {
	const depth = 24
	dag := doubledDAG(t, depth)
	root := dag[len(dag)-1].Cid()
	hc, sc, bc := newBitswapPeer(t) // fetches
	hp, sp, _ := newBitswapPeer(t)  // provides
	if err := sp.PutMany(t.Context(), dag); err != nil {
		t.Fatal(err)
	}
	if err := hc.Connect(t.Context(), peer.AddrInfo{ID: hp.ID(), Addrs: hp.Addrs()}); err != nil {
		t.Fatal(err)
	}
	hold := sc.NewHold()
	defer hold.Release()
	g := &countingGetter{g: hold.Getter(bc)}
	st, err := Walk(t.Context(), root, g, WalkOptions{Parallel: bitswapParallel, Wait: 30 * time.Second})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if st.Gets != len(dag) {
		t.Errorf("Walk: %d gets, want %d (one per distinct block)", st.Gets, len(dag))
	}
	for k, n := range g.n {
		if n != 1 {
			t.Errorf("block %s got %d times, want once", k, n)
		}
	}
	for _, b := range dag {
		if ok, err := sc.Has(t.Context(), b.Cid()); err != nil || !ok {
			t.Errorf("block %s not stored after the walk (%v)", b.Cid(), err)
		}
	}
}

// TestFetchFallbackDoubledDAG: the whole fallback path (the exchange finds
// no enxame provider, Bitswap fetches from a peer that speaks only
// Bitswap) completes on a doubled DAG of depth 24, each block stored.
func TestFetchFallbackDoubledDAG(t *testing.T) {
	const depth = 24
	dag := doubledDAG(t, depth)
	root := dag[len(dag)-1].Cid()
	hc, sc, bc := newBitswapPeer(t)
	hp, sp, _ := newBitswapPeer(t)
	if err := sp.PutMany(t.Context(), dag); err != nil {
		t.Fatal(err)
	}
	cfg := exTestConfig()
	ex, err := NewExchange(cfg, ExchangeDeps{Host: hc, Blockstore: sc, Logger: exLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := hc.Connect(t.Context(), peer.AddrInfo{ID: hp.ID(), Addrs: hp.Addrs()}); err != nil {
		t.Fatal(err)
	}
	// Identify must have told hc that hp speaks Bitswap.
	exWaitFor(t, "bitswap peer identified", bc.ipfsPeers)
	if err := ex.FetchFallback(t.Context(), bc, root, FetchOptions{NoProvidersTimeout: 60 * time.Second}, nil); err != nil {
		t.Fatalf("FetchFallback: %v", err)
	}
	for _, b := range dag {
		if ok, err := sc.Has(t.Context(), b.Cid()); err != nil || !ok {
			t.Errorf("block %s not stored after the fetch (%v)", b.Cid(), err)
		}
	}
}

// mapGetter serves blocks from a map; a missing key is ipld.ErrNotFound.
type mapGetter map[cid.Cid]blocks.Block

func (m mapGetter) Get(_ context.Context, k cid.Cid) (blocks.Block, error) {
	if b, ok := m[k]; ok {
		return b, nil
	}
	return nil, ipld.ErrNotFound{Cid: k}
}

func TestWalkLimits(t *testing.T) {
	dag := doubledDAG(t, 10) // 11 blocks
	m := mapGetter{}
	var total int64
	for _, b := range dag {
		m[b.Cid()] = b
		total += int64(len(b.RawData()))
	}
	root := dag[len(dag)-1].Cid()
	tests := []struct {
		name    string
		opts    WalkOptions
		wantErr error
	}{
		{"no limits", WalkOptions{}, nil},
		{"one at a time", WalkOptions{Parallel: 1}, nil},
		{"blocks at the cap", WalkOptions{MaxBlocks: len(dag)}, nil},
		{"blocks over the cap", WalkOptions{MaxBlocks: len(dag) - 1}, ErrTooLarge},
		{"bytes at the cap", WalkOptions{MaxBytes: total}, nil},
		{"bytes over the cap", WalkOptions{MaxBytes: total - 1}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Walk(t.Context(), root, m, tt.opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Walk(%+v) = %v, want %v", tt.opts, err, tt.wantErr)
			}
			if tt.wantErr == nil && (st.Gets != len(dag) || st.Bytes != total) {
				t.Errorf("Walk(%+v) stats %+v, want %d gets and %d bytes", tt.opts, st, len(dag), total)
			}
		})
	}
	t.Run("missing block", func(t *testing.T) {
		delete(m, dag[0].Cid())
		if _, err := Walk(t.Context(), root, m, WalkOptions{}); !ipld.IsNotFound(err) {
			t.Errorf("Walk with the leaf missing = %v, want not found", err)
		}
	})
}
