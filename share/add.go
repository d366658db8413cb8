package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
	"golang.org/x/sync/errgroup"
)

// AddOptions tune one Add. The zero value adds like
// `ipfs add --cid-version=1 --raw-leaves [-r]`: CIDv1, raw leaves, 256 KiB
// chunks, balanced layout with 174 links per node, no hidden files, and the
// root pinned.
type AddOptions struct {
	// ChunkSize is the leaf size in bytes (Kubo's --chunker=size-N).
	// Default DefaultChunkSize; at most MaxChunkSize.
	ChunkSize int
	// CIDv0 makes dag-pb nodes CIDv0, like --cid-version=0. Leaves stay
	// raw (CIDv1) unless NoRawLeaves.
	CIDv0 bool
	// NoRawLeaves makes leaves dag-pb UnixFS file nodes instead of raw
	// blocks (Kubo's default with --cid-version=0).
	NoRawLeaves bool
	// Wrap wraps the added paths in a directory named after nothing, like
	// `ipfs add -w`; the wrapper is the root.
	Wrap bool
	// Hidden includes files and directories whose name starts with a dot,
	// like `ipfs add --hidden`. Default false, as in Kubo.
	Hidden bool
	// NoPin leaves the roots unpinned (a later GC removes them).
	NoPin bool
	// Workers is the number of goroutines hashing leaves. Default
	// GOMAXPROCS.
	Workers int
	// Progress, when set, is called from the goroutine that called Add
	// with the file bytes imported so far, after each leaf is stored.
	Progress func(bytes int64)
	// OnAdded, when set, is called from the goroutine that called Add for
	// every file and directory once its DAG is stored, children before
	// their parents (for `add -v`).
	OnAdded func(AddedEntry)
}

// AddedEntry is one imported file, directory or symlink.
type AddedEntry struct {
	// Path is the entry's path as given to Add, joined with the names
	// below it for entries of a directory; for AddReader, its name, or
	// the file's CID when the name is empty (as Kubo reports stdin).
	Path string
	CID  cid.Cid
	// Size is the file size in bytes (0 for directories and symlinks).
	Size uint64
	Type EntryType
}

// AddResult is the outcome of an Add.
type AddResult struct {
	// Root is the CID of the wrapper directory with Wrap, else of the last
	// path added (of the only one, usually).
	Root cid.Cid
	// Roots are the CIDs of the added paths, in order (the wrapper only,
	// with Wrap). Each was pinned unless NoPin.
	Roots []cid.Cid
	// Bytes is the number of file bytes imported.
	Bytes int64
}

