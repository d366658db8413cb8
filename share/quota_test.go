package share

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
)

// Regression tests for issue 11, finding 2: a remote submitter or fetch
// filled a worker's disk, because the store had no quota.

// readStored reads the whole file at root from s.
func readStored(t testing.TB, s *Store, root cid.Cid) []byte {
	t.Helper()
	r, err := s.Open(t.Context(), root)
	if err != nil {
		t.Fatalf("Open(%s): %v", root, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", root, err)
	}
	return b
}

// checkUsage checks that the store's running counts agree with a full scan
// of its index and that it is within its quota.
func checkUsage(t testing.TB, s *Store) StoreUsage {
	t.Helper()
	u := s.Usage()
	st, err := s.Stat(t.Context())
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if u.Bytes != st.Bytes || u.Blocks != int64(st.Blocks) {
		t.Errorf("Usage() = %d bytes in %d blocks, want %d in %d (a scan of the index)", u.Bytes, u.Blocks, st.Bytes, st.Blocks)
	}
	if u.Max >= 0 && u.Bytes > u.Max {
		t.Errorf("Usage() = %d bytes, over the %d quota", u.Bytes, u.Max)
	}
	return u
}

func TestQuotaAutoGCMakesRoom(t *testing.T) {
	ctx := t.Context()
	const max = 1 << 20
	s := newTestStore(t, StoreConfig{MaxBytes: max, PackSize: 128 << 10})
	junk := addBytes(t, s, randomBytes(10, 700<<10), AddOptions{ChunkSize: 16 << 10, NoPin: true})
	junkCIDs := dagCIDs(t, ctx, s, junk)
	kept := randomBytes(11, 200<<10)
	keptRoot := addBytes(t, s, kept, AddOptions{ChunkSize: 16 << 10})
	before := checkUsage(t, s)

	data := randomBytes(12, 600<<10)
	root := addBytes(t, s, data, AddOptions{ChunkSize: 16 << 10})

	after := checkUsage(t, s)
	if after.Bytes <= before.Bytes-700<<10 {
		t.Errorf("usage %d → %d bytes: the automatic GC removed more than the unpinned file", before.Bytes, after.Bytes)
	}
	if got := readStored(t, s, root); !bytes.Equal(got, data) {
		t.Errorf("file added past the quota reads back %d bytes that differ from the %d added", len(got), len(data))
	}
	if got := readStored(t, s, keptRoot); !bytes.Equal(got, kept) {
		t.Errorf("pinned file reads back wrong after the automatic GC")
	}
	var gone int
	for _, c := range junkCIDs {
		if ok, _ := s.Has(ctx, c); !ok {
			gone++
		}
	}
	if gone == 0 {
		t.Errorf("no block of the unpinned file was removed to make room")
	}
	// Down to 90 % of the quota, not to nothing: some of the unpinned file stays.
	if gone == len(junkCIDs) {
		t.Errorf("all %d blocks of the unpinned file removed, want the GC to stop at the low-water mark", gone)
	}
}

func TestQuotaPinnedFull(t *testing.T) {
	ctx := t.Context()
	const max = 1 << 20
	s := newTestStore(t, StoreConfig{MaxBytes: max, PackSize: 128 << 10})
	first := randomBytes(20, 700<<10)
	firstRoot := addBytes(t, s, first, AddOptions{ChunkSize: 16 << 10})
	before := checkUsage(t, s)

	_, err := s.AddReader(ctx, bytes.NewReader(randomBytes(21, 700<<10)), "second", AddOptions{ChunkSize: 16 << 10})
	if !errors.Is(err, ErrStoreFull) {
		t.Fatalf("AddReader past a quota full of pinned data: error %v, want ErrStoreFull", err)
	}
	for _, want := range []string{"storage.max", "enxame gc", "pin rm", formatBytes(max)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ErrStoreFull message %q does not mention %q", err, want)
		}
	}
	pins, err := s.Pins(ctx)
	if err != nil || len(pins) != 1 || !pins[0].Equals(firstRoot) {
		t.Errorf("Pins() after the failed add = %v, %v; want only the first file", pins, err)
	}
	if got := readStored(t, s, firstRoot); !bytes.Equal(got, first) {
		t.Errorf("pinned file reads back wrong after a failed add")
	}
	checkUsage(t, s)
	// The blocks the failed add stored are garbage: a GC takes the store
	// back to where it was.
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if u := checkUsage(t, s); u.Bytes != before.Bytes {
		t.Errorf("after GC the store holds %d bytes, want the %d of the pinned file", u.Bytes, before.Bytes)
	}
	// Unpinning makes room again.
	if err := s.Unpin(ctx, firstRoot); err != nil {
		t.Fatal(err)
	}
	addBytes(t, s, randomBytes(21, 700<<10), AddOptions{ChunkSize: 16 << 10})
	checkUsage(t, s)
}

