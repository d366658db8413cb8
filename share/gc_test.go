package share

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
)

// dagBlocks returns the blocks of the DAG under root in src, in walk order.
func dagBlocks(t testing.TB, ctx context.Context, src *Store, root cid.Cid) []blocks.Block {
	t.Helper()
	var out []blocks.Block
	err := src.walk(ctx, root, func(c cid.Cid) error {
		b, err := src.get(ctx, c)
		if err != nil {
			return err
		}
		out = append(out, b)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

func TestPinErrors(t *testing.T) {
	ctx := t.Context()
	src := newTestStore(t, StoreConfig{})
	root := addBytes(t, src, randomBytes(1, 10000), AddOptions{ChunkSize: 1000, NoPin: true})
	s := newTestStore(t, StoreConfig{})
	bs := dagBlocks(t, ctx, src, root)
	if err := s.PutMany(ctx, bs[:len(bs)-1]); err != nil {
		t.Fatal(err)
	}
	var ie *IncompleteError
	if err := s.Pin(ctx, root); !errors.As(err, &ie) || !ie.Missing.Equals(bs[len(bs)-1].Cid()) {
		t.Errorf("Pin(incomplete) error = %v, want *IncompleteError missing %s", err, bs[len(bs)-1].Cid())
	}
	if err := s.Unpin(ctx, root); !errors.Is(err, ErrNotPinned) {
		t.Errorf("Unpin(not pinned) error = %v, want ErrNotPinned", err)
	}
	if err := s.Put(ctx, bs[len(bs)-1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Pin(ctx, root); err != nil {
		t.Fatalf("Pin(complete): %v", err)
	}
	if pins, err := s.Pins(ctx); err != nil || len(pins) != 1 || !pins[0].Equals(root) {
		t.Errorf("Pins() = %v, %v; want [%s]", pins, err, root)
	}
}

func TestGCRemovesOnlyGarbage(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t, StoreConfig{PackSize: 256 << 10})
	kept := randomBytes(2, 1<<20)
	keptRoot := addBytes(t, s, kept, AddOptions{ChunkSize: 4096})
	junkRoot := addBytes(t, s, randomBytes(3, 1<<20), AddOptions{ChunkSize: 4096, NoPin: true})
	heldData := randomBytes(4, 100000)
	heldRoot := addBytes(t, s, heldData, AddOptions{ChunkSize: 4096, NoPin: true})
	release := s.Hold(dagCIDs(t, ctx, s, heldRoot)...)
	before, _ := s.Stat(ctx)

	res, err := s.GC(ctx)
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	junkBlocks := 1<<20/4096 + 3 // 256 leaves, two nodes over them and the root
	if res.Removed != junkBlocks || res.Freed < 1<<20 {
		t.Errorf("GC() = %+v, want %d blocks (the unpinned file) removed", res, junkBlocks)
	}
	after, _ := s.Stat(ctx)
	if after.PackBytes >= before.PackBytes || res.DiskFreed <= 0 {
		t.Errorf("pack bytes %d → %d (DiskFreed %d), want compaction to free disk", before.PackBytes, after.PackBytes, res.DiskFreed)
	}
	r := NewReader(ReaderConfig{}, s)
	if got := catAll(t, ctx, r, keptRoot); !bytes.Equal(got, kept) {
		t.Errorf("pinned file after GC: %d bytes, want %d", len(got), len(kept))
	}
	if got := catAll(t, ctx, r, heldRoot); !bytes.Equal(got, heldData) {
		t.Errorf("held file after GC: %d bytes, want %d", len(got), len(heldData))
	}
	if ok, _ := s.Has(ctx, junkRoot); ok {
		t.Errorf("Has(unpinned root) after GC = true")
	}
	release()
	if err := s.Unpin(ctx, keptRoot); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stat(ctx); st.Blocks != 0 {
		t.Errorf("Stat after unpin, release and GC = %+v, want no blocks", st)
	}
}

func dagCIDs(t testing.TB, ctx context.Context, s *Store, root cid.Cid) []cid.Cid {
	t.Helper()
	var out []cid.Cid
	for _, b := range dagBlocks(t, ctx, s, root) {
		out = append(out, b.Cid())
	}
	return out
}

// TestGCConcurrentWithAddAndFetch runs GCs in a loop while Adds run and a
// simulated fetch stores blocks under a Hold and pins at the end: no pinned
// or held block is ever lost, and garbage goes.
func TestGCConcurrentWithAddAndFetch(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t, StoreConfig{PackSize: 512 << 10})
	src := newTestStore(t, StoreConfig{})
	rounds := 6
	if testing.Short() {
		rounds = 3
	}
	type added struct {
		root cid.Cid
		data []byte
	}
	var mu sync.Mutex
	var pinned []added
	stop := make(chan struct{})
	var gcs sync.WaitGroup
	gcs.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.GC(ctx); err != nil {
				t.Errorf("GC: %v", err)
				return
			}
		}
	})
	var work sync.WaitGroup
	work.Go(func() { // adds, pinned, and garbage in between
		for i := range rounds {
			data := randomBytes(uint64(100+i), 300000+i)
			root := addBytes(t, s, data, AddOptions{ChunkSize: 8192})
			addBytes(t, s, randomBytes(uint64(200+i), 200000), AddOptions{ChunkSize: 8192, NoPin: true})
			mu.Lock()
			pinned = append(pinned, added{root, data})
			mu.Unlock()
		}
	})
	work.Go(func() { // a fetch: hold, put block by block, pin, release
		for i := range rounds {
			data := randomBytes(uint64(300+i), 250000)
			root := addBytes(t, src, data, AddOptions{ChunkSize: 8192, NoPin: true})
			h := s.NewHold()
			for _, b := range dagBlocks(t, ctx, src, root) {
				h.Add(b.Cid())
				if err := s.Put(ctx, b); err != nil {
					t.Errorf("Put: %v", err)
				}
			}
			if err := s.Pin(ctx, root); err != nil {
				t.Errorf("Pin(fetched %s): %v", root, err)
			}
			h.Release()
			mu.Lock()
			pinned = append(pinned, added{root, data})
			mu.Unlock()
		}
	})
	work.Wait()
	close(stop)
	gcs.Wait()
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	r := NewReader(ReaderConfig{}, s)
	var want int
	for _, a := range pinned {
		if got := catAll(t, ctx, r, a.root); !bytes.Equal(got, a.data) {
			t.Errorf("pinned %s after concurrent GCs: %d bytes, want %d", a.root, len(got), len(a.data))
		}
		want += len(dagCIDs(t, ctx, s, a.root))
	}
	if st, _ := s.Stat(ctx); st.Blocks != want {
		t.Errorf("blocks after the last GC = %d, want %d (the pinned DAGs only)", st.Blocks, want)
	}
}
