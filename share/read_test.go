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

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ipfs/boxo/blockservice"
	chunker "github.com/ipfs/boxo/chunker"
	offline "github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/boxo/ipld/unixfs/importer/trickle"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
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

// storeSource is a StreamSource over a Store: Wait waits until the block is
// stored, or returns fail at once when fail is set.
type storeSource struct {
	*Store
	fail error
}

func (s storeSource) Wait(ctx context.Context, c cid.Cid) error {
	if s.fail != nil {
		return s.fail
	}
	for {
		added := s.Added()
		if ok, err := s.Has(ctx, c); err != nil || ok {
			return err
		}
		select {
		case <-added:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// streamLayout is a DAG shape to import with boxo's own importers.
type streamLayout struct {
	name         string
	chunk, links int
	trickle      bool
	noRaw, cidV0 bool
}

// importLayout imports data into s with boxo's balanced or trickle layout.
func importLayout(t testing.TB, s *Store, data []byte, l streamLayout) cid.Cid {
	t.Helper()
	dserv := merkledag.NewDAGService(blockservice.New(s, offline.Exchange(s)))
	_, node := cidBuilders(l.cidV0)
	p := helpers.DagBuilderParams{Maxlinks: l.links, RawLeaves: !l.noRaw, CidBuilder: node, Dagserv: dserv}
	db, err := p.New(chunker.NewSizeSplitter(bytes.NewReader(data), int64(l.chunk)))
	if err != nil {
		t.Fatal(err)
	}
	layout := balanced.Layout
	if l.trickle {
		layout = trickle.Layout
	}
	nd, err := layout(db)
	if err != nil {
		t.Fatal(err)
	}
	return nd.Cid()
}

// dagOrder returns every block of the DAG at root, parents before children,
// in file order.
func dagOrder(t testing.TB, s *Store, root cid.Cid) []cid.Cid {
	t.Helper()
	out := []cid.Cid{root}
	b, err := s.Get(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	nd, err := decodeNode(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range nd.Links() {
		out = append(out, dagOrder(t, s, l.Cid)...)
	}
	return out
}

func openStream(t testing.TB, src StreamSource, root cid.Cid) *Stream {
	t.Helper()
	st, err := OpenStream(t.Context(), src, root)
	if err != nil {
		t.Fatalf("OpenStream(%s): %v", root, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// oddReader hides a Stream's WriteTo and reads n bytes at a time.
type oddReader struct {
	r io.Reader
	n int
}

func (o oddReader) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), o.n)]) }

// TestStreamMatchesDagReader: for DAGs of boxo's balanced and trickle
// layouts, with raw and dag-pb leaves, a Stream returns the bytes of
// boxo's DagReader at every offset, through Read and WriteTo.
func TestStreamMatchesDagReader(t *testing.T) {
	layouts := []streamLayout{
		{name: "balanced raw", chunk: 1000, links: 4},
		{name: "balanced pb leaves v0", chunk: 1000, links: 4, noRaw: true, cidV0: true},
		{name: "trickle raw", chunk: 1000, links: 4, trickle: true},
		{name: "trickle pb leaves", chunk: 777, links: 3, trickle: true, noRaw: true},
		{name: "default", chunk: DefaultChunkSize, links: maxLinks},
	}
	for _, l := range layouts {
		sizes := []int{0, 1, l.chunk - 1, l.chunk, l.chunk + 1, 37*l.chunk + 5}
		if l.chunk < 10000 {
			sizes = append(sizes, 100003)
		}
		for _, size := range sizes {
			t.Run(fmt.Sprintf("%s/%d", l.name, size), func(t *testing.T) {
				ctx := t.Context()
				s := newTestStore(t, StoreConfig{})
				data := randomBytes(uint64(size), size)
				root := importLayout(t, s, data, l)
				if got := catAll(t, ctx, NewReader(ReaderConfig{}, s), root); !bytes.Equal(got, data) {
					t.Fatalf("DagReader gives %d bytes, not the file's %d", len(got), size)
				}
				src := storeSource{Store: s}
				st := openStream(t, src, root)
				if st.Size() != uint64(size) {
					t.Errorf("Size() = %d, want %d", st.Size(), size)
				}
				var buf bytes.Buffer
				if n, err := st.WriteTo(&buf); err != nil || n != int64(size) || !bytes.Equal(buf.Bytes(), data) {
					t.Fatalf("WriteTo = %d, %v; want the file's %d bytes", n, err, size)
				}
				got, err := io.ReadAll(oddReader{openStream(t, src, root), 333})
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("Read by 333 = %d bytes, %v; want the file's %d", len(got), err, size)
				}
				offs := []int{0, 1, size / 3, size / 2, size - 1, size, size + 10}
				for _, off := range offs {
					if off < 0 {
						continue
					}
					want := data[min(off, size):]
					if pos, err := st.Seek(int64(off), io.SeekStart); err != nil || pos != int64(off) {
						t.Fatalf("Seek(%d) = %d, %v", off, pos, err)
					}
					got, err := io.ReadAll(io.LimitReader(oddReader{st, 700}, 2500))
					if err != nil || !bytes.Equal(got, want[:min(2500, len(want))]) {
						t.Fatalf("Seek(%d), Read 2500: %d bytes, %v; not the file's", off, len(got), err)
					}
					if _, err := st.Seek(int64(off), io.SeekStart); err != nil {
						t.Fatal(err)
					}
					buf.Reset()
					if _, err := st.WriteTo(&buf); err != nil || !bytes.Equal(buf.Bytes(), want) {
						t.Fatalf("Seek(%d), WriteTo: %d bytes, %v; want %d of the file's", off, buf.Len(), err, len(want))
					}
				}
				// Relative seeks, and WriteTo after a partial Read.
				if pos, err := st.Seek(-int64(min(size, 10)), io.SeekEnd); err != nil || pos != int64(size-min(size, 10)) {
					t.Fatalf("Seek(-10, end) = %d, %v", pos, err)
				}
				if pos, err := st.Seek(-int64(size-min(size, 10))/2, io.SeekCurrent); err != nil {
					t.Fatalf("Seek(current) = %d, %v", pos, err)
				}
				pos, _ := st.Seek(0, io.SeekCurrent)
				head := make([]byte, min(int(int64(size)-pos), 1500))
				if _, err := io.ReadFull(st, head); err != nil {
					t.Fatal(err)
				}
				buf.Reset()
				if _, err := st.WriteTo(&buf); err != nil || !bytes.Equal(append(head, buf.Bytes()...), data[pos:]) {
					t.Fatalf("Read then WriteTo from %d: not the file's bytes (%v)", pos, err)
				}
			})
		}
	}
}

// TestStreamWaitsForBlocks: a Stream reads a file whose blocks are stored
// one at a time, in file order, while it reads, and returns the file.
func TestStreamWaitsForBlocks(t *testing.T) {
	for _, useRead := range []bool{false, true} {
		t.Run(fmt.Sprintf("read=%v", useRead), func(t *testing.T) {
			ctx := t.Context()
			full := newTestStore(t, StoreConfig{})
			data := randomBytes(31, 300000)
			root := importLayout(t, full, data, streamLayout{chunk: 1000, links: 8})
			order := dagOrder(t, full, root)
			s := newTestStore(t, StoreConfig{})
			var wg sync.WaitGroup
			defer wg.Wait()
			storeInOrder(ctx, t, &wg, full, s, order)
			st, err := OpenStream(ctx, storeSource{Store: s}, root)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var got []byte
			if useRead {
				got, err = io.ReadAll(oddReader{st, 4096})
			} else {
				var buf bytes.Buffer
				_, err = st.WriteTo(&buf)
				got = buf.Bytes()
			}
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("stream of a DAG stored while read: %d bytes, %v; want the file's %d", len(got), err, len(data))
			}
		})
	}
}

// triggerWriter calls at once its total reaches at bytes.
type triggerWriter struct {
	bytes.Buffer
	at   int
	call func()
}

func (w *triggerWriter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if w.call != nil && w.Len() >= w.at {
		w.call()
		w.call = nil
	}
	return n, err
}

// partialStore returns a store holding the DAG of data but for its raw
// leaves after the first k, and those leaves.
func partialStore(t testing.TB, data []byte, chunk, k int) (*Store, cid.Cid, []blocks.Block) {
	t.Helper()
	full := newTestStore(t, StoreConfig{})
	root := importLayout(t, full, data, streamLayout{chunk: chunk, links: 8})
	s := newTestStore(t, StoreConfig{})
	var rest []blocks.Block
	leaves := 0
	for _, c := range dagOrder(t, full, root) {
		b, err := full.Get(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		if c.Prefix().Codec == cid.Raw {
			leaves++
			if leaves > k {
				rest = append(rest, b)
				continue
			}
		}
		if err := s.Put(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	return s, root, rest
}

// TestStreamWritesBeforeWaiting: WriteTo writes out every byte that is
// there before it waits for the next block: here the missing blocks come
// only once the writer has the bytes before them, so holding them back
// would never end.
func TestStreamWritesBeforeWaiting(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	data := randomBytes(32, 100000)
	s, root, rest := partialStore(t, data, 1000, 10)
	w := &triggerWriter{at: 10 * 1000, call: func() {
		if err := s.PutMany(ctx, rest); err != nil {
			t.Errorf("PutMany: %v", err)
		}
	}}
	st, err := OpenStream(ctx, storeSource{Store: s}, root)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.WriteTo(w); err != nil || !bytes.Equal(w.Bytes(), data) {
		t.Fatalf("WriteTo = %d bytes, %v; want the file's %d", w.Len(), err, len(data))
	}
}

// TestStreamError: when the source says a missing block never comes, Read
// and WriteTo return its error after the bytes that were there.
func TestStreamError(t *testing.T) {
	errGone := errors.New("fetch ended")
	data := randomBytes(33, 100000)
	s, root, _ := partialStore(t, data, 1000, 10)
	src := storeSource{Store: s, fail: errGone}
	var buf bytes.Buffer
	st := openStream(t, src, root)
	if _, err := st.WriteTo(&buf); !errors.Is(err, errGone) || !bytes.Equal(buf.Bytes(), data[:10000]) {
		t.Errorf("WriteTo = %d bytes, %v; want the first 10000 and %v", buf.Len(), err, errGone)
	}
	// The error sticks: no read goes on past the leaf it could not read.
	buf.Reset()
	if n, err := st.WriteTo(&buf); !errors.Is(err, errGone) || n != 0 {
		t.Errorf("WriteTo after an error = %d, %v; want 0, %v", n, err, errGone)
	}
	st = openStream(t, src, root)
	got, err := io.ReadAll(st)
	if !errors.Is(err, errGone) || !bytes.Equal(got, data[:10000]) {
		t.Errorf("ReadAll = %d bytes, %v; want the first 10000 and %v", len(got), err, errGone)
	}
	if n, err := st.Read(make([]byte, 10)); !errors.Is(err, errGone) || n != 0 {
		t.Errorf("Read after an error = %d, %v; want 0, %v", n, err, errGone)
	}
	// A seek back clears it.
	if _, err := st.Seek(5000, io.SeekStart); err != nil {
		t.Fatalf("Seek(5000) after an error: %v", err)
	}
	if got, err := io.ReadAll(io.LimitReader(st, 5000)); err != nil || !bytes.Equal(got, data[5000:10000]) {
		t.Errorf("read after the seek = %d bytes, %v; want bytes 5000-10000", len(got), err)
	}
	if _, err := OpenStream(t.Context(), src, rawBlock(t, []byte("nobody")).Cid()); !errors.Is(err, errGone) {
		t.Errorf("OpenStream(missing root) error = %v, want %v", err, errGone)
	}
}

func TestStreamOpenNotAFile(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	writeFile(t, dir, "d/a", []byte("a"))
	os.Symlink("a", filepath.Join(dir, "d", "l"))
	s := newTestStore(t, StoreConfig{})
	res, err := s.Add(ctx, []string{filepath.Join(dir, "d")}, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ents, err := s.List(ctx, res.Root)
	if err != nil || len(ents) != 2 {
		t.Fatalf("List = %v, %v", ents, err)
	}
	tests := []struct {
		name string
		c    cid.Cid
		want error
	}{
		{name: "dir", c: res.Root, want: uio.ErrIsDir},
		{name: "symlink", c: ents[1].CID, want: uio.ErrCantReadSymlinks},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := OpenStream(ctx, storeSource{Store: s}, tt.c); !errors.Is(err, tt.want) {
				t.Errorf("OpenStream(%s) error = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

// TestStreamSeekNotSupported: a file node without block sizes reads whole
// but cannot be seeked into.
func TestStreamSeekNotSupported(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t, StoreConfig{})
	a, b := rawBlock(t, []byte("hello ")), rawBlock(t, []byte("world"))
	nd := merkledag.NodeWithData(ft.FilePBData(nil, 11))
	for _, l := range []blocks.Block{a, b} {
		if err := nd.AddRawLink("", &format.Link{Cid: l.Cid(), Size: uint64(len(l.RawData()))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutMany(ctx, []blocks.Block{a, b, nd}); err != nil {
		t.Fatal(err)
	}
	st := openStream(t, storeSource{Store: s}, nd.Cid())
	if pos, err := st.Seek(3, io.SeekStart); !errors.Is(err, uio.ErrSeekNotSupported) || pos != 0 {
		t.Errorf("Seek(3) = %d, %v; want 0, uio.ErrSeekNotSupported", pos, err)
	}
	got, err := io.ReadAll(st)
	if err != nil || string(got) != "hello world" {
		t.Errorf("ReadAll after a failed seek = %q, %v; want %q", got, err, "hello world")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Close = nil error, want one")
	}
}

// FuzzStream reads hostile DAGs: a root file node whose UnixFS data (block
// sizes, file size, type) comes from the fuzzer, linking raw leaves and an
// inner node. A Stream must never panic, its Read and WriteTo must agree,
// and where boxo's DagReader reads the DAG without error it must give the
// same bytes.
func FuzzStream(f *testing.F) {
	f.Add(ft.FilePBData(nil, 11), []byte("hello world"), uint8(3), uint16(0))
	f.Add([]byte{}, []byte("abc"), uint8(1), uint16(2))
	f.Add([]byte{0x08, 0x02, 0x18, 0x05, 0x20, 0x02, 0x20, 0x03}, []byte("12345"), uint8(2), uint16(1))
	f.Add([]byte{0x08, 0x02, 0x20, 0xff, 0xff, 0xff, 0xff, 0x0f}, []byte("xy"), uint8(2), uint16(9))
	f.Fuzz(func(t *testing.T, pbData, leafData []byte, nLeaves uint8, seek uint16) {
		ctx := t.Context()
		var leaves []blocks.Block
		for i := range int(nLeaves%5) + 1 {
			leaves = append(leaves, rawBlock(t, append([]byte{byte(i)}, leafData[:min(len(leafData), i*3)]...)))
		}
		inner := merkledag.NodeWithData(ft.FilePBData(nil, 0))
		inner.AddRawLink("", &format.Link{Cid: leaves[0].Cid()})
		root := merkledag.NodeWithData(pbData)
		for _, l := range leaves {
			root.AddRawLink("", &format.Link{Cid: l.Cid()})
		}
		root.AddRawLink("", &format.Link{Cid: inner.Cid()})
		src := mapSource{}
		for _, b := range append(leaves, inner, root) {
			src[b.Cid().KeyString()] = b
		}
		st, err := OpenStream(ctx, src, root.Cid())
		if err != nil {
			return
		}
		defer st.Close()
		var viaWriteTo bytes.Buffer
		_, werr := st.WriteTo(&viaWriteTo)
		st2, err := OpenStream(ctx, src, root.Cid())
		if err != nil {
			t.Fatalf("second OpenStream: %v", err)
		}
		defer st2.Close()
		viaRead, rerr := io.ReadAll(oddReader{st2, 2})
		if (werr == nil) != (rerr == nil) || !bytes.Equal(viaRead, viaWriteTo.Bytes()) {
			t.Fatalf("WriteTo = %q, %v; Read = %q, %v", viaWriteTo.Bytes(), werr, viaRead, rerr)
		}
		if dr, err := NewReader(ReaderConfig{}, src).Open(ctx, root.Cid()); err == nil {
			var want bytes.Buffer
			if _, err := dr.WriteTo(&want); err == nil && werr == nil && !bytes.Equal(want.Bytes(), viaRead) {
				t.Fatalf("Stream = %q, DagReader = %q", viaRead, want.Bytes())
			}
		}
		if pos, err := st2.Seek(int64(seek), io.SeekStart); err == nil {
			if pos != int64(seek) {
				t.Fatalf("Seek(%d) = %d", seek, pos)
			}
			io.Copy(io.Discard, st2)
		}
	})
}

// mapSource is an in-memory StreamSource (and BlockGetter) whose missing
// blocks never come.
type mapSource map[string]blocks.Block

func (m mapSource) Get(_ context.Context, c cid.Cid) (blocks.Block, error) {
	if b, ok := m[c.KeyString()]; ok {
		return b, nil
	}
	return nil, format.ErrNotFound{Cid: c}
}

func (m mapSource) ReadInto(ctx context.Context, c cid.Cid, p []byte) (int, error) {
	b, err := m.Get(ctx, c)
	if err != nil {
		return 0, err
	}
	if len(b.RawData()) > len(p) {
		return len(b.RawData()), io.ErrShortBuffer
	}
	return copy(p, b.RawData()), nil
}

func (m mapSource) Wait(_ context.Context, c cid.Cid) error {
	return fmt.Errorf("block %s never comes", c)
}

// TestStreamSetEnd: a Stream with an end returns exactly the bytes from
// its position to the end through Read and WriteTo, for ends inside and
// between leaves, keeps the rest for a later end, and never waits for a
// block past the end.
func TestStreamSetEnd(t *testing.T) {
	layouts := []streamLayout{
		{name: "balanced raw", chunk: 1000, links: 4},
		{name: "trickle pb leaves", chunk: 777, links: 3, trickle: true, noRaw: true},
	}
	const size = 20011
	tests := []struct{ off, end int64 }{
		{0, 0}, {0, 1}, {0, 999}, {0, 1000}, {0, 1001}, {5, 5}, {5, 2500}, {1000, 3000},
		{1554, 1555}, {7000, size}, {7000, size + 50}, {size, size + 10}, {0, size},
	}
	for _, l := range layouts {
		s := newTestStore(t, StoreConfig{})
		data := randomBytes(7, size)
		root := importLayout(t, s, data, l)
		src := storeSource{Store: s}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%d-%d", l.name, tt.off, tt.end), func(t *testing.T) {
				want := data[min(tt.off, size):min(tt.end, size)]
				rest := data[min(tt.end, size):]
				for _, via := range []string{"WriteTo", "Read"} {
					st := openStream(t, src, root)
					st.SetEnd(tt.end)
					if _, err := st.Seek(tt.off, io.SeekStart); err != nil {
						t.Fatal(err)
					}
					var got []byte
					var err error
					if via == "WriteTo" {
						var buf bytes.Buffer
						_, err = st.WriteTo(&buf)
						got = buf.Bytes()
					} else {
						got, err = io.ReadAll(oddReader{st, 333})
					}
					if err != nil || !bytes.Equal(got, want) {
						t.Fatalf("%s = %d bytes, %v; want bytes %d..%d of the file", via, len(got), err, tt.off, tt.end)
					}
					// Lifting the end goes on from there.
					st.SetEnd(-1)
					var buf bytes.Buffer
					if _, err := st.WriteTo(&buf); err != nil || !bytes.Equal(buf.Bytes(), rest) {
						t.Fatalf("%s, SetEnd(-1), WriteTo = %d bytes, %v; want the %d after the end", via, buf.Len(), err, len(rest))
					}
				}
			})
		}
	}
	t.Run("no wait past the end", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		s := newTestStore(t, StoreConfig{})
		data := randomBytes(8, 10000)
		root := importLayout(t, s, data, streamLayout{chunk: 1000, links: 4})
		// Drop every leaf after the third: a read that asked for one would
		// wait until the deadline.
		order := dagOrder(t, s, root)
		var leaves []cid.Cid
		for _, c := range order {
			if c.Prefix().Codec == cid.Raw {
				leaves = append(leaves, c)
			}
		}
		for _, c := range leaves[3:] {
			if err := s.DeleteBlock(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		st, err := OpenStream(ctx, storeSource{Store: s}, root)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		st.SetEnd(3000)
		var buf bytes.Buffer
		if _, err := st.WriteTo(&buf); err != nil || !bytes.Equal(buf.Bytes(), data[:3000]) {
			t.Fatalf("WriteTo up to 3000 = %d bytes, %v", buf.Len(), err)
		}
		if ctx.Err() != nil {
			t.Fatal("WriteTo waited for a block past the end")
		}
	})
}

// storeInOrder copies order's blocks from full to s one at a time, in order, on
// a goroutine of wg, as a fetch would store them.
func storeInOrder(ctx context.Context, t *testing.T, wg *sync.WaitGroup, full, s *Store, order []cid.Cid) {
	wg.Go(func() {
		for _, c := range order {
			b, err := full.Get(ctx, c)
			if err == nil {
				err = s.Put(ctx, b)
			}
			if err != nil {
				t.Errorf("copy %s: %v", c, err)
				return
			}
		}
	})
}
