package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unicode"

	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	cid "github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
	"golang.org/x/text/unicode/norm"
)

// ErrUnsafeEntry is wrapped by a write of a directory that has an entry
// which could escape the destination or clobber another entry: a name that
// is empty, "." or "..", or holds a path separator or NUL, or a name that
// is there twice, exactly or up to case and Unicode normalisation (the
// same file on case-insensitive file systems). Nothing is written then.
var ErrUnsafeEntry = errors.New("share: unsafe directory entry")

// maxDirDepth bounds how deep directories nest in a DAG that WriteTo
// writes.
const maxDirDepth = 512

// maxDirEntries bounds the entries of one directory that WriteTo reads
// (a HAMT directory whose shards link the same shard again and again
// would otherwise enumerate without end).
const maxDirEntries = 1 << 24

// entryCost is the disk space WriteTo counts for each entry of a directory
// besides its bytes: about one file system block.
const entryCost = 4096

// treeSize is what a DAG declares it needs on disk: the bytes of its
// files, its entries (files, directories, symlinks) and how many
// directories deep it nests.
type treeSize struct {
	bytes, entries uint64
	height         int
}

// treeWriter writes a UnixFS DAG beneath an os.Root: nothing it writes
// can land outside the root, files are created new (O_EXCL, and
// O_NOFOLLOW where the OS has it), symlinks are created as symlinks and
// never followed, and each file gets at most the bytes its root declares.
type treeWriter struct {
	ng     nodeGetter
	noSync bool
	// memo holds the size of each node measured, so a DAG that links one
	// subtree many times is measured once per distinct node.
	memo map[cid.Cid]treeSize
}

func newTreeWriter(ng nodeGetter, noSync bool) *treeWriter {
	return &treeWriter{ng: ng, noSync: noSync, memo: make(map[cid.Cid]treeSize)}
}

// WriteToOptions is WriteTo with options: opts.MaxBytes caps the size the
// DAG declares, and opts.NoSync (or the Reader's NoSync) skips the fsyncs.
//
// Before it writes anything it reads every directory of the DAG and the
// root block of every file, refuses a directory with an unsafe entry
// (ErrUnsafeEntry, naming the entry), and refuses (ErrTooLarge) a DAG that
// declares more bytes than MaxBytes, or more bytes (counting a block per
// entry) or entries than the destination's file system has free. While
// writing it stops a file whose leaves hold more bytes than its root
// declares (ErrTooLarge), so a DAG cannot write more than it declared.
// Everything is written through an os.Root of dst's directory.
func (r *Reader) WriteToOptions(ctx context.Context, root cid.Cid, dst string, opts WriteFileOptions) error {
	if err := r.writeTo(ctx, root, dst, opts); err != nil {
		return fmt.Errorf("share: get %s: %w", root, err)
	}
	return nil
}

func (r *Reader) writeTo(ctx context.Context, root cid.Cid, dst string, opts WriteFileOptions) error {
	dst = filepath.Clean(dst)
	if fi, err := os.Lstat(dst); err == nil && fi.IsDir() {
		return fmt.Errorf("%s: %w", dst, os.ErrExist)
	}
	nd, err := r.ng.Get(ctx, root)
	if err != nil {
		return err
	}
	t, _, err := nodeType(nd)
	if err != nil {
		return err
	}
	w := newTreeWriter(r.ng, opts.NoSync || r.cfg.NoSync)
	size, err := w.measure(ctx, nd, 0)
	if err != nil {
		return err
	}
	parent, name := filepath.Dir(dst), filepath.Base(dst)
	if err := checkRoom(parent, size, opts.MaxBytes); err != nil {
		return err
	}
	pr, err := os.OpenRoot(parent)
	if err != nil {
		return err
	}
	defer pr.Close()
	tmp, f, err := createTemp(pr, name, t == TypeDir, t == TypeSymlink)
	if err != nil {
		return err
	}
	if f != nil {
		err = w.writeFile(ctx, f, nd)
	} else {
		err = w.write(ctx, pr, tmp, nd, true, 0)
	}
	if err == nil && !w.noSync {
		err = syncRoot(pr)
	}
	if err == nil {
		err = pr.Rename(tmp, name)
	}
	if err != nil {
		pr.RemoveAll(tmp)
		return err
	}
	if !w.noSync {
		return syncRoot(pr)
	}
	return nil
}