func TestQuotaWriteLargerThanQuota(t *testing.T) {
	s := newTestStore(t, StoreConfig{MaxBytes: 100 << 10})
	b := mustRaw(t, randomBytes(30, 200<<10))
	if err := s.Put(t.Context(), b); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("Put of a 200 KiB block into a 100 KiB store: %v, want ErrStoreFull", err)
	}
	if ok, _ := s.Has(t.Context(), b.Cid()); ok {
		t.Errorf("block refused for the quota is stored")
	}
	checkUsage(t, s)
}

func TestQuotaHeldBlocksSurviveAutoGC(t *testing.T) {
	ctx := t.Context()
	const max = 1 << 20
	s := newTestStore(t, StoreConfig{MaxBytes: max, PackSize: 128 << 10})
	var held []blocks.Block
	for i := range 10 {
		held = append(held, mustRaw(t, randomBytes(uint64(100+i), 64<<10)))
	}
	h := s.NewHold()
	for _, b := range held {
		h.Add(b.Cid())
	}
	if err := s.PutMany(ctx, held); err != nil {
		t.Fatal(err)
	}
	// 640 KiB held, 600 KiB more: the held blocks cannot go.
	var more []blocks.Block
	for i := range 10 {
		more = append(more, mustRaw(t, randomBytes(uint64(200+i), 60<<10)))
	}
	if err := s.PutMany(ctx, more); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("PutMany past a quota full of held blocks: %v, want ErrStoreFull", err)
	}
	for _, b := range held {
		got, err := s.Get(ctx, b.Cid())
		if err != nil || !bytes.Equal(got.RawData(), b.RawData()) {
			t.Fatalf("held block %s after the automatic GC: %v", b.Cid(), err)
		}
	}
	for _, b := range more {
		if ok, _ := s.Has(ctx, b.Cid()); ok {
			t.Errorf("block of the refused batch %s is stored", b.Cid())
		}
	}
	checkUsage(t, s)
	h.Release()
	if err := s.PutMany(ctx, more); err != nil {
		t.Fatalf("PutMany once the hold is released: %v", err)
	}
	for _, b := range more {
		if ok, _ := s.Has(ctx, b.Cid()); !ok {
			t.Errorf("block %s of the batch stored after release is missing", b.Cid())
		}
	}
	checkUsage(t, s)
}

func TestQuotaCountAcrossReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	cfg := StoreConfig{Dir: dir, MaxBytes: 4 << 20, PackSize: 256 << 10}
	s, err := OpenStore(cfg, StoreDeps{})
	if err != nil {
		t.Fatal(err)
	}
	root := addBytes(t, s, randomBytes(40, 1<<20), AddOptions{ChunkSize: 16 << 10})
	addBytes(t, s, randomBytes(41, 1<<20), AddOptions{ChunkSize: 16 << 10, NoPin: true})
	bs := dagBlocks(t, ctx, s, root)
	if err := s.DeleteBlock(ctx, bs[len(bs)-1].Cid()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	want := checkUsage(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newTestStore(t, cfg)
	got := checkUsage(t, s2)
	if got.Bytes != want.Bytes || got.Blocks != want.Blocks {
		t.Errorf("after reopen Usage() = %d bytes in %d blocks, want %d in %d", got.Bytes, got.Blocks, want.Bytes, want.Blocks)
	}
	if want.Bytes == 0 {
		t.Errorf("test stored nothing")
	}
}

func TestQuotaPinnedBytes(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t, StoreConfig{})
	root := addBytes(t, s, randomBytes(50, 300<<10), AddOptions{ChunkSize: 16 << 10})
	addBytes(t, s, randomBytes(51, 200<<10), AddOptions{ChunkSize: 16 << 10, NoPin: true})
	var want int64
	bs := dagBlocks(t, ctx, s, root)
	for _, b := range bs {
		want += int64(len(b.RawData()))
	}
	got, n, err := s.PinnedBytes(ctx)
	if err != nil || got != want || n != len(bs) {
		t.Errorf("PinnedBytes() = %d, %d, %v; want %d bytes in %d blocks", got, n, err, want, len(bs))
	}
	if u := s.Usage(); u.Max != DefaultMaxBytes || u.Dir == "" {
		t.Errorf("Usage() = %+v, want the default quota and the store's dir", u)
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1 KiB"},
		{1536, "1.5 KiB"},
		{10 << 30, "10 GiB"},
		{1<<62 + 1<<61, "6 EiB"},
	}
	for _, tt := range tests {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestQuotaHammer runs writers that hold and store blocks (some shared, so
// they race to Put the same block), pin some of them, and check them, while
// a quota a few batches large keeps automatic GCs running, and manual GCs
// run too: no held or pinned block is ever lost, and the counts stay right.
func TestQuotaHammer(t *testing.T) {
	ctx := t.Context()
	workers, iters := 6, 40
	if testing.Short() {
		iters = 10
	}
	const blockSize = 8 << 10
	const batch = 8
	max := int64(workers * 3 * batch * blockSize)
	s := newTestStore(t, StoreConfig{MaxBytes: max, PackSize: 64 << 10})
	shared := make([]blocks.Block, 32)
	for i := range shared {
		shared[i] = mustRaw(t, randomBytes(uint64(1000+i), blockSize))
	}
	var pinMu sync.Mutex
	var pinned []blocks.Block
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.GC(ctx); err != nil {
				errs <- fmt.Errorf("GC: %w", err)
				return
			}
		}
	})
	var writers sync.WaitGroup
	for w := range workers {
		writers.Go(func() {
			for i := range iters {
				bs := make([]blocks.Block, 0, batch)
				for j := range batch - 2 {
					bs = append(bs, mustRaw(t, randomBytes(uint64(w<<20|i<<8|j), blockSize)))
				}
				bs = append(bs, shared[(w+i)%len(shared)], shared[(w*7+i)%len(shared)])
				h := s.NewHold()
				for _, b := range bs {
					h.Add(b.Cid())
				}
				if err := s.PutMany(ctx, bs); err != nil {
					errs <- fmt.Errorf("worker %d iteration %d: PutMany: %w", w, i, err)
					h.Release()
					return
				}
				for _, b := range bs {
					got, err := s.Get(ctx, b.Cid())
					if err != nil || !bytes.Equal(got.RawData(), b.RawData()) {
						errs <- fmt.Errorf("worker %d iteration %d: held block %s: %v", w, i, b.Cid(), err)
						h.Release()
						return
					}
				}
				if i%10 == 0 {
					// Pin one block of the batch while it is still held.
					if err := s.Pin(ctx, bs[0].Cid()); err != nil {
						errs <- fmt.Errorf("worker %d: Pin: %w", w, err)
						h.Release()
						return
					}
					pinMu.Lock()
					pinned = append(pinned, bs[0])
					pinMu.Unlock()
				}
				h.Release()
			}
		})
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, b := range pinned {
		if got, err := s.Get(ctx, b.Cid()); err != nil || !bytes.Equal(got.RawData(), b.RawData()) {
			t.Errorf("pinned block %s lost: %v", b.Cid(), err)
		}
	}
	checkUsage(t, s)
}

// TestQuotaAutoGCWithCancelledContext checks that a write whose context
// ends while it makes room fails with the context's error and stores
// nothing.
func TestQuotaAutoGCWithCancelledContext(t *testing.T) {
	s := newTestStore(t, StoreConfig{MaxBytes: 100 << 10})
	if err := s.Put(t.Context(), mustRaw(t, randomBytes(60, 80<<10))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b := mustRaw(t, randomBytes(61, 80<<10))
	if err := s.Put(ctx, b); err == nil {
		t.Fatalf("Put with a cancelled context past the quota: nil error")
	}
	if ok, _ := s.Has(t.Context(), b.Cid()); ok {
		t.Errorf("block stored by a cancelled Put")
	}
	checkUsage(t, s)
}

// TestMakeRoomReserves pins the cause of TestQuotaHammer's spurious "store
// full": the room an automatic GC made for a write was free for any other
// writer to take before the write retried, so after three GCs a write
// failed although most of the store could be collected. makeRoom now
// reserves the room for its caller: another writer that wants it has to
// collect for itself.
func TestMakeRoomReserves(t *testing.T) {
	ctx := t.Context()
	const size = 8 << 10
	s := newTestStore(t, StoreConfig{MaxBytes: 20 * size, PackSize: 64 << 10})
	var fill []blocks.Block
	for i := range 20 {
		fill = append(fill, mustRaw(t, randomBytes(uint64(i), size)))
	}
	if err := s.PutMany(ctx, fill); err != nil {
		t.Fatalf("fill the store: %v", err)
	}
	mine := []blocks.Block{mustRaw(t, randomBytes(100, size)), mustRaw(t, randomBytes(101, size))}
	done, err := s.enter()
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	own, err := s.makeRoom(ctx, 2*size, 0)
	if err != nil || own != 2*size {
		t.Fatalf("makeRoom(%d) = %d, %v; want the room reserved", 2*size, own, err)
	}
	// Another writer takes all the room it sees free, without waiting.
	var other []blocks.Block
	for i := range (s.cfg.MaxBytes - s.used.Load()) / size {
		other = append(other, mustRaw(t, randomBytes(uint64(200+i), size)))
	}
	if err := s.PutMany(ctx, other); err != nil {
		t.Fatalf("the other writer's PutMany: %v", err)
	}
	if got := s.reserved.Load(); got != own {
		t.Errorf("reserved after the other write = %d, want only ours (%d)", got, own)
	}
	s.wmu.Lock()
	left, err := s.putLocked(ctx, mine, own)
	if left == 0 {
		s.reserved.Add(-own)
	}
	s.wmu.Unlock()
	if err != nil || left != 0 {
		t.Fatalf("the write the GC made room for: %d bytes left over, %v; want it stored", left, err)
	}
	if u := s.Usage(); u.Bytes > u.Max || s.reserved.Load() != 0 {
		t.Errorf("after the writes: %d of %d bytes used, %d reserved", u.Bytes, u.Max, s.reserved.Load())
	}
}
