package share

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	cid "github.com/ipfs/go-cid"
)

// tmpLeft lists the temporary files WriteStream may have left in dir.
func tmpLeft(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".*.enxame-tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestWriteStream: a file whose blocks are stored while it is written
// comes out byte-exact at dst, through O_DIRECT (sync) and the page cache
// (NoSync), for sizes around the write alignment; nothing temporary stays.
func TestWriteStream(t *testing.T) {
	const wsize = 4 << 20 // a directWriter's write size
	sizes := []int{0, 1, 4095, 4096, 4097, wsize - 1, wsize + 4096 + 3, 3*wsize + 5}
	for _, noSync := range []bool{false, true} {
		for _, size := range sizes {
			t.Run(fmt.Sprintf("nosync=%v/%d", noSync, size), func(t *testing.T) {
				ctx := t.Context()
				full := newTestStore(t, StoreConfig{})
				data := randomBytes(uint64(size)+1, size)
				root := importLayout(t, full, data, streamLayout{chunk: 65536 + 7, links: 8})
				order := dagOrder(t, full, root)
				s := newTestStore(t, StoreConfig{})
				var wg sync.WaitGroup
				defer wg.Wait()
				storeInOrder(ctx, t, &wg, full, s, order)
				dir := t.TempDir()
				dst := filepath.Join(dir, "out")
				if err := WriteStream(ctx, storeSource{Store: s}, root, dst, WriteFileOptions{NoSync: noSync}); err != nil {
					t.Fatalf("WriteStream: %v", err)
				}
				got, err := os.ReadFile(dst)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%s holds %d bytes (%v), want the file's %d", dst, len(got), err, size)
				}
				if left := tmpLeft(t, dir); len(left) > 0 {
					t.Errorf("temporary files left: %v", left)
				}
			})
		}
	}
}

// TestWriteStreamFails: when the source gives up half way (a failed
// fetch), WriteStream returns its error and leaves neither dst nor a
// temporary file; a directory is IsNotFile and creates nothing; an existing
// directory at dst is refused.
func TestWriteStreamFails(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t, StoreConfig{})
	data := randomBytes(3, 300000)
	root := importLayout(t, s, data, streamLayout{chunk: 1000, links: 8})
	order := dagOrder(t, s, root)
	for _, c := range order[len(order)/2:] {
		if c.Prefix().Codec == cid.Raw {
			if err := s.DeleteBlock(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	errFetch := errors.New("fetch failed")
	dir := t.TempDir()
	dst := filepath.Join(dir, "out")
	err := WriteStream(ctx, storeSource{Store: s, fail: errFetch}, root, dst, WriteFileOptions{})
	if !errors.Is(err, errFetch) {
		t.Errorf("WriteStream with a failing source = %v, want %v", err, errFetch)
	}
	if _, serr := os.Lstat(dst); !os.IsNotExist(serr) {
		t.Errorf("a failed WriteStream left %s (%v)", dst, serr)
	}
	if left := tmpLeft(t, dir); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	dirRoot, err := s.Add(ctx, []string{t.TempDir()}, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteStream(ctx, storeSource{Store: s}, dirRoot.Root, dst, WriteFileOptions{}); !IsNotFile(err) {
		t.Errorf("WriteStream(directory) = %v, want IsNotFile", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("WriteStream(directory) created %v", ents)
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteStream(ctx, storeSource{Store: s}, root, dst, WriteFileOptions{}); !errors.Is(err, os.ErrExist) {
		t.Errorf("WriteStream onto a directory = %v, want %v", err, os.ErrExist)
	}
}

// TestStoreWriteToStream: Store.WriteTo of a local file goes through
// WriteStream and of a local file with a missing block fails cleanly.
func TestStoreWriteToStream(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t, StoreConfig{})
	data := randomBytes(5, 1<<20+3)
	root := importLayout(t, s, data, streamLayout{chunk: DefaultChunkSize, links: maxLinks})
	dir := t.TempDir()
	dst := filepath.Join(dir, "f")
	if err := s.WriteTo(ctx, root, dst); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("WriteTo wrote %d bytes (%v), want %d", len(got), err, len(data))
	}
	order := dagOrder(t, s, root)
	if err := s.DeleteBlock(ctx, order[len(order)-1]); err != nil {
		t.Fatal(err)
	}
	dst2 := filepath.Join(dir, "g")
	if err := s.WriteTo(ctx, root, dst2); err == nil {
		t.Fatal("WriteTo with a missing block succeeded")
	}
	if _, err := os.Lstat(dst2); !os.IsNotExist(err) {
		t.Errorf("a failed WriteTo left %s", dst2)
	}
	if left := tmpLeft(t, dir); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