func (o AddOptions) withDefaults() (AddOptions, error) {
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.ChunkSize < 1 || o.ChunkSize > MaxChunkSize {
		return o, fmt.Errorf("share: add: ChunkSize must be in [1, %d], got %d", MaxChunkSize, o.ChunkSize)
	}
	if o.Workers < 0 {
		return o, fmt.Errorf("share: add: Workers must be >= 0, got %d", o.Workers)
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o, nil
}

// adder is the state of one Add call.
type adder struct {
	s     *Store
	o     AddOptions
	hold  *Hold
	leafB cid.Prefix
	nodeB cid.Prefix
	dserv format.DAGService
	bytes int64
	// pool holds the chunk buffers of the whole Add, shared by its files:
	// 4·Workers + 2·putBatch of them at most, nalloc allocated so far.
	pool   chan *[]byte
	nalloc int
}

func (s *Store) newAdder(opts AddOptions) (*adder, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &adder{s: s, o: o, hold: s.NewHold(), pool: make(chan *[]byte, 4*o.Workers+2*putBatch)}
	a.leafB, a.nodeB = cidBuilders(o.CIDv0)
	a.dserv = &heldDAG{a: a}
	return a, nil
}

// Add imports the files and directories (recursively) at paths into UnixFS
// DAGs, stores their blocks (blocks already stored are not written again)
// and pins each root unless opts.NoPin. For the same bytes and options the
// root CIDs are those `ipfs add` prints (Kubo v0.43.1). Memory use is
// bounded by a few chunks per worker, whatever the file sizes. Symlinks are
// added as UnixFS symlinks, not followed; other special files are an error.
func (s *Store) Add(ctx context.Context, paths []string, opts AddOptions) (AddResult, error) {
	done, err := s.enter()
	if err != nil {
		return AddResult{}, err
	}
	defer done()
	if len(paths) == 0 {
		return AddResult{}, errors.New("share: add: no paths")
	}
	a, err := s.newAdder(opts)
	if err != nil {
		return AddResult{}, err
	}
	defer a.hold.Release()
	var res AddResult
	var wrap uio.Directory
	if a.o.Wrap {
		if wrap, err = a.newDir(); err != nil {
			return res, err
		}
	}
	for _, p := range paths {
		nd, err := a.addPath(ctx, p, filepath.Clean(p))
		if err != nil {
			return res, err
		}
		if wrap != nil {
			if err := wrap.AddChild(ctx, filepath.Base(p), nd); err != nil {
				return res, fmt.Errorf("share: add %s: wrap: %w", p, err)
			}
			continue
		}
		res.Roots = append(res.Roots, nd.Cid())
	}
	if wrap != nil {
		nd, err := a.finishDir(ctx, wrap, "")
		if err != nil {
			return res, err
		}
		res.Roots = []cid.Cid{nd.Cid()}
	}
	return a.finish(ctx, res)
}

// AddReader imports the bytes of r as one file (stdin for `add -`). With
// opts.Wrap the file is named name inside the wrapper directory; name is
// otherwise only used in OnAdded. An empty name stands for the file's own
// CID, as Kubo names stdin without --stdin-name (`echo hi | ipfs add -w`
// wraps the file under its CID).
func (s *Store) AddReader(ctx context.Context, r io.Reader, name string, opts AddOptions) (AddResult, error) {
	done, err := s.enter()
	if err != nil {
		return AddResult{}, err
	}
	defer done()
	a, err := s.newAdder(opts)
	if err != nil {
		return AddResult{}, err
	}
	defer a.hold.Release()
	nd, size, err := a.addFile(ctx, r)
	if err != nil {
		if name == "" {
			return AddResult{}, fmt.Errorf("share: add: %w", err)
		}
		return AddResult{}, fmt.Errorf("share: add %s: %w", name, err)
	}
	if name == "" {
		name = nd.Cid().String()
	}
	a.added(AddedEntry{Path: name, CID: nd.Cid(), Size: size, Type: TypeFile})
	root := nd
	if a.o.Wrap {
		d, err := a.newDir()
		if err != nil {
			return AddResult{}, err
		}
		if err := d.AddChild(ctx, name, nd); err != nil {
			return AddResult{}, fmt.Errorf("share: add %s: wrap: %w", name, err)
		}
		if root, err = a.finishDir(ctx, d, ""); err != nil {
			return AddResult{}, err
		}
	}
	return a.finish(ctx, AddResult{Roots: []cid.Cid{root.Cid()}})
}

func (a *adder) finish(ctx context.Context, res AddResult) (AddResult, error) {
	res.Bytes = a.bytes
	res.Root = res.Roots[len(res.Roots)-1]
	if !a.o.NoPin {
		for _, r := range res.Roots {
			if err := a.s.putPin(ctx, r); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

func (a *adder) added(e AddedEntry) {
	if a.o.OnAdded != nil {
		a.o.OnAdded(e)
	}
}

func (a *adder) newDir() (uio.Directory, error) {
	d, err := uio.NewDirectory(a.dserv, uio.WithCidBuilder(a.nodeB))
	if err != nil {
		return nil, fmt.Errorf("share: add: new directory: %w", err)
	}
	return d, nil
}

// finishDir stores a directory's node(s) and reports it.
func (a *adder) finishDir(ctx context.Context, d uio.Directory, path string) (format.Node, error) {
	nd, err := d.GetNode()
	if err != nil {
		return nil, fmt.Errorf("share: add %s: directory node: %w", path, err)
	}
	if err := a.dserv.Add(ctx, nd); err != nil {
		return nil, err
	}
	if path != "" {
		a.added(AddedEntry{Path: path, CID: nd.Cid(), Type: TypeDir})
	}
	return nd, nil
}

// addPath imports the file, directory or symlink at p, reported as shown.
func (a *adder) addPath(ctx context.Context, p, shown string) (format.Node, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, fmt.Errorf("share: add: %w", err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return nil, fmt.Errorf("share: add: %w", err)
		}
		data, err := ft.SymlinkData(target)
		if err != nil {
			return nil, fmt.Errorf("share: add %s: %w", p, err)
		}
		nd := merkledag.NodeWithData(data)
		if err := nd.SetCidBuilder(a.nodeB); err != nil {
			return nil, err
		}
		if err := a.dserv.Add(ctx, nd); err != nil {
			return nil, err
		}
		a.added(AddedEntry{Path: shown, CID: nd.Cid(), Type: TypeSymlink})
		return nd, nil
	case fi.IsDir():
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("share: add: %w", err)
		}
		d, err := a.newDir()
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if !a.o.Hidden && strings.HasPrefix(e.Name(), ".") {
				continue
			}
			nd, err := a.addPath(ctx, filepath.Join(p, e.Name()), filepath.Join(shown, e.Name()))
			if err != nil {
				return nil, err
			}
			if err := d.AddChild(ctx, e.Name(), nd); err != nil {
				return nil, fmt.Errorf("share: add %s: %w", p, err)
			}
		}
		return a.finishDir(ctx, d, shown)
	case fi.Mode().IsRegular():
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("share: add: %w", err)
		}
		defer f.Close()
		nd, size, err := a.addFile(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("share: add %s: %w", p, err)
		}
		a.added(AddedEntry{Path: shown, CID: nd.Cid(), Size: size, Type: TypeFile})
		return nd, nil
	default:
		return nil, fmt.Errorf("share: add %s: unsupported file type %s", p, fi.Mode().Type())
	}
}