// measureCID is measure of the node c, which it reads only when it has
// not measured it yet.
func (w *treeWriter) measureCID(ctx context.Context, c cid.Cid, depth int) (treeSize, error) {
	if s, ok := w.memo[c]; ok {
		if depth+s.height > maxDirDepth {
			return treeSize{}, fmt.Errorf("directories nested deeper than %d: %w", maxDirDepth, ErrTooLarge)
		}
		return s, nil
	}
	nd, err := w.ng.Get(ctx, c)
	if err != nil {
		return treeSize{}, err
	}
	return w.measure(ctx, nd, depth)
}

// measure returns what the DAG at nd declares it needs, and checks every
// directory's entries on the way (dirLinks).
func (w *treeWriter) measure(ctx context.Context, nd format.Node, depth int) (treeSize, error) {
	if s, ok := w.memo[nd.Cid()]; ok && depth+s.height <= maxDirDepth {
		return s, nil
	}
	t, size, err := nodeType(nd)
	if err != nil {
		return treeSize{}, err
	}
	s := treeSize{bytes: size, entries: 1}
	if t == TypeDir {
		if depth >= maxDirDepth {
			return treeSize{}, fmt.Errorf("directories nested deeper than %d: %w", maxDirDepth, ErrTooLarge)
		}
		links, err := w.dirLinks(ctx, nd)
		if err != nil {
			return treeSize{}, err
		}
		for _, l := range links {
			if err := ctx.Err(); err != nil {
				return treeSize{}, err
			}
			cs, err := w.measureCID(ctx, l.Cid, depth+1)
			if err != nil {
				return treeSize{}, fmt.Errorf("%s: %w", l.Name, err)
			}
			s.bytes = satAdd(s.bytes, cs.bytes)
			s.entries = satAdd(s.entries, cs.entries)
			s.height = max(s.height, cs.height+1)
		}
	}
	w.memo[nd.Cid()] = s
	return s, nil
}

