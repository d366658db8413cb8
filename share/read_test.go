package share

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
)

func TestOpenSeek(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t, StoreConfig{})
	data := randomBytes(21, 1<<20+333)
	root := addBytes(t, s, data, AddOptions{ChunkSize: 10000})
	tests := []struct {
		name        string
		off, length int64
	}{
		{name: "start", off: 0, length: 10},
		{name: "across chunks", off: 9995, length: 20},
		{name: "middle", off: 500000, length: 100000},
		{name: "tail", off: int64(len(data)) - 5, length: 5},
		{name: "past end", off: int64(len(data)) - 5, length: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := s.Open(ctx, root)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Size() != uint64(len(data)) {
				t.Errorf("Size() = %d, want %d", f.Size(), len(data))
			}
			if _, err := f.Seek(tt.off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(io.LimitReader(f, tt.length))
			if err != nil {
				t.Fatal(err)
			}
			want := data[tt.off:min(tt.off+tt.length, int64(len(data)))]
			if !bytes.Equal(got, want) {
				t.Errorf("read %d bytes at %d: got %d bytes, not the file's", tt.length, tt.off, len(got))
			}
		})
	}
}

func TestListAndWriteTo(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	writeFile(t, tree, "a.txt", []byte("alpha"))
	writeFile(t, tree, "big", randomBytes(22, 600000))
	writeFile(t, tree, "sub/deep/x", []byte("x"))
	os.MkdirAll(filepath.Join(tree, "empty"), 0o755)
	os.Symlink("a.txt", filepath.Join(tree, "link"))
	s := newTestStore(t, StoreConfig{})
	var seen []string
	res, err := s.Add(ctx, []string{tree}, AddOptions{OnAdded: func(e AddedEntry) { seen = append(seen, e.Path) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 8 || seen[len(seen)-1] != tree {
		t.Errorf("OnAdded paths = %q, want 8 entries ending with the root %q", seen, tree)
	}
	got, err := s.List(ctx, res.Root)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Name: "a.txt", Size: 5, Type: TypeFile},
		{Name: "big", Size: 600000, Type: TypeFile},
		{Name: "empty", Type: TypeDir},
		{Name: "link", Type: TypeSymlink},
		{Name: "sub", Type: TypeDir},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Entry{}, "CID")); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
	if _, err := s.List(ctx, got[0].CID); err == nil {
		t.Errorf("List(file) = nil error, want one")
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := s.WriteTo(ctx, res.Root, out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.txt", "big", "sub/deep/x"} {
		w, _ := os.ReadFile(filepath.Join(tree, name))
		g, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || !bytes.Equal(g, w) {
			t.Errorf("WriteTo: %s = %d bytes, %v; want %d", name, len(g), err, len(w))
		}
	}
	if l, err := os.Readlink(filepath.Join(out, "link")); err != nil || l != "a.txt" {
		t.Errorf("WriteTo: link -> %q, %v; want a.txt", l, err)
	}
	if fi, err := os.Stat(filepath.Join(out, "empty")); err != nil || !fi.IsDir() {
		t.Errorf("WriteTo: empty dir: %v", err)
	}
	if err := s.WriteTo(ctx, res.Root, out); !errors.Is(err, os.ErrExist) {
		t.Errorf("WriteTo(existing dir) error = %v, want os.ErrExist", err)
	}
}

// failingGetter fails with not-found after n blocks.
type failingGetter struct {
	bg BlockGetter
	n  int
}

func (g *failingGetter) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if g.n == 0 {
		return nil, format.ErrNotFound{Cid: c}
	}
	g.n--
	return g.bg.Get(ctx, c)
}

// TestWriteToNeverLeavesPartial: a fetch that fails midway leaves nothing
// at the destination and no temporary file behind.
func TestWriteToNeverLeavesPartial(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t, StoreConfig{})
	dir := t.TempDir()
	writeFile(t, dir, "t/a", randomBytes(23, 50000))
	writeFile(t, dir, "t/b", randomBytes(24, 50000))
	fileRoot := addBytes(t, s, randomBytes(25, 100000), AddOptions{ChunkSize: 1000})
	res, err := s.Add(ctx, []string{filepath.Join(dir, "t")}, AddOptions{ChunkSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, root := range []cid.Cid{fileRoot, res.Root} {
		out := t.TempDir()
		dst := filepath.Join(out, "dst")
		r := NewReader(ReaderConfig{NoSync: true}, &failingGetter{bg: s, n: 30})
		err := r.WriteTo(ctx, root, dst)
		if !format.IsNotFound(err) {
			t.Errorf("WriteTo(%s) with a failing getter: error = %v, want format.ErrNotFound", root, err)
		}
		ents, _ := os.ReadDir(out)
		if len(ents) != 0 {
			t.Errorf("WriteTo(%s) failed but left %v in the destination directory", root, ents)
		}
	}
}
