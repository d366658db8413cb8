package share

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// hostile builds hand-made UnixFS nodes in a real Store, as a hostile peer
// may send them: nothing checks names, duplicates or declared sizes.
type hostile struct {
	t testing.TB
	s interface {
		Put(context.Context, blocks.Block) error
	}
}

// hlink is one directory entry of a hostile directory.
type hlink struct {
	name string
	c    cid.Cid
}

var v1Builder = cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256}

func (h hostile) put(nd format.Node) cid.Cid {
	h.t.Helper()
	if err := h.s.Put(h.t.Context(), nd); err != nil {
		h.t.Fatalf("Put: %v", err)
	}
	return nd.Cid()
}

// file is a file of one raw leaf.
func (h hostile) file(data string) cid.Cid {
	return h.put(merkledag.NewRawNode([]byte(data)))
}

func (h hostile) symlink(target string) cid.Cid {
	h.t.Helper()
	data, err := ft.SymlinkData(target)
	if err != nil {
		h.t.Fatal(err)
	}
	nd := merkledag.NodeWithData(data)
	nd.SetCidBuilder(v1Builder)
	return h.put(nd)
}

// dir is a directory whose links are exactly links, in this order (a
// stable sort by name keeps the order of equal names).
func (h hostile) dir(links ...hlink) cid.Cid {
	h.t.Helper()
	nd := merkledag.NodeWithData(ft.FolderPBData())
	nd.SetCidBuilder(v1Builder)
	for _, l := range links {
		if err := nd.AddRawLink(l.name, &format.Link{Cid: l.c}); err != nil {
			h.t.Fatal(err)
		}
	}
	return h.put(nd)
}

// bigFile is a file whose root declares size bytes in len(sizes) parts,
// each a link to leaf: the root states what it likes.
func (h hostile) bigFile(leaf cid.Cid, sizes ...uint64) cid.Cid {
	h.t.Helper()
	fsn := ft.NewFSNode(ft.TFile)
	nd := new(merkledag.ProtoNode)
	nd.SetCidBuilder(v1Builder)
	for _, s := range sizes {
		fsn.AddBlockSize(s)
		if err := nd.AddRawLink("", &format.Link{Cid: leaf, Size: s}); err != nil {
			h.t.Fatal(err)
		}
	}
	data, err := fsn.GetBytes()
	if err != nil {
		h.t.Fatal(err)
	}
	nd.SetData(data)
	return h.put(nd)
}

// bigFileOf is a file whose root links each of leaves, declaring size
// bytes for each.
func (h hostile) bigFileOf(leaves []cid.Cid, size uint64) cid.Cid {
	h.t.Helper()
	fsn := ft.NewFSNode(ft.TFile)
	nd := new(merkledag.ProtoNode)
	nd.SetCidBuilder(v1Builder)
	for _, l := range leaves {
		fsn.AddBlockSize(size)
		if err := nd.AddRawLink("", &format.Link{Cid: l, Size: size}); err != nil {
			h.t.Fatal(err)
		}
	}
	data, err := fsn.GetBytes()
	if err != nil {
		h.t.Fatal(err)
	}
	nd.SetData(data)
	return h.put(nd)
}