// leaf is one chunk of a file on its way through the pipeline.
type leaf struct {
	idx  int
	buf  *[]byte
	n    int
	blk  blocks.Block
	size uint64 // file bytes
	tsz  uint64 // block size (the link Tsize)
}

// addFile imports one file: a reader goroutine cuts chunks into pooled
// buffers, Workers goroutines hash them into leaves, and this goroutine
// stores the leaves in file order (a few per batch) and feeds the
// treeBuilder. The buffer pool bounds memory to (4·Workers+2·putBatch)
// chunks; the collector holds at most putBatch of them in its batch.
// Buffers of leaves still in flight when an Add fails are not returned, so
// an adder is not reused after an error.
func (a *adder) addFile(parent context.Context, r io.Reader) (format.Node, uint64, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	w := a.o.Workers
	pool := a.pool
	jobs := make(chan leaf, 2*w)
	results := make(chan leaf, cap(pool))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(jobs)
		for i := 0; ; i++ {
			buf, err := a.buffer(gctx)
			if err != nil {
				return err
			}
			n, err := io.ReadFull(r, *buf)
			if n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
				return nil
			}
			if err != nil && err != io.ErrUnexpectedEOF {
				return fmt.Errorf("read: %w", err)
			}
			select {
			case jobs <- leaf{idx: i, buf: buf, n: n}:
			case <-gctx.Done():
				return gctx.Err()
			}
			if err == io.ErrUnexpectedEOF {
				return nil
			}
		}
	})
	var workers errgroup.Group
	for range w {
		workers.Go(func() error {
			for l := range jobs {
				if err := a.makeLeaf(&l); err != nil {
					return err
				}
				select {
				case results <- l:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		err := workers.Wait()
		close(results)
		return err
	})

	root, size, err := a.collect(ctx, results, pool)
	cancel()
	for range results {
	}
	if gerr := g.Wait(); err == nil && gerr != nil && !errors.Is(gerr, context.Canceled) {
		err = gerr
	}
	if err == nil {
		err = parent.Err()
	}
	return root, size, err
}

// buffer returns a chunk buffer from the Add's pool, allocating up to
// cap(pool) of them lazily (a small file needs one), or waits for one to
// come back. Only the reader goroutine of the file being added calls it.
func (a *adder) buffer(ctx context.Context) (*[]byte, error) {
	select {
	case b := <-a.pool:
		return b, nil
	default:
	}
	if a.nalloc < cap(a.pool) {
		a.nalloc++
		b := make([]byte, a.o.ChunkSize)
		return &b, nil
	}
	select {
	case b := <-a.pool:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// makeLeaf hashes one chunk into its leaf block.
func (a *adder) makeLeaf(l *leaf) error {
	data := (*l.buf)[:l.n]
	l.size = uint64(l.n)
	if !a.o.NoRawLeaves {
		c, err := a.leafB.Sum(data)
		if err != nil {
			return err
		}
		l.blk, err = blocks.NewBlockWithCid(data, c)
		l.tsz = uint64(l.n)
		return err
	}
	fsn := ft.NewFSNode(ft.TFile)
	if l.n > 0 {
		// boxo leaves the Data field out of an empty file's node.
		fsn.SetData(data)
	}
	b, err := fsn.GetBytes()
	if err != nil {
		return err
	}
	nd := merkledag.NodeWithData(b)
	if err := nd.SetCidBuilder(a.nodeB); err != nil {
		return err
	}
	raw := nd.RawData()
	l.blk, err = blocks.NewBlockWithCid(raw, nd.Cid())
	l.tsz = uint64(len(raw))
	return err
}

const putBatch = 16

// collect stores leaves in order and builds the tree.
func (a *adder) collect(ctx context.Context, results <-chan leaf, pool chan<- *[]byte) (format.Node, uint64, error) {
	tb := newTreeBuilder(maxLinks, a.nodeB, func(nd *merkledag.ProtoNode) error {
		return a.put(ctx, []blocks.Block{nd})
	})
	pending := map[int]leaf{}
	next := 0
	var batch []leaf
	var total uint64
	var first blocks.Block
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		bs := make([]blocks.Block, len(batch))
		for i, l := range batch {
			bs[i] = l.blk
		}
		if err := a.put(ctx, bs); err != nil {
			return err
		}
		for _, l := range batch {
			if err := tb.addLeaf(child{cid: l.blk.Cid(), tsize: l.tsz, fsize: l.size}); err != nil {
				return err
			}
			a.bytes += int64(l.size)
			pool <- l.buf
		}
		batch = batch[:0]
		if a.o.Progress != nil {
			a.o.Progress(a.bytes)
		}
		return nil
	}
	for l := range results {
		pending[l.idx] = l
		for {
			l, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			total += l.size
			if l.idx == 0 {
				first = l.blk
			}
			batch = append(batch, l)
			if len(batch) == putBatch {
				if err := flush(); err != nil {
					return nil, 0, err
				}
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if err := flush(); err != nil {
		return nil, 0, err
	}
	if next == 0 {
		// An empty file: one empty leaf, as boxo's Layout makes it.
		l := leaf{buf: &[]byte{}, n: 0}
		if err := a.makeLeaf(&l); err != nil {
			return nil, 0, err
		}
		if err := a.put(ctx, []blocks.Block{l.blk}); err != nil {
			return nil, 0, err
		}
		nd, err := a.decode(l.blk)
		return nd, 0, err
	}
	_, root, err := tb.finish()
	if err != nil {
		return nil, 0, err
	}
	if root != nil {
		return root, total, nil
	}
	// A single leaf is the root. Its buffer went back to the pool, so read
	// the block back from the store.
	b, err := a.s.get(ctx, first.Cid())
	if err != nil {
		return nil, 0, err
	}
	nd, err := a.decode(b)
	return nd, total, err
}

func (a *adder) decode(b blocks.Block) (format.Node, error) {
	if b.Cid().Prefix().Codec == cid.Raw {
		return merkledag.NewRawNodeWPrefix(b.RawData(), a.leafB)
	}
	return merkledag.DecodeProtobufBlock(b)
}

// put holds then stores blocks, so a concurrent GC cannot remove them
// before the root is pinned.
func (a *adder) put(ctx context.Context, bs []blocks.Block) error {
	for _, b := range bs {
		a.hold.Add(b.Cid())
	}
	if err := a.s.putInside(ctx, bs); err != nil {
		return err
	}
	return nil
}

// heldDAG is the DAGService directories are built with: nodes are stored
// through the adder's hold; reads come from the store.
type heldDAG struct{ a *adder }

func (d *heldDAG) Get(ctx context.Context, c cid.Cid) (format.Node, error) {
	b, err := d.a.s.get(ctx, c)
	if err != nil {
		return nil, err
	}
	return decodeNode(b)
}

func (d *heldDAG) GetMany(ctx context.Context, cs []cid.Cid) <-chan *format.NodeOption {
	out := make(chan *format.NodeOption, len(cs))
	for _, c := range cs {
		nd, err := d.Get(ctx, c)
		out <- &format.NodeOption{Node: nd, Err: err}
	}
	close(out)
	return out
}

func (d *heldDAG) Add(ctx context.Context, nd format.Node) error {
	return d.a.put(ctx, []blocks.Block{nd})
}

func (d *heldDAG) AddMany(ctx context.Context, nds []format.Node) error {
	bs := make([]blocks.Block, len(nds))
	for i, n := range nds {
		bs[i] = n
	}
	return d.a.put(ctx, bs)
}

func (d *heldDAG) Remove(context.Context, cid.Cid) error { return nil }

func (d *heldDAG) RemoveMany(context.Context, []cid.Cid) error { return nil }

// decodeNode decodes a dag-pb or raw block into an ipld node.
func decodeNode(b blocks.Block) (format.Node, error) {
	switch b.Cid().Prefix().Codec {
	case cid.Raw:
		return merkledag.DecodeRawBlock(b)
	case cid.DagProtobuf:
		return merkledag.DecodeProtobufBlock(b)
	default:
		return nil, fmt.Errorf("share: block %s: codec %#x is not UnixFS", b.Cid(), b.Cid().Prefix().Codec)
	}
}
