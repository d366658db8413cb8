package share

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

var _ blockstore.Blockstore = (*Store)(nil)

func rawBlock(t testing.TB, data []byte) blocks.Block {
	t.Helper()
	c, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.SHA2_256, MhLength: -1}.Sum(data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStoreBlockstore(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t, StoreConfig{})
	b1, b2 := rawBlock(t, []byte("one")), rawBlock(t, randomBytes(1, 300000))
	if err := s.PutMany(ctx, []blocks.Block{b1, b2, b1}); err != nil {
		t.Fatalf("PutMany: %v", err)
	}
	for _, b := range []blocks.Block{b1, b2} {
		if ok, err := s.Has(ctx, b.Cid()); err != nil || !ok {
			t.Errorf("Has(%s) = %v, %v; want true", b.Cid(), ok, err)
		}
		got, err := s.Get(ctx, b.Cid())
		if err != nil || !bytes.Equal(got.RawData(), b.RawData()) {
			t.Errorf("Get(%s) = %v; want the bytes put", b.Cid(), err)
		}
		if n, err := s.GetSize(ctx, b.Cid()); err != nil || n != len(b.RawData()) {
			t.Errorf("GetSize(%s) = %d, %v; want %d", b.Cid(), n, err, len(b.RawData()))
		}
	}
	// A CID with another codec but the same multihash finds the block.
	pb := cid.NewCidV1(cid.DagProtobuf, b1.Cid().Hash())
	if ok, _ := s.Has(ctx, pb); !ok {
		t.Errorf("Has(%s) = false, want true (same multihash)", pb)
	}
	missing := rawBlock(t, []byte("missing")).Cid()
	if _, err := s.Get(ctx, missing); !format.IsNotFound(err) {
		t.Errorf("Get(missing) error = %v, want format.ErrNotFound", err)
	}
	if _, err := s.GetSize(ctx, missing); !format.IsNotFound(err) {
		t.Errorf("GetSize(missing) error = %v, want format.ErrNotFound", err)
	}
	ch, err := s.AllKeysChan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range ch {
		n++
	}
	if n != 2 {
		t.Errorf("AllKeysChan sent %d keys, want 2", n)
	}
	if err := s.DeleteBlock(ctx, b1.Cid()); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Has(ctx, b1.Cid()); ok {
		t.Errorf("Has(%s) after DeleteBlock = true", b1.Cid())
	}
	// Identity CIDs are answered without storage.
	id, _ := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.IDENTITY, MhLength: -1}.Sum([]byte("inline"))
	if b, err := s.Get(ctx, id); err != nil || string(b.RawData()) != "inline" {
		t.Errorf("Get(identity) = %v, %v; want %q", b, err, "inline")
	}
}

func TestStorePersists(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := OpenStore(StoreConfig{Dir: dir, PackSize: 1 << 20}, StoreDeps{})
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(2, 3<<20)
	res, err := s.AddReader(ctx, bytes.NewReader(data), "f", AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, res.Root); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close error = %v, want ErrClosed", err)
	}
	s = newTestStore(t, StoreConfig{Dir: dir, PackSize: 1 << 20})
	if got := catAll(t, ctx, NewReader(ReaderConfig{}, s), res.Root); !bytes.Equal(got, data) {
		t.Errorf("read after reopen: %d bytes, want %d", len(got), len(data))
	}
	if ok, err := s.IsPinned(ctx, res.Root); err != nil || !ok {
		t.Errorf("IsPinned after reopen = %v, %v; want true", ok, err)
	}
	st, err := s.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Packs < 3 {
		t.Errorf("Stat().Packs = %d with PackSize 1 MiB and 3 MiB added, want >= 3", st.Packs)
	}
}

// TestAddTwiceStoresNothingNew: the second Add of the same bytes writes no
// byte to the packs.
func TestAddTwiceStoresNothingNew(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t, StoreConfig{})
	data := randomBytes(3, 2<<20+1)
	r1 := addBytes(t, s, data, AddOptions{})
	st1, err := s.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2 := addBytes(t, s, data, AddOptions{})
	st2, err := s.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r1.Equals(r2) {
		t.Errorf("roots differ: %s, %s", r1, r2)
	}
	if st1 != st2 {
		t.Errorf("Stat after the second Add = %+v, want unchanged %+v", st2, st1)
	}
}