// snapshot describes every path under dir: its type and content or
// target.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link:" + l
		case d.IsDir():
			out[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = "file:" + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

// victimTree makes base/victim with a file and a directory a hostile DAG
// aims at, and base/out, the parent of the destination.
func victimTree(t testing.TB, base string) (victim, out string) {
	t.Helper()
	victim = filepath.Join(base, "victim")
	writeFile(t, victim, "secret.txt", []byte("victim data"))
	if err := os.MkdirAll(filepath.Join(victim, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(base, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return victim, out
}

// TestWriteToRefusesHostileDirectory: a directory that lists a name twice
// (a symlink out of the destination, then a file or directory of the same
// name), or twice up to case, or a bad name, is refused with an error
// naming the entry; nothing outside the destination changes and nothing
// appears at it (issue 11, finding 1: the file behind the symlink was
// overwritten and WriteTo returned nil).
func TestWriteToRefusesHostileDirectory(t *testing.T) {
	s := newTestStore(t, StoreConfig{})
	h := hostile{t, s}
	base := t.TempDir()
	victim, out := victimTree(t, base)
	before := snapshot(t, victim)
	secret := filepath.Join(victim, "secret.txt")
	tests := []struct {
		name  string
		root  cid.Cid
		entry string // the error names it
	}{
		{"symlink absolute then file", h.dir(
			hlink{"x", h.symlink(secret)},
			hlink{"x", h.file("pwned")}), `"x"`},
		{"symlink dotdot then file", h.dir(
			hlink{"x", h.symlink("../victim/secret.txt")},
			hlink{"x", h.file("pwned")}), `"x"`},
		{"nested symlink dotdot then file", h.dir(hlink{"sub", h.dir(
			hlink{"x", h.symlink("../../victim/secret.txt")},
			hlink{"x", h.file("pwned")})}), `"x"`},
		{"symlink to dir then dir", h.dir(
			hlink{"d", h.symlink(filepath.Join(victim, "dir"))},
			hlink{"d", h.dir(hlink{"planted", h.file("pwned")})}), `"d"`},
		{"symlink dotdot to dir then dir", h.dir(
			hlink{"d", h.symlink("../victim/dir")},
			hlink{"d", h.dir(hlink{"planted", h.file("pwned")})}), `"d"`},
		{"case-folded duplicate", h.dir(
			hlink{"X", h.symlink(secret)},
			hlink{"x", h.file("pwned")}), `"x"`},
		{"unicode case-folded duplicate", h.dir(
			hlink{"Straße", h.symlink(secret)},
			hlink{"STRASSE", h.file("other")},
			hlink{"straße", h.file("pwned")}), `"straße"`},
		{"normalisation duplicate", h.dir(
			hlink{"caf\u00e9", h.symlink(secret)},
			hlink{"cafe\u0301", h.file("pwned")}), "\"cafe\u0301\""},
		{"duplicate file", h.dir(
			hlink{"f", h.file("one")},
			hlink{"f", h.file("two")}), `"f"`},
		{"empty name", h.dir(hlink{"", h.file("pwned")}), `""`},
		{"dot", h.dir(hlink{".", h.file("pwned")}), `"."`},
		{"dotdot", h.dir(hlink{"..", h.file("pwned")}), `".."`},
		{"slash", h.dir(hlink{"../victim/secret.txt", h.file("pwned")}), `"../victim/secret.txt"`},
		{"nul", h.dir(hlink{"a\x00b", h.file("pwned")}), `"a\x00b"`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(out, "get"+string(rune('a'+i)))
			err := s.WriteTo(t.Context(), tt.root, dst)
			if !errors.Is(err, ErrUnsafeEntry) {
				t.Errorf("WriteTo(%s) = %v, want ErrUnsafeEntry", tt.name, err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.entry) {
				t.Errorf("WriteTo(%s) = %q, want it to name the entry %s", tt.name, err, tt.entry)
			}
			if got := snapshot(t, victim); !mapsEqual(got, before) {
				t.Errorf("WriteTo(%s) changed the victim tree: %v, was %v", tt.name, got, before)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("WriteTo(%s) left %v in the destination's directory", tt.name, names(ents))
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func names(ents []os.DirEntry) []string {
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestWriteToWritesSymlinksAsLinks: symlinks pointing anywhere (an
// absolute path, "..", through other links) are written as symlinks with
// their targets, and nothing is written through them.
func TestWriteToWritesSymlinksAsLinks(t *testing.T) {
	s := newTestStore(t, StoreConfig{})
	h := hostile{t, s}
	base := t.TempDir()
	victim, out := victimTree(t, base)
	before := snapshot(t, victim)
	secret := filepath.Join(victim, "secret.txt")
	root := h.dir(
		hlink{"abs", h.symlink(secret)},
		hlink{"absdir", h.symlink(filepath.Join(victim, "dir"))},
		hlink{"up", h.symlink("../../victim/secret.txt")},
		hlink{"upup", h.symlink("..")},
		hlink{"sub", h.dir(
			hlink{"f", h.file("inside")},
			hlink{"back", h.symlink("../upup/victim")},
		)},
	)
	dst := filepath.Join(out, "got")
	if err := s.WriteTo(t.Context(), root, dst); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	want := map[string]string{
		".":        "dir",
		"abs":      "link:" + secret,
		"absdir":   "link:" + filepath.Join(victim, "dir"),
		"up":       "link:../../victim/secret.txt",
		"upup":     "link:..",
		"sub":      "dir",
		"sub/f":    "file:inside",
		"sub/back": "link:../upup/victim",
	}
	if got := snapshot(t, dst); !mapsEqual(got, want) {
		t.Errorf("WriteTo wrote %v, want %v", got, want)
	}
	if got := snapshot(t, victim); !mapsEqual(got, before) {
		t.Errorf("WriteTo changed the victim tree: %v, was %v", got, before)
	}
	// A symlink as the root is written as a link too.
	ldst := filepath.Join(out, "link")
	if err := s.WriteTo(t.Context(), h.symlink(secret), ldst); err != nil {
		t.Fatalf("WriteTo(symlink): %v", err)
	}
	if l, err := os.Readlink(ldst); err != nil || l != secret {
		t.Errorf("WriteTo(symlink) -> %q, %v; want %q", l, err, secret)
	}
}

// TestWriteToReplacesSymlinkAtDst: a symlink already at dst is replaced,
// not written through.
func TestWriteToReplacesSymlinkAtDst(t *testing.T) {
	s := newTestStore(t, StoreConfig{})
	h := hostile{t, s}
	base := t.TempDir()
	victim, out := victimTree(t, base)
	before := snapshot(t, victim)
	dst := filepath.Join(out, "got")
	if err := os.Symlink(filepath.Join(victim, "secret.txt"), dst); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteTo(t.Context(), h.file("new"), dst); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if got, err := os.ReadFile(dst); err != nil || string(got) != "new" {
		t.Errorf("dst = %q, %v; want new", got, err)
	}
	if fi, err := os.Lstat(dst); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("dst is %v, %v; want a regular file", fi, err)
	}
	if got := snapshot(t, victim); !mapsEqual(got, before) {
		t.Errorf("WriteTo changed the victim tree: %v, was %v", got, before)
	}
}

const petabyte = 1 << 50

// TestWriteToRefusesDAGBomb: a DAG of a few blocks whose root declares a
// petabyte, as a file or as a directory that links one subtree many times,
// is refused at once with ErrTooLarge, and nothing is written (issue 11,
// finding 6).
func TestWriteToRefusesDAGBomb(t *testing.T) {
	s := newTestStore(t, StoreConfig{})
	h := hostile{t, s}
	leaf := h.file(strings.Repeat("z", 1000))
	// A fan-out: each level links the one below 1000 times, declaring
	// honest sizes: 1000^4 leaves of 1000 bytes.
	level := leaf
	size := uint64(1000)
	for range 4 {
		sizes := make([]uint64, 1000)
		for i := range sizes {
			sizes[i] = size
		}
		level = h.bigFile(level, sizes...)
		size *= 1000
	}
	fanout := level
	// A directory of 1000 entries naming one directory of 1000 entries
	// naming ... one file of 1 GiB.
	d := h.bigFile(leaf, 1<<30)
	for range 4 {
		links := make([]hlink, 1000)
		for i := range links {
			links[i] = hlink{fmt.Sprintf("n%d", i), d}
		}
		d = h.dir(links...)
	}
	tests := []struct {
		name string
		root cid.Cid
	}{
		{"declared petabyte", h.bigFile(leaf, petabyte/2, petabyte/2)},
		{"fan-out of repeated links", fanout},
		{"directory of repeated subtrees", d},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			dst := filepath.Join(out, "bomb")
			start := time.Now()
			err := s.WriteTo(t.Context(), tt.root, dst)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("WriteTo(%s) = %v, want ErrTooLarge", tt.name, err)
			}
			t.Logf("refused in %v: %v", time.Since(start), err)
			if !strings.Contains(err.Error(), "free space") {
				t.Errorf("WriteTo(%s) = %q, want it to say the free space", tt.name, err)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("WriteTo(%s) left %v", tt.name, names(ents))
			}
		})
	}
}

// TestWriteToStopsAtDeclaredSize: a file whose leaves hold more than its
// root declares is stopped after the declared bytes, not written to the
// end, and nothing is left.
func TestWriteToStopsAtDeclaredSize(t *testing.T) {
	s := newTestStore(t, StoreConfig{})
	h := hostile{t, s}
	leaf := h.file(strings.Repeat("z", 1000))
	// Each level declares 1 byte a link but holds 1000 leaves of 1000.
	level := leaf
	for range 3 {
		sizes := make([]uint64, 1000)
		for i := range sizes {
			sizes[i] = 1
		}
		level = h.bigFile(level, sizes...)
	}
	inDir := h.dir(hlink{"f", level})
	for _, root := range []cid.Cid{level, inDir} {
		out := t.TempDir()
		dst := filepath.Join(out, "liar")
		err := s.WriteTo(t.Context(), root, dst)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("WriteTo(%s) = %v, want ErrTooLarge", root, err)
		}
		if ents, _ := os.ReadDir(out); len(ents) != 0 {
			t.Errorf("WriteTo(%s) left %v", root, names(ents))
		}
	}
}

// TestWriteToMaxBytes: MaxBytes refuses a DAG declaring more, naming the
// declared size and the cap, and lets one declaring less through.
func TestWriteToMaxBytes(t *testing.T) {
	s := newTestStore(t, StoreConfig{})
	data := randomBytes(3, 300<<10)
	root := addBytes(t, s, data, AddOptions{})
	h := hostile{t, s}
	dirRoot := h.dir(hlink{"a", root}, hlink{"b", root})
	tests := []struct {
		name     string
		root     cid.Cid
		maxBytes int64
		wantErr  bool
	}{
		{"file under cap", root, 300 << 10, false},
		{"file over cap", root, 300<<10 - 1, true},
		{"dir under cap", dirRoot, 600 << 10, false},
		{"dir over cap", dirRoot, 600<<10 - 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "out")
			err := s.WriteToOptions(t.Context(), tt.root, dst, WriteFileOptions{MaxBytes: tt.maxBytes, NoSync: true})
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("WriteToOptions(MaxBytes %d) = %v", tt.maxBytes, err)
				}
				return
			}
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "cap") {
				t.Fatalf("WriteToOptions(MaxBytes %d) = %v, want ErrTooLarge naming the cap", tt.maxBytes, err)
			}
			if _, serr := os.Lstat(dst); !os.IsNotExist(serr) {
				t.Errorf("a refused write left %s", dst)
			}
		})
	}
	// WriteStream (get of a file while it is fetched) applies the cap too.
	dst := filepath.Join(t.TempDir(), "out")
	err := WriteStream(t.Context(), localSource{s}, root, dst, WriteFileOptions{MaxBytes: 1000})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("WriteStream(MaxBytes 1000) = %v, want ErrTooLarge", err)
	}
	if got := bytes.Contains([]byte(err.Error()), []byte("300.0 KiB")); !got {
		t.Errorf("WriteStream(MaxBytes 1000) = %q, want the declared size in it", err)
	}
}
