package share

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
)

// BlockGetter is where a Reader gets blocks. Get returns the block of c or
// an error; a block that is not available must give an error matching
// format.ErrNotFound (ipld.IsNotFound), as Store.Get does for a block that is
// not stored locally. Get may block (a getter that fetches missing blocks
// from the network), must be safe for concurrent use, and must return only
// blocks whose bytes match c. The caller does not modify the returned block.
type BlockGetter interface {
	Get(ctx context.Context, c cid.Cid) (blocks.Block, error)
}

// EntryType is the kind of a UnixFS node.
type EntryType int

// Entry types.
const (
	TypeFile EntryType = iota
	TypeDir
	TypeSymlink
)

func (t EntryType) String() string {
	switch t {
	case TypeFile:
		return "file"
	case TypeDir:
		return "dir"
	case TypeSymlink:
		return "symlink"
	}
	return fmt.Sprintf("EntryType(%d)", int(t))
}

// Entry is one link of a directory, as List returns it.
type Entry struct {
	Name string
	CID  cid.Cid
	// Size is the file size in bytes for files, 0 for directories and
	// symlinks.
	Size uint64
	Type EntryType
}

// ReaderConfig configures a Reader. A zero field means its default.
type ReaderConfig struct {
	// NoSync skips the fsync of files that WriteTo does before renaming
	// them into place. Default false: the result survives power loss.
	NoSync bool
}

// Reader reads UnixFS files and directories through a BlockGetter: Open
// for `cat`, List for `ls`, WriteTo for `get`. Its methods are safe for
// concurrent use.
type Reader struct {
	cfg ReaderConfig
	ng  nodeGetter
}

// NewReader returns a Reader over bg.
func NewReader(cfg ReaderConfig, bg BlockGetter) *Reader {
	return &Reader{cfg: cfg, ng: nodeGetter{bg}}
}

// Open returns a reader of the file at c, which supports Seek (for
// `cat --offset`) and Size. It returns uio.ErrIsDir for a directory. A
// missing block surfaces as an error matching format.ErrNotFound from Open
// or from Read.
func (r *Reader) Open(ctx context.Context, c cid.Cid) (uio.DagReader, error) {
	nd, err := r.ng.Get(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("share: open %s: %w", c, err)
	}
	dr, err := uio.NewDagReader(ctx, nd, r.ng)
	if err != nil {
		return nil, fmt.Errorf("share: open %s: %w", c, err)
	}
	return dr, nil
}

// Open is NewReader(ReaderConfig{}, s).Open: it reads local blocks only.
func (s *Store) Open(ctx context.Context, c cid.Cid) (uio.DagReader, error) {
	return NewReader(ReaderConfig{}, s).Open(ctx, c)
}

