package share

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	offline "github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

// boxoImport builds data with boxo's own balanced importer into an
// in-memory blockstore and returns the root and every block by multihash.
func boxoImport(t *testing.T, data []byte, chunk int, v0, noRaw bool) (cid.Cid, map[string][]byte) {
	t.Helper()
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	dserv := merkledag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))
	_, node := cidBuilders(v0)
	p := helpers.DagBuilderParams{Maxlinks: helpers.DefaultLinksPerBlock, RawLeaves: !noRaw, CidBuilder: node, Dagserv: dserv}
	db, err := p.New(chunker.NewSizeSplitter(bytes.NewReader(data), int64(chunk)))
	if err != nil {
		t.Fatal(err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	ch, err := bs.AllKeysChan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for c := range ch {
		b, err := bs.Get(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		out[string(c.Hash())] = b.RawData()
	}
	return nd.Cid(), out
}

func storeBlocks(t *testing.T, s *Store) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ch, err := s.AllKeysChan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for c := range ch {
		b, err := s.Get(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		out[string(c.Hash())] = b.RawData()
	}
	return out
}

// TestAddMatchesBoxo is the differential test of the parallel builder: for
// many sizes and chunkers, the root and every block equal what boxo's
// sequential balanced importer makes. Chunk sizes of a few bytes reach
// trees of depth 2 and 3 with small inputs.
func TestAddMatchesBoxo(t *testing.T) {
	const L = 174
	type tc struct {
		size, chunk int
		v0, noRaw   bool
	}
	var tests []tc
	for _, chunk := range []int{1, 3, 256} {
		for _, n := range []int{0, 1, 2, chunk - 1, chunk, chunk + 1, L * chunk, L*chunk + 1, L*chunk - 1, 2*L*chunk + 5} {
			tests = append(tests, tc{size: n, chunk: chunk})
		}
	}
	// Depth 3 (over 174² leaves) with 1-byte chunks keeps these cheap.
	for _, n := range []int{L*L + 1, L*L + L + 3} {
		tests = append(tests, tc{size: n, chunk: 1})
	}
	tests = append(tests,
		tc{size: 1 << 20, chunk: DefaultChunkSize},
		tc{size: 3<<20 + 7, chunk: 4096},
		tc{size: 100000, chunk: 100, v0: true},
		tc{size: 100000, chunk: 100, noRaw: true},
		tc{size: 100000, chunk: 100, v0: true, noRaw: true},
		tc{size: 0, chunk: 100, v0: true, noRaw: true},
		tc{size: 5, chunk: 100, v0: true, noRaw: true},
		tc{size: L*L + 1, chunk: 1, noRaw: true},
	)
	for i, tt := range tests {
		name := fmt.Sprintf("size=%d/chunk=%d/v0=%v/noraw=%v", tt.size, tt.chunk, tt.v0, tt.noRaw)
		t.Run(name, func(t *testing.T) {
			data := randomBytes(uint64(i), tt.size)
			wantRoot, wantBlocks := boxoImport(t, data, tt.chunk, tt.v0, tt.noRaw)
			s := newTestStore(t, StoreConfig{})
			workers := []int{1, 3}
			if tt.size/tt.chunk > 10000 {
				workers = []int{3} // keep -race runs short
			}
			for _, workers := range workers {
				got := addBytes(t, s, data, AddOptions{ChunkSize: tt.chunk, CIDv0: tt.v0, NoRawLeaves: tt.noRaw, Workers: workers})
				if !got.Equals(wantRoot) {
					t.Fatalf("Add(workers=%d) root = %s, want %s (boxo)", workers, got, wantRoot)
				}
			}
			gotBlocks := storeBlocks(t, s)
			if len(gotBlocks) != len(wantBlocks) {
				t.Errorf("Add stored %d blocks, boxo %d", len(gotBlocks), len(wantBlocks))
			}
			for k, want := range wantBlocks {
				if got, ok := gotBlocks[k]; !ok || !bytes.Equal(got, want) {
					t.Errorf("block %x: stored=%v, bytes differ from boxo's", k, ok)
				}
			}
			if got := catAll(t, t.Context(), NewReader(ReaderConfig{}, s), wantRoot); !bytes.Equal(got, data) {
				t.Errorf("Open(%s) read %d bytes, want the %d added", wantRoot, len(got), len(data))
			}
		})
	}
}
