package share

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

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
// writes into a temporary path in dst's directory (".<name>.enxame-tmp-*")
// and renames it to dst only when everything is written, so dst never holds
// a partial result; on error the temporary path is removed. An existing
// file at dst is replaced; an existing directory is an error.
func (r *Reader) WriteTo(ctx context.Context, root cid.Cid, dst string) error {
	dst = filepath.Clean(dst)
	if fi, err := os.Lstat(dst); err == nil && fi.IsDir() {
		return fmt.Errorf("share: get %s: %s: %w", root, dst, os.ErrExist)
	}
	nd, err := r.ng.Get(ctx, root)
	if err != nil {
		return fmt.Errorf("share: get %s: %w", root, err)
	}
	t, _, err := nodeType(nd)
	if err != nil {
		return fmt.Errorf("share: get %s: %w", root, err)
	}
	parent, name := filepath.Dir(dst), filepath.Base(dst)
	var tmp string
	switch t {
	case TypeDir:
		tmp, err = os.MkdirTemp(parent, "."+name+".enxame-tmp-")
	default:
		var f *os.File
		f, err = os.CreateTemp(parent, "."+name+".enxame-tmp-")
		if err == nil {
			tmp = f.Name()
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("share: get %s: %w", root, err)
	}
	if t == TypeSymlink {
		os.Remove(tmp)
	}
	if err := r.write(ctx, nd, tmp, t == TypeDir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("share: get %s: %w", root, err)
	}
	if !r.cfg.NoSync {
		if err := syncDir(parent); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("share: get %s: %w", root, err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("share: get %s: %w", root, err)
	}
	if !r.cfg.NoSync {
		if err := syncDir(parent); err != nil {
			return fmt.Errorf("share: get %s: %w", root, err)
		}
	}
	return nil
}

// WriteTo is NewReader(ReaderConfig{}, s).WriteTo: it reads local blocks
// only.
func (s *Store) WriteTo(ctx context.Context, root cid.Cid, dst string) error {
	return NewReader(ReaderConfig{}, s).WriteTo(ctx, root, dst)
}

// write writes nd at path; for a directory, path exists already when
// exists is true.
func (r *Reader) write(ctx context.Context, nd format.Node, path string, exists bool) error {
	t, _, err := nodeType(nd)
	if err != nil {
		return err
	}
	switch t {
	case TypeSymlink:
		fsn, err := ft.FSNodeFromBytes(nd.(*merkledag.ProtoNode).Data())
		if err != nil {
			return err
		}
		return os.Symlink(string(fsn.Data()), path)
	case TypeDir:
		if !exists {
			if err := os.Mkdir(path, 0o755); err != nil {
				return err
			}
		}
		d, err := uio.NewDirectoryFromNode(r.ng, nd)
		if err != nil {
			return err
		}
		links, err := d.Links(ctx)
		if err != nil {
			return err
		}
		for _, l := range links {
			if !validName(l.Name) {
				return fmt.Errorf("directory entry %q: %w", l.Name, errBadName)
			}
			child, err := r.ng.Get(ctx, l.Cid)
			if err != nil {
				return fmt.Errorf("%s: %w", l.Name, err)
			}
			if err := r.write(ctx, child, filepath.Join(path, l.Name), false); err != nil {
				return err
			}
		}
		if !r.cfg.NoSync {
			return syncDir(path)
		}
		return nil
	default:
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		dr, err := uio.NewDagReader(ctx, nd, r.ng)
		if err != nil {
			f.Close()
			return err
		}
		_, err = dr.WriteTo(f)
		dr.Close()
		if err == nil && !r.cfg.NoSync {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
}

var errBadName = errors.New("share: unsafe name")

// validName rejects names that would escape the destination directory.
func validName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\\\x00")
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
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