// List returns the entries of the directory at c sorted by name, with the
// type and file size of each (which reads every child's root block). It
// returns uio.ErrNotADir for a file.
func (r *Reader) List(ctx context.Context, c cid.Cid) ([]Entry, error) {
	nd, err := r.ng.Get(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("share: ls %s: %w", c, err)
	}
	d, err := uio.NewDirectoryFromNode(r.ng, nd)
	if err != nil {
		return nil, fmt.Errorf("share: ls %s: %w", c, err)
	}
	links, err := d.Links(ctx)
	if err != nil {
		return nil, fmt.Errorf("share: ls %s: %w", c, err)
	}
	out := make([]Entry, 0, len(links))
	for _, l := range links {
		child, err := r.ng.Get(ctx, l.Cid)
		if err != nil {
			return nil, fmt.Errorf("share: ls %s: %s: %w", c, l.Name, err)
		}
		t, size, err := nodeType(child)
		if err != nil {
			return nil, fmt.Errorf("share: ls %s: %s: %w", c, l.Name, err)
		}
		out = append(out, Entry{Name: l.Name, CID: l.Cid, Size: size, Type: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// List is NewReader(ReaderConfig{}, s).List.
func (s *Store) List(ctx context.Context, c cid.Cid) ([]Entry, error) {
	return NewReader(ReaderConfig{}, s).List(ctx, c)
}

func nodeType(nd format.Node) (EntryType, uint64, error) {
	switch n := nd.(type) {
	case *merkledag.RawNode:
		return TypeFile, uint64(len(n.RawData())), nil
	case *merkledag.ProtoNode:
		fsn, err := ft.FSNodeFromBytes(n.Data())
		if err != nil {
			return 0, 0, err
		}
		switch fsn.Type() {
		case ft.TDirectory, ft.THAMTShard:
			return TypeDir, 0, nil
		case ft.TSymlink:
			return TypeSymlink, 0, nil
		case ft.TFile, ft.TRaw:
			return TypeFile, fsn.FileSize(), nil
		}
		return 0, 0, fmt.Errorf("unsupported UnixFS type %s", fsn.Type())
	}
	return 0, 0, fmt.Errorf("unsupported node %T", nd)
}

// WriteTo writes the file, directory tree or symlink at root to dst. It
// writes into a temporary path in dst's directory
// (".<name>.enxame-tmp-<pid>-*") and renames it to dst only when everything
// is written, so dst never holds a partial result; on error the temporary
// path is removed, and one left by a killed writer goes at the next write
// of dst. An existing file at dst is replaced; an existing directory is an
// error. It is WriteToOptions with no cap: see there for what it refuses.
func (r *Reader) WriteTo(ctx context.Context, root cid.Cid, dst string) error {
	return r.WriteToOptions(ctx, root, dst, WriteFileOptions{})
}

// WriteTo is NewReader(ReaderConfig{}, s).WriteTo: it reads local blocks
// only. A file goes through WriteStream, which reads raw leaves straight
// into its write buffer.
func (s *Store) WriteTo(ctx context.Context, root cid.Cid, dst string) error {
	return s.WriteToOptions(ctx, root, dst, WriteFileOptions{})
}

// WriteToOptions is Store.WriteTo with options (see
// Reader.WriteToOptions).
func (s *Store) WriteToOptions(ctx context.Context, root cid.Cid, dst string, opts WriteFileOptions) error {
	err := WriteStream(ctx, localSource{s}, root, dst, opts)
	if IsNotFile(err) {
		return NewReader(ReaderConfig{}, s).WriteToOptions(ctx, root, dst, opts)
	}
	return err
}

// nodeGetter adapts a BlockGetter to ipld's NodeGetter for dag-pb and raw
// blocks. GetMany fetches sequentially and starts no goroutine.
type nodeGetter struct{ bg BlockGetter }

func (g nodeGetter) Get(ctx context.Context, c cid.Cid) (format.Node, error) {
	b, err := g.bg.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	return decodeNode(b)
}

func (g nodeGetter) GetMany(ctx context.Context, cs []cid.Cid) <-chan *format.NodeOption {
	out := make(chan *format.NodeOption, len(cs))
	for _, c := range cs {
		nd, err := g.Get(ctx, c)
		out <- &format.NodeOption{Node: nd, Err: err}
	}
	close(out)
	return out
}

var errReadOnly = errors.New("share: reader is read-only")

func (nodeGetter) Add(context.Context, format.Node) error       { return errReadOnly }
func (nodeGetter) AddMany(context.Context, []format.Node) error { return errReadOnly }
func (nodeGetter) Remove(context.Context, cid.Cid) error        { return errReadOnly }
func (nodeGetter) RemoveMany(context.Context, []cid.Cid) error  { return errReadOnly }

// StreamSource is where a Stream reads blocks: the local store, perhaps
// while a fetch is still adding them. Its methods must be safe for
// concurrent use and must return only bytes that match the CID (Store
// checks them).
type StreamSource interface {
	// Get returns the block of c, or an error matching format.ErrNotFound
	// when it is not available yet; it does not wait for it. The caller
	// does not modify the block.
	Get(ctx context.Context, c cid.Cid) (blocks.Block, error)
	// ReadInto copies the bytes of the block of c into p and returns their
	// count, as Store.ReadInto does: when p is too short, the block's size
	// and an error matching io.ErrShortBuffer; when the block is not
	// available yet, an error matching format.ErrNotFound. It does not
	// wait for the block.
	ReadInto(ctx context.Context, c cid.Cid, p []byte) (int, error)
	// Wait blocks until the block of c is available and returns nil, or
	// returns why it never will be (for example the error that ended the
	// fetch bringing it).
	Wait(ctx context.Context, c cid.Cid) error
}

// streamBufSize is the size of the writes WriteTo makes while the blocks it
// needs are there: four default leaves.
const streamBufSize = 1 << 20

// maxStreamDepth bounds the depth of a file's DAG a Stream walks.
const maxStreamDepth = 1024

// Stream reads a UnixFS file in order through a StreamSource, waiting for
// each block that is not there yet, so a file can be read while its DAG is
// being fetched. It reads raw leaves straight into the caller's buffer
// (WriteTo) or into one buffer it reuses (Read), so it allocates nothing
// per raw leaf. The bytes are those boxo's DagReader returns: the data of
// the DAG's leaves, in order.
//
// A Stream is not safe for concurrent use. Its reads use the ctx given to
// OpenStream, because io.Reader's methods take none.
type Stream struct {
	ctx  context.Context
	src  StreamSource
	root cid.Cid
	size uint64
	pos  int64
	// end is where reads stop (SetEnd), -1 for the end of the file.
	end int64

	// stack is the walk: one frame per DAG level, from a frame holding only
	// the root down to the parent of the next leaf.
	stack []streamFrame
	// skip is how many bytes of the next raw leaf a seek into it skips.
	skip int64
	// cur holds the unread bytes of the current leaf (Read, or a seek into
	// a dag-pb leaf); leaf is the buffer Read reads raw leaves into.
	cur  []byte
	leaf []byte
	// flush, set during WriteTo, writes out what WriteTo holds before the
	// walk waits for a block.
	flush func() error
	// err is the error that stopped a read: later reads return it rather
	// than go on past a leaf they could not read. A seek clears it.
	err    error
	closed bool
}

type streamFrame struct {
	links []cid.Cid
	// sizes are the UnixFS block sizes of links, nil when the node does not
	// give one for each link (then the file cannot be seeked).
	sizes []uint64
	next  int
}

var errStreamClosed = errors.New("share: stream closed")

// OpenStream returns a Stream of the file at root. It waits for the root
// block (and, for a UnixFS metadata node, its child) and returns
// uio.ErrIsDir for a directory, uio.ErrCantReadSymlinks for a symlink.
// ctx bounds the Stream's later reads too.
func OpenStream(ctx context.Context, src StreamSource, root cid.Cid) (*Stream, error) {
	s := &Stream{ctx: ctx, src: src, end: -1}
	for range maxStreamDepth {
		nd, err := s.node(root)
		if err != nil {
			return nil, fmt.Errorf("share: open %s: %w", root, err)
		}
		switch nd := nd.(type) {
		case *merkledag.RawNode:
			s.size = uint64(len(nd.RawData()))
		case *merkledag.ProtoNode:
			fsn, err := ft.FSNodeFromBytes(nd.Data())
			if err != nil {
				return nil, fmt.Errorf("share: open %s: %w", root, err)
			}
			switch fsn.Type() {
			case ft.TFile, ft.TRaw:
				s.size = fsn.FileSize()
			case ft.TDirectory, ft.THAMTShard:
				return nil, fmt.Errorf("share: open %s: %w", root, uio.ErrIsDir)
			case ft.TSymlink:
				return nil, fmt.Errorf("share: open %s: %w", root, uio.ErrCantReadSymlinks)
			case ft.TMetadata:
				if len(nd.Links()) == 0 {
					return nil, fmt.Errorf("share: open %s: metadata node without a link", root)
				}
				root = nd.Links()[0].Cid
				continue
			default:
				return nil, fmt.Errorf("share: open %s: %w", root, ft.ErrUnrecognizedType)
			}
		default:
			return nil, fmt.Errorf("share: open %s: %w", root, uio.ErrUnkownNodeType)
		}
		s.root = root
		s.rewind()
		return s, nil
	}
	return nil, fmt.Errorf("share: open %s: metadata nodes nested over %d deep", root, maxStreamDepth)
}

// Size returns the file's size as its root block states it.
func (s *Stream) Size() uint64 { return s.size }

// SetEnd makes Read and WriteTo stop at byte end of the file, as if the
// file ended there; a negative end removes the limit. Unlike wrapping the
// Stream in an io.LimitReader, it keeps WriteTo's large writes, and reads
// never wait for a block past end. Seek does not change it.
func (s *Stream) SetEnd(end int64) { s.end = max(end, -1) }

// atEnd reports whether the position reached the end SetEnd set.
func (s *Stream) atEnd() bool { return s.end >= 0 && s.pos >= s.end }

// rewind puts the walk at the start of the file.
func (s *Stream) rewind() {
	s.stack = append(s.stack[:0], streamFrame{links: []cid.Cid{s.root}, sizes: []uint64{s.size}})
	s.pos, s.skip, s.cur = 0, 0, nil
}

// wait waits for the block of c, first writing out what WriteTo holds so
// that a reader sees every byte that is already there.
func (s *Stream) wait(c cid.Cid) error {
	if s.flush != nil {
		if err := s.flush(); err != nil {
			return err
		}
	}
	return s.src.Wait(s.ctx, c)
}

// node returns the decoded block of c, waiting for it.
func (s *Stream) node(c cid.Cid) (format.Node, error) {
	for {
		b, err := s.src.Get(s.ctx, c)
		if err == nil {
			return decodeNode(b)
		}
		if !format.IsNotFound(err) {
			return nil, err
		}
		if err := s.wait(c); err != nil {
			return nil, err
		}
	}
}

// split tells a leaf (its data) from an inner node (a frame for it).
func split(nd format.Node) (leaf bool, data []byte, f streamFrame, err error) {
	links := nd.Links()
	if len(links) == 0 {
		data, err := ft.ReadUnixFSNodeData(nd)
		return true, data, streamFrame{}, err
	}
	f.links = make([]cid.Cid, len(links))
	for i, l := range links {
		f.links[i] = l.Cid
	}
	if pn, ok := nd.(*merkledag.ProtoNode); ok {
		if fsn, err := ft.FSNodeFromBytes(pn.Data()); err == nil && fsn.NumChildren() == len(links) {
			f.sizes = fsn.BlockSizes()
		}
	}
	return false, nil, f, nil
}

// push adds f to the walk.
func (s *Stream) push(f streamFrame) error {
	if len(s.stack) >= maxStreamDepth {
		return fmt.Errorf("share: read %s: DAG deeper than %d", s.root, maxStreamDepth)
	}
	s.stack = append(s.stack, f)
	return nil
}

// nextLeaf walks to the next leaf in file order. For a raw leaf (raw is
// true) it returns its CID and the size its parent states (-1 when
// unknown), to be read with ReadInto; for a dag-pb leaf its data. It
// returns io.EOF past the last leaf.
func (s *Stream) nextLeaf() (c cid.Cid, raw bool, data []byte, hint int64, err error) {
	// The blocks may all be there: stop when ctx ends all the same.
	if err := s.ctx.Err(); err != nil {
		return cid.Undef, false, nil, 0, fmt.Errorf("share: read %s: %w", s.root, err)
	}
	for len(s.stack) > 0 {
		f := &s.stack[len(s.stack)-1]
		if f.next >= len(f.links) {
			s.stack = s.stack[:len(s.stack)-1]
			continue
		}
		c, hint = f.links[f.next], -1
		if f.sizes != nil {
			hint = int64(min(f.sizes[f.next], 1<<62))
		}
		f.next++
		if c.Prefix().Codec == cid.Raw {
			return c, true, nil, hint, nil
		}
		nd, err := s.node(c)
		if err != nil {
			return c, false, nil, 0, fmt.Errorf("share: read %s: block %s: %w", s.root, c, err)
		}
		leaf, data, nf, err := split(nd)
		if err != nil {
			return c, false, nil, 0, fmt.Errorf("share: read %s: block %s: %w", s.root, c, err)
		}
		if leaf {
			return c, false, data, hint, nil
		}
		if err := s.push(nf); err != nil {
			return c, false, nil, 0, err
		}
	}
	return cid.Undef, false, nil, 0, io.EOF
}

// readLeaf reads the raw leaf c into p, waiting for it; see ReadInto for a
// short p.
func (s *Stream) readLeaf(c cid.Cid, p []byte) (int, error) {
	for {
		n, err := s.src.ReadInto(s.ctx, c, p)
		if err == nil || !format.IsNotFound(err) {
			return n, err
		}
		if err := s.wait(c); err != nil {
			return 0, err
		}
	}
}

// dropSkip drops the bytes a seek skips from the start of leaf data.
func (s *Stream) dropSkip(data []byte) []byte {
	k := min(s.skip, int64(len(data)))
	s.skip = 0
	return data[k:]
}

// load makes the next leaf's data current for Read.
func (s *Stream) load() error {
	c, raw, data, _, err := s.nextLeaf()
	if err != nil {
		return err
	}
	if raw {
		if s.leaf == nil {
			s.leaf = make([]byte, DefaultChunkSize)
		}
		n, err := s.readLeaf(c, s.leaf)
		if errors.Is(err, io.ErrShortBuffer) && n <= maxBlockSize {
			s.leaf = make([]byte, n)
			n, err = s.readLeaf(c, s.leaf)
		}
		if err != nil {
			return fmt.Errorf("share: read %s: block %s: %w", s.root, c, err)
		}
		data = s.leaf[:n]
	}
	s.cur = s.dropSkip(data)
	return nil
}

// Read reads the next bytes of the file, waiting for blocks that are not
// there yet. It returns io.EOF at the end.
func (s *Stream) Read(p []byte) (int, error) {
	if s.closed {
		return 0, errStreamClosed
	}
	if s.err != nil {
		return 0, s.err
	}
	if s.atEnd() {
		return 0, io.EOF
	}
	if s.end >= 0 && int64(len(p)) > s.end-s.pos {
		p = p[:s.end-s.pos]
	}
	if len(p) == 0 {
		return 0, nil
	}
	for len(s.cur) == 0 {
		if err := s.load(); err != nil {
			if !errors.Is(err, io.EOF) {
				s.err = err
			}
			return 0, err
		}
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	s.pos += int64(n)
	return n, nil
}

// WriteTo writes the rest of the file (up to SetEnd's end) to w, in writes
// of up to 1 MiB while the blocks are there, and writes out what it holds
// before it waits for a block, so w sees every byte as soon as it is
// available.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	if s.closed {
		return 0, errStreamClosed
	}
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.writeTo(w)
	if err != nil {
		s.err = err
	}
	return n, err
}

func (s *Stream) writeTo(w io.Writer) (int64, error) {
	var (
		written int64
		buf     = make([]byte, streamBufSize)
		held    int
	)
	write := func(p []byte) error {
		n, err := w.Write(p)
		written += int64(n)
		if err == nil && n < len(p) {
			err = io.ErrShortWrite
		}
		return err
	}
	flush := func() error {
		if held == 0 {
			return nil
		}
		err := write(buf[:held])
		held = 0
		return err
	}
	s.flush = flush
	defer func() { s.flush = nil }()
	if len(s.cur) > 0 && !s.atEnd() {
		k := len(s.cur)
		if s.end >= 0 {
			k = int(min(int64(k), s.end-s.pos))
		}
		err := write(s.cur[:k])
		s.pos += int64(k)
		s.cur = s.cur[k:]
		if err != nil {
			return written, err
		}
	}
	for {
		if s.atEnd() {
			return written, flush()
		}
		c, raw, data, hint, err := s.nextLeaf()
		if err != nil {
			if ferr := flush(); ferr != nil || errors.Is(err, io.EOF) {
				return written, ferr
			}
			return written, err
		}
		if !raw {
			data = s.dropSkip(data)
			if s.end >= 0 && int64(len(data)) > s.end-s.pos {
				s.cur = data[s.end-s.pos:]
				data = data[:s.end-s.pos]
			}
			s.pos += int64(len(data))
			if len(data) > len(buf)-held {
				if err := flush(); err != nil {
					return written, err
				}
			}
			if len(data) >= len(buf) {
				if err := write(data); err != nil {
					return written, err
				}
				continue
			}
			held += copy(buf[held:], data)
			continue
		}
		if hint > int64(len(buf)-held) {
			if err := flush(); err != nil {
				return written, err
			}
		}
		var n int
		for {
			n, err = s.src.ReadInto(s.ctx, c, buf[held:])
			if errors.Is(err, io.ErrShortBuffer) && n <= maxBlockSize && (held > 0 || n > len(buf)) {
				// Write out what is held, then read the leaf at the start.
				if err := flush(); err != nil {
					return written, err
				}
				if n > len(buf) {
					buf = make([]byte, n)
				}
				continue
			}
			if err == nil || !format.IsNotFound(err) {
				break
			}
			// wait writes out what is held: read again at the new start.
			if err = s.wait(c); err != nil {
				break
			}
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return written, ferr
			}
			return written, fmt.Errorf("share: read %s: block %s: %w", s.root, c, err)
		}
		if k := min(s.skip, int64(n)); k > 0 {
			copy(buf[held:], buf[held+int(k):held+n])
			n -= int(k)
			s.skip = 0
		}
		if s.end >= 0 && int64(n) > s.end-s.pos {
			// Keep the rest of the leaf for a later read past a new end.
			keep := int(s.end - s.pos)
			s.cur = bytes.Clone(buf[held+keep : held+n])
			n = keep
		}
		held += n
		s.pos += int64(n)
		if held == len(buf) {
			if err := flush(); err != nil {
				return written, err
			}
		}
	}
}

// Seek sets the position of the next Read or WriteTo, as io.Seeker does.
// It walks the DAG down to the leaf holding the position, waiting for the
// blocks on the way, by the block sizes the UnixFS nodes state; a DAG
// whose nodes lack them gives uio.ErrSeekNotSupported for any position but
// the start. A position past the end makes reads return io.EOF.
func (s *Stream) Seek(offset int64, whence int) (int64, error) {
	if s.closed {
		return 0, errStreamClosed
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.pos
	case io.SeekEnd:
		offset += int64(min(s.size, 1<<62))
	default:
		return s.pos, fmt.Errorf("share: seek: bad whence %d", whence)
	}
	if offset < 0 {
		return s.pos, fmt.Errorf("share: seek to %d: negative position", offset)
	}
	if offset == s.pos && s.err == nil {
		return s.pos, nil
	}
	s.err = nil
	if err := s.seek(offset); err != nil {
		// Leave the stream at the start rather than half way down a walk.
		s.rewind()
		return 0, err
	}
	return s.pos, nil
}

// seek walks from the root down to offset.
func (s *Stream) seek(offset int64) error {
	s.rewind()
	left := offset
	for left > 0 && len(s.stack) > 0 {
		f := &s.stack[len(s.stack)-1]
		if f.sizes == nil {
			return fmt.Errorf("share: seek %s to %d: %w", s.root, offset, uio.ErrSeekNotSupported)
		}
		for f.next < len(f.links) && uint64(left) >= f.sizes[f.next] {
			left -= int64(f.sizes[f.next])
			f.next++
		}
		if f.next == len(f.links) {
			// Past the end of this node, which claims less than its parent
			// said: go on with the parent's next child, as a read would.
			s.stack = s.stack[:len(s.stack)-1]
			continue
		}
		c := f.links[f.next]
		if c.Prefix().Codec == cid.Raw {
			s.skip = left
			break
		}
		nd, err := s.node(c)
		if err != nil {
			return fmt.Errorf("share: seek %s to %d: block %s: %w", s.root, offset, c, err)
		}
		f.next++
		leaf, data, nf, err := split(nd)
		if err != nil {
			return fmt.Errorf("share: seek %s to %d: block %s: %w", s.root, offset, c, err)
		}
		if leaf {
			s.cur = data[min(left, int64(len(data))):]
			break
		}
		if err := s.push(nf); err != nil {
			return err
		}
	}
	s.pos = offset
	return nil
}

// Close releases the stream's buffers; later calls return an error.
func (s *Stream) Close() error {
	s.closed = true
	s.stack, s.cur, s.leaf = nil, nil, nil
	return nil
}