// TestStoreTornTail: garbage at the end of a pack (a write torn by a
// crash) is never read, and later writes work.
func TestStoreTornTail(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := OpenStore(StoreConfig{Dir: dir}, StoreDeps{})
	if err != nil {
		t.Fatal(err)
	}
	b1 := rawBlock(t, []byte("before the crash"))
	if err := s.Put(ctx, b1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	packs, _ := filepath.Glob(filepath.Join(dir, "packs", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("packs = %v, want 1", packs)
	}
	f, err := os.OpenFile(packs[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("\x00\x04\x00\x00torn record without an index entry"))
	f.Close()
	s = newTestStore(t, StoreConfig{Dir: dir})
	b2 := rawBlock(t, []byte("after the crash"))
	if err := s.Put(ctx, b2); err != nil {
		t.Fatal(err)
	}
	for _, b := range []blocks.Block{b1, b2} {
		got, err := s.Get(ctx, b.Cid())
		if err != nil || !bytes.Equal(got.RawData(), b.RawData()) {
			t.Errorf("Get(%s) = %v, want the stored bytes", b.Cid(), err)
		}
	}
}

// TestStoreCorruption: flipped bytes on disk never come back from Get;
// Verify finds and removes them.
func TestStoreCorruption(t *testing.T) {
	tests := []struct {
		name   string
		cfg    StoreConfig
		reason string
	}{
		{name: "crc", reason: "crc"},
		{name: "verify on read", cfg: StoreConfig{VerifyOnRead: true}, reason: "crc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			tt.cfg.Dir = t.TempDir()
			s := newTestStore(t, tt.cfg)
			b := rawBlock(t, randomBytes(4, 1000))
			good := rawBlock(t, randomBytes(5, 1000))
			if err := s.PutMany(ctx, []blocks.Block{b, good}); err != nil {
				t.Fatal(err)
			}
			e, _, _ := s.lookup(ctx, b.Cid().Hash())
			packs, _ := filepath.Glob(filepath.Join(tt.cfg.Dir, "packs", "*.pack"))
			f, err := os.OpenFile(packs[0], os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte{b.RawData()[10] ^ 1}, int64(e.Offset)+10)
			f.Close()
			_, err = s.Get(ctx, b.Cid())
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Reason != tt.reason {
				t.Fatalf("Get(corrupt) error = %v, want *CorruptError(%s)", err, tt.reason)
			}
			res, err := s.Verify(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Corrupt) != 1 || res.Corrupt[0].Hash().String() != b.Cid().Hash().String() || !res.Removed {
				t.Errorf("Verify = %+v, want the one corrupt block removed", res)
			}
			if ok, _ := s.Has(ctx, b.Cid()); ok {
				t.Errorf("Has(corrupt) after Verify(remove) = true")
			}
			if _, err := s.Get(ctx, good.Cid()); err != nil {
				t.Errorf("Get(good) = %v", err)
			}
		})
	}
}

// TestStoreVerifyOnReadHash: with VerifyOnRead, a block stored under the
// wrong CID (bytes and CRC consistent) is caught by the hash check.
func TestStoreVerifyOnReadHash(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t, StoreConfig{VerifyOnRead: true})
	wrong, err := blocks.NewBlockWithCid([]byte("not these bytes"), rawBlock(t, []byte("other")).Cid())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, wrong); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if _, err := s.Get(ctx, wrong.Cid()); !errors.As(err, &ce) || ce.Reason != "hash" {
		t.Errorf("Get(wrong bytes) error = %v, want *CorruptError(hash)", err)
	}
}

// TestStoreHammer: P goroutines put, get and delete overlapping blocks.
func TestStoreHammer(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t, StoreConfig{PackSize: 64 << 10})
	P, N := 8, 200
	if testing.Short() {
		N = 50
	}
	var wg sync.WaitGroup
	for p := range P {
		wg.Go(func() {
			for i := range N {
				b := rawBlock(t, []byte(fmt.Sprintf("block %d", (p*N+i)%(N*2))))
				if err := s.Put(ctx, b); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				got, err := s.Get(ctx, b.Cid())
				if err != nil && !format.IsNotFound(err) {
					t.Errorf("Get: %v", err)
					return
				}
				if err == nil && !bytes.Equal(got.RawData(), b.RawData()) {
					t.Errorf("Get(%s) returned other bytes", b.Cid())
				}
				if i%7 == 0 {
					s.DeleteBlock(ctx, b.Cid())
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if _, err := s.GC(ctx); err != nil {
				t.Errorf("GC: %v", err)
			}
		}
	})
	wg.Wait()
}

func TestStoreReadInto(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t, StoreConfig{VerifyOnRead: true})
	b := rawBlock(t, randomBytes(6, 5000))
	if err := s.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	id, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.IDENTITY, MhLength: -1}.Sum([]byte("inline"))
	if err != nil {
		t.Fatal(err)
	}
	missing := rawBlock(t, []byte("never stored")).Cid()
	tests := []struct {
		name    string
		c       cid.Cid
		bufLen  int
		wantN   int
		want    []byte
		wantErr func(error) bool
	}{
		{name: "larger buffer", c: b.Cid(), bufLen: 6000, wantN: 5000, want: b.RawData()},
		{name: "exact buffer", c: b.Cid(), bufLen: 5000, wantN: 5000, want: b.RawData()},
		{name: "short buffer", c: b.Cid(), bufLen: 4999, wantN: 5000, wantErr: func(err error) bool { return errors.Is(err, io.ErrShortBuffer) }},
		{name: "missing", c: missing, bufLen: 10, wantErr: format.IsNotFound},
		{name: "identity", c: id, bufLen: 10, wantN: 6, want: []byte("inline")},
		{name: "identity short", c: id, bufLen: 5, wantN: 6, wantErr: func(err error) bool { return errors.Is(err, io.ErrShortBuffer) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := make([]byte, tt.bufLen)
			n, err := s.ReadInto(ctx, tt.c, buf)
			if tt.wantErr != nil {
				if !tt.wantErr(err) || n != tt.wantN {
					t.Fatalf("ReadInto(%s, %d bytes) = %d, %v; want %d and the expected error", tt.c, tt.bufLen, n, err, tt.wantN)
				}
				return
			}
			if err != nil || n != tt.wantN || !bytes.Equal(buf[:n], tt.want) {
				t.Fatalf("ReadInto(%s, %d bytes) = %d, %v; want %d bytes of the block", tt.c, tt.bufLen, n, err, tt.wantN)
			}
		})
	}
}

