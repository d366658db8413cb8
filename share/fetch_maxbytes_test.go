package share

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ipfs/boxo/blockstore"
	cid "github.com/ipfs/go-cid"
)

// storedBytes is the total size of the blocks in bs.
func storedBytes(t testing.TB, bs blockstore.Blockstore) int64 {
	t.Helper()
	ch, err := bs.AllKeysChan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for c := range ch {
		sz, err := bs.GetSize(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		n += int64(sz)
	}
	return n
}

// fanOut is a file of levels levels that each link the level below 1000
// times, over one leaf of 1000 bytes: a few blocks that expand to
// 1000^(levels+1) bytes. Each link declares size (0: the honest size).
func fanOut(h hostile, levels int, size uint64) cid.Cid {
	level := h.file(strings.Repeat("z", 1000))
	honest := uint64(1000)
	for range levels {
		sizes := make([]uint64, 1000)
		for i := range sizes {
			sizes[i] = honest
			if size > 0 {
				sizes[i] = size
			}
		}
		level = h.bigFile(level, sizes...)
		honest *= 1000
	}
	return level
}

// TestFetchMaxBytesRefusesDAGBomb: a DAG of a few blocks whose root
// declares far more than MaxBytes is refused as soon as its root arrives:
// nothing but the root is stored (issue 11, finding 6).
func TestFetchMaxBytesRefusesDAGBomb(t *testing.T) {
	exVerifyNoLeaks(t)
	src := exStartPeer(t, exTestConfig(), nil, nil)
	h := hostile{t, src.bs}
	leaf := h.file(strings.Repeat("z", 1000))
	tests := []struct {
		name string
		root cid.Cid
	}{
		{"declared petabyte", h.bigFile(leaf, petabyte/2, petabyte/2)},
		{"fan-out of repeated links", fanOut(h, 5, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst, _ := exFetcher(t, exTestConfig(), src)
			err := dst.ex.Fetch(t.Context(), tt.root, FetchOptions{MaxBytes: 10 << 20})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Fetch(%s, MaxBytes 10 MiB) = %v, want ErrTooLarge", tt.name, err)
			}
			if !strings.Contains(err.Error(), "10.0 MiB") {
				t.Errorf("Fetch(%s) = %q, want it to name the cap", tt.name, err)
			}
			if n := exCountBlocks(t, dst.bs); n > 1 {
				t.Errorf("Fetch(%s) refused but stored %d blocks, want the root only", tt.name, n)
			}
			// Stored already: refused again without a fetch.
			err = dst.ex.Fetch(t.Context(), tt.root, FetchOptions{MaxBytes: 10 << 20})
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("Fetch(%s) again = %v, want ErrTooLarge", tt.name, err)
			}
		})
	}
}

// TestFetchMaxBytesCountsReceived: a root that declares little but links
// to many distinct blocks is stopped once the verified bytes received pass
// MaxBytes, and no more than MaxBytes is stored.
func TestFetchMaxBytesCountsReceived(t *testing.T) {
	exVerifyNoLeaks(t)
	src := exStartPeer(t, exTestConfig(), nil, nil)
	h := hostile{t, src.bs}
	var root cid.Cid
	{
		leaves := make([]cid.Cid, 200)
		for i := range leaves {
			leaves[i] = h.file(fmt.Sprintf("%01000d", i))
		}
		root = h.bigFileOf(leaves, 1)
	}
	const maxBytes = 50_000
	dst, _ := exFetcher(t, exTestConfig(), src)
	err := dst.ex.Fetch(t.Context(), root, FetchOptions{MaxBytes: maxBytes})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Fetch(root declaring 200 bytes of 200 KB, MaxBytes %d) = %v, want ErrTooLarge", maxBytes, err)
	}
	if got := storedBytes(t, dst.bs); got > maxBytes {
		t.Errorf("Fetch stored %d bytes, more than MaxBytes %d", got, maxBytes)
	}
}

// TestFetchMaxBytesRealFile: a real file over MaxBytes is refused, one
// under it fetched whole.
func TestFetchMaxBytesRealFile(t *testing.T) {
	exVerifyNoLeaks(t)
	data := exRandom(9, 1<<20)
	src := exStartPeer(t, exTestConfig(), nil, nil)
	root := exImport(t, src.bs, data, 64<<10)
	tests := []struct {
		name     string
		maxBytes int64
		wantErr  bool
	}{
		{"under the file", 512 << 10, true},
		{"above the file", 2 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst, _ := exFetcher(t, exTestConfig(), src)
			err := dst.ex.Fetch(t.Context(), root, FetchOptions{MaxBytes: tt.maxBytes})
			if tt.wantErr {
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("Fetch(1 MiB, MaxBytes %d) = %v, want ErrTooLarge", tt.maxBytes, err)
				}
				if got := storedBytes(t, dst.bs); got > tt.maxBytes {
					t.Errorf("Fetch stored %d bytes, more than MaxBytes %d", got, tt.maxBytes)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch(1 MiB, MaxBytes %d) = %v", tt.maxBytes, err)
			}
			if got := exReadFile(t, dst.bs, root); string(got) != string(data) {
				t.Errorf("Fetch(MaxBytes %d) fetched %d bytes that differ from the file", tt.maxBytes, len(got))
			}
		})
	}
}