// dirLinks returns the entries of the directory nd, refusing (with
// ErrUnsafeEntry) a name that is not safe or that is there twice, exactly
// or up to case.
func (w *treeWriter) dirLinks(ctx context.Context, nd format.Node) ([]*format.Link, error) {
	d, err := uio.NewDirectoryFromNode(w.ng, nd)
	if err != nil {
		return nil, err
	}
	var links []*format.Link
	names := make(map[string]string)
	err = d.ForEachLink(ctx, func(l *format.Link) error {
		if len(links) >= maxDirEntries {
			return fmt.Errorf("directory of more than %d entries: %w", maxDirEntries, ErrTooLarge)
		}
		if err := checkName(l.Name); err != nil {
			return err
		}
		k := foldName(l.Name)
		if prev, ok := names[k]; ok {
			if prev == l.Name {
				return fmt.Errorf("directory entry %q is there twice: %w", l.Name, ErrUnsafeEntry)
			}
			return fmt.Errorf("directory entries %q and %q are one file on a case-insensitive file system: %w", prev, l.Name, ErrUnsafeEntry)
		}
		names[k] = l.Name
		lc := *l
		links = append(links, &lc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return links, nil
}

// write writes nd as name in dir; for a directory, name exists already
// when exists is true.
func (w *treeWriter) write(ctx context.Context, dir *os.Root, name string, nd format.Node, exists bool, depth int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
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
		// Created as a link, never followed: what it points at, inside the
		// destination or not, is not written through it.
		return dir.Symlink(string(fsn.Data()), name)
	case TypeDir:
		if depth >= maxDirDepth {
			return fmt.Errorf("directories nested deeper than %d: %w", maxDirDepth, ErrTooLarge)
		}
		links, err := w.dirLinks(ctx, nd)
		if err != nil {
			return err
		}
		if !exists {
			if err := dir.Mkdir(name, 0o755); err != nil {
				return err
			}
		}
		sub, err := dir.OpenRoot(name)
		if err != nil {
			return err
		}
		defer sub.Close()
		for _, l := range links {
			child, err := w.ng.Get(ctx, l.Cid)
			if err != nil {
				return fmt.Errorf("%s: %w", l.Name, err)
			}
			if err := w.write(ctx, sub, l.Name, child, false, depth+1); err != nil {
				return fmt.Errorf("%s: %w", l.Name, err)
			}
		}
		if !w.noSync {
			return syncRoot(sub)
		}
		return nil
	default:
		f, err := dir.OpenFile(name, createFlags, 0o644)
		if err != nil {
			return err
		}
		return w.writeFile(ctx, f, nd)
	}
}

// writeFile writes the file nd to f, at most the bytes its root declares,
// fsyncs (unless noSync) and closes f.
func (w *treeWriter) writeFile(ctx context.Context, f *os.File, nd format.Node) error {
	_, size, err := nodeType(nd)
	if err != nil {
		f.Close()
		return err
	}
	dr, err := uio.NewDagReader(ctx, nd, w.ng)
	if err != nil {
		f.Close()
		return err
	}
	_, err = dr.WriteTo(&capWriter{w: f, left: size, declared: size})
	dr.Close()
	if err == nil && !w.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// capWriter passes on at most left bytes and fails the write that would
// pass more: a file whose leaves hold more than its root declares.
type capWriter struct {
	w              io.Writer
	left, declared uint64
}

func (c *capWriter) Write(p []byte) (int, error) {
	if uint64(len(p)) <= c.left {
		n, err := c.w.Write(p)
		c.left -= uint64(n)
		return n, err
	}
	n, err := c.w.Write(p[:c.left])
	c.left -= uint64(n)
	if err == nil {
		err = moreThanDeclared(c.declared)
	}
	return n, err
}

func moreThanDeclared(declared uint64) error {
	return fmt.Errorf("file holds more than the %d bytes its root declares: %w", declared, ErrTooLarge)
}

// checkName refuses a directory entry name that could leave its directory.
func checkName(n string) error {
	bad := n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00")
	if runtime.GOOS == "windows" {
		bad = bad || strings.ContainsAny(n, `\:`)
	}
	if bad {
		return fmt.Errorf("directory entry %q: bad name: %w", n, ErrUnsafeEntry)
	}
	return nil
}

// foldName maps the names that a case-insensitive or
// normalisation-insensitive file system (Windows, macOS) takes for one file
// to one key: NFC, then each rune to the smallest rune of its simple case
// folding orbit (the equivalence of strings.EqualFold).
func foldName(n string) string {
	n = norm.NFC.String(n)
	var b strings.Builder
	b.Grow(len(n))
	for _, r := range n {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

// checkRoom refuses (ErrTooLarge) a DAG of size s for a destination in dir
// when it declares more than maxBytes (when not zero), or more than the
// file system of dir has free: bytes plus a block per entry, or entries.
func checkRoom(dir string, s treeSize, maxBytes int64) error {
	free, inodes, ok := freeSpace(dir)
	need := satAdd(s.bytes, satMul(s.entries, entryCost))
	overCap := maxBytes > 0 && s.bytes > uint64(maxBytes)
	overFree := ok && (need > free || s.entries > inodes)
	if !overCap && !overFree {
		return nil
	}
	what := "declares " + formatSize(s.bytes)
	if s.entries > 1 {
		what += fmt.Sprintf(" in %d entries", s.entries)
	}
	capStr := "none"
	if maxBytes > 0 {
		capStr = formatSize(uint64(maxBytes))
	}
	freeStr := "unknown"
	if ok {
		freeStr = formatSize(free)
		if s.entries > inodes {
			freeStr += fmt.Sprintf(" and %d inodes", inodes)
		}
	}
	return fmt.Errorf("DAG %s: cap %s, free space %s: %w", what, capStr, freeStr, ErrTooLarge)
}

// formatSize formats n bytes in binary units, e.g. "1.5 GiB".
func formatSize(n uint64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

func satMul(a, b uint64) uint64 {
	if a != 0 && b > ^uint64(0)/a {
		return ^uint64(0)
	}
	return a * b
}

// syncRoot fsyncs the directory of r.
func syncRoot(r *os.Root) error {
	f, err := r.Open(".")
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
