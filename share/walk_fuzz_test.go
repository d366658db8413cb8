package share

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// fuzzDAG builds blocks from fuzz bytes: up to 32 nodes described by
// records, built from the last to the first so that a node links only to
// later ones (content addressing allows no cycle). A record is a kind byte
// then a length byte and that many bytes: kind%4 == 0 a raw block of those
// bytes; 1 a dag-pb node linking to the later nodes the bytes name (index
// byte % count, repeats allowed); 2 those bytes as a block claiming dag-pb
// (usually undecodable); 3 a dag-pb node whose links point at a block that
// is not there. The first node is the root.
func fuzzDAG(data []byte) (cid.Cid, map[cid.Cid]blocks.Block) {
	type rec struct {
		kind byte
		body []byte
	}
	var recs []rec
	for len(data) >= 2 && len(recs) < 32 {
		n := min(int(data[1]), len(data)-2)
		recs = append(recs, rec{data[0] % 4, data[2 : 2+n]})
		data = data[2+n:]
	}
	if len(recs) == 0 {
		recs = []rec{{0, nil}}
	}
	m := make(map[cid.Cid]blocks.Block)
	keys := make([]cid.Cid, len(recs))
	rawPrefix := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: -1}
	pbPrefix := cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: 0x12, MhLength: -1}
	put := func(i int, p cid.Prefix, b []byte) {
		k, _ := p.Sum(b)
		blk, _ := blocks.NewBlockWithCid(b, k)
		m[k], keys[i] = blk, k
	}
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		later := len(recs) - 1 - i
		switch {
		case r.kind == 0 || (r.kind == 1 && later == 0):
			put(i, rawPrefix, r.body)
		case r.kind == 1 || r.kind == 3:
			nd := merkledag.NodeWithData(nil)
			nd.SetCidBuilder(merkledag.V1CidPrefix())
			for _, c := range r.body {
				var target cid.Cid
				if r.kind == 3 || later == 0 {
					target, _ = rawPrefix.Sum([]byte{c, 0xff, 0xfe}) // not in the DAG
				} else {
					target = keys[i+1+int(c)%later]
				}
				nd.AddRawLink("", &ipld.Link{Cid: target})
			}
			m[nd.Cid()], keys[i] = nd, nd.Cid()
		default:
			put(i, pbPrefix, r.body)
		}
	}
	return keys[0], m
}

// fuzzGetter serves a map, counts gets per key, and fails a test that asks
// for one key twice.
type fuzzGetter struct {
	m  map[cid.Cid]blocks.Block
	mu sync.Mutex
	n  map[cid.Cid]int
}

func (g *fuzzGetter) Get(_ context.Context, k cid.Cid) (blocks.Block, error) {
	g.mu.Lock()
	g.n[k]++
	g.mu.Unlock()
	if b, ok := g.m[k]; ok {
		return b, nil
	}
	return nil, ipld.ErrNotFound{Cid: k}
}

// FuzzWalk drives Walk with arbitrary DAGs of dag-pb and raw blocks (valid,
// undecodable, with missing or repeated links) and limits: it must end,
// never panic, get each block at most once, and respect MaxBlocks and
// MaxBytes.
func FuzzWalk(f *testing.F) {
	f.Add([]byte{0, 3, 'a', 'b', 'c'}, uint8(0), uint16(0), uint8(4))
	f.Add([]byte{1, 2, 0, 0, 1, 2, 0, 0, 1, 2, 0, 0, 0, 1, 'x'}, uint8(0), uint16(0), uint8(2))
	f.Add([]byte{1, 1, 0, 2, 4, 0x0a, 0x02, 0x08, 0x01}, uint8(1), uint16(0), uint8(1))
	f.Add([]byte{3, 2, 7, 9, 0, 1, 'z'}, uint8(0), uint16(10), uint8(8))
	f.Add([]byte{1, 3, 0, 1, 2, 1, 2, 0, 1, 1, 1, 1, 0, 2}, uint8(2), uint16(5), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, maxBlocks uint8, maxBytes uint16, parallel uint8) {
		root, m := fuzzDAG(data)
		g := &fuzzGetter{m: m, n: make(map[cid.Cid]int)}
		opts := WalkOptions{Parallel: int(parallel%8) + 1, MaxBlocks: int(maxBlocks), MaxBytes: int64(maxBytes)}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := Walk(ctx, root, g, opts)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Walk did not end: %v", err)
		}
		for k, n := range g.n {
			if n > 1 {
				t.Errorf("block %s got %d times", k, n)
			}
		}
		if st.Gets != len(g.n) {
			t.Errorf("Walk reports %d gets, the getter saw %d", st.Gets, len(g.n))
		}
		if opts.MaxBlocks > 0 && st.Gets > opts.MaxBlocks {
			t.Errorf("Walk got %d blocks, MaxBlocks %d", st.Gets, opts.MaxBlocks)
		}
		if opts.MaxBytes > 0 && err == nil && st.Bytes > opts.MaxBytes {
			t.Errorf("Walk got %d bytes with no error, MaxBytes %d", st.Bytes, opts.MaxBytes)
		}
		if err == nil && st.Gets > len(m) {
			t.Errorf("Walk succeeded with %d gets over %d blocks", st.Gets, len(m))
		}
	})
}