// TestStoreReadIntoCorrupt: flipped bytes on disk give a *CorruptError from
// ReadInto, as from Get.
func TestStoreReadIntoCorrupt(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := newTestStore(t, StoreConfig{Dir: dir})
	b := rawBlock(t, randomBytes(7, 1000))
	if err := s.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	e, _, _ := s.lookup(ctx, b.Cid().Hash())
	packs, _ := filepath.Glob(filepath.Join(dir, "packs", "*.pack"))
	f, err := os.OpenFile(packs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{b.RawData()[3] ^ 1}, int64(e.Offset)+3)
	f.Close()
	var ce *CorruptError
	if _, err := s.ReadInto(ctx, b.Cid(), make([]byte, 1000)); !errors.As(err, &ce) || ce.Reason != "crc" {
		t.Errorf("ReadInto(corrupt) error = %v, want *CorruptError(crc)", err)
	}
}

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestStoreAdded: the channel closes when new blocks are committed and at
// Close, not when a PutMany stores nothing new.
func TestStoreAdded(t *testing.T) {
	ctx := t.Context()
	s, err := OpenStore(StoreConfig{Dir: t.TempDir()}, StoreDeps{})
	if err != nil {
		t.Fatal(err)
	}
	b := rawBlock(t, []byte("added"))
	ch := s.Added()
	if closed(ch) {
		t.Fatal("Added() closed before any put")
	}
	if err := s.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	if !closed(ch) {
		t.Error("Added() not closed after a new block was put")
	}
	ch = s.Added()
	if err := s.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	if closed(ch) {
		t.Error("Added() closed after a put of a block already stored")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !closed(ch) {
		t.Error("Added() not closed after Close")
	}
}

// TestStoreAddedHammer: P goroutines each wait (Added, then Has) for blocks
// that another goroutine puts one at a time; every waiter sees each block.
func TestStoreAddedHammer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s := newTestStore(t, StoreConfig{})
	P, N := 8, 300
	if testing.Short() {
		N = 50
	}
	bs := make([]blocks.Block, N)
	for i := range bs {
		bs[i] = rawBlock(t, []byte(fmt.Sprintf("hammer %d", i)))
	}
	var wg sync.WaitGroup
	for p := range P {
		wg.Go(func() {
			for i := p % 3; i < N; i += 1 + p%3 {
				for {
					added := s.Added()
					ok, err := s.Has(ctx, bs[i].Cid())
					if err != nil {
						t.Errorf("Has: %v", err)
						return
					}
					if ok {
						break
					}
					select {
					case <-added:
					case <-ctx.Done():
						t.Errorf("waiter %d: block %d never seen: %v", p, i, ctx.Err())
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		for _, b := range bs {
			if err := s.Put(ctx, b); err != nil {
				t.Errorf("Put: %v", err)
				return
			}
		}
	})
	wg.Wait()
}

func FuzzDecodeIndexEntry(f *testing.F) {
	f.Add(indexEntry{Pack: 1, Offset: 2, Length: 3, CRC: 4}.encode())
	f.Add(indexEntry{Pack: 1 << 31, Offset: 1 << 40, Length: maxBlockSize, CRC: 0xffffffff}.encode())
	f.Add([]byte{})
	f.Add(make([]byte, indexEntrySize+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeIndexEntry(b)
		if err != nil {
			return
		}
		if e.Length > maxBlockSize {
			t.Fatalf("decoded Length %d over the limit", e.Length)
		}
		e2, err := decodeIndexEntry(e.encode())
		if err != nil || e2 != e {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", e, e2, err)
		}
	})
}
