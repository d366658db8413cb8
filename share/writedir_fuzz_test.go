package share

import (
	"os"
	"path/filepath"
	"testing"

	cid "github.com/ipfs/go-cid"
)

// fuzzNames are the entry names FuzzWriteDir picks from: plain, case and
// normalisation variants, and bad ones.
var fuzzNames = []string{"x", "X", "d", "D", "s", "caf\u00e9", "cafe\u0301", "CAF\u00c9", "", ".", "..", "a/b", "a\x00b", `a\b`, "victim", "out"}

// fuzzTree builds a directory from fuzz bytes: a small program whose ops
// add files, symlinks (pointing into the victim tree, out of the
// destination, or at other entries), nested directories, and duplicates of
// the last name; names come from fuzzNames or straight from the input.
type fuzzTree struct {
	h      hostile
	data   []byte
	victim string
	nodes  int
}

func (b *fuzzTree) next() (byte, bool) {
	if len(b.data) == 0 {
		return 0, false
	}
	c := b.data[0]
	b.data = b.data[1:]
	return c, true
}

func (b *fuzzTree) name() string {
	c, _ := b.next()
	if c < 0xf0 {
		return fuzzNames[int(c)%len(fuzzNames)]
	}
	n := int(c - 0xf0)
	raw := make([]byte, 0, n)
	for range n {
		r, ok := b.next()
		if !ok {
			break
		}
		raw = append(raw, r)
	}
	return string(raw)
}

func (b *fuzzTree) target() string {
	c, _ := b.next()
	targets := []string{
		filepath.Join(b.victim, "secret.txt"), filepath.Join(b.victim, "dir"), b.victim,
		"../victim/secret.txt", "../../victim/dir", "..", "../..", "/", ".", "x", "d/x", "D",
	}
	return targets[int(c)%len(targets)]
}

// dir reads entries until the input ends or a close op, depth levels deep.
func (b *fuzzTree) dir(depth int) cid.Cid {
	var links []hlink
	for b.nodes < 64 {
		op, ok := b.next()
		if !ok {
			break
		}
		b.nodes++
		switch op % 6 {
		case 0:
			n := b.name()
			c, _ := b.next()
			links = append(links, hlink{n, b.h.file(string(make([]byte, int(c)%50)) + n)})
		case 1:
			links = append(links, hlink{b.name(), b.h.symlink(b.target())})
		case 2:
			if depth < 6 {
				n := b.name()
				links = append(links, hlink{n, b.dir(depth + 1)})
			}
		case 3:
			if depth > 0 {
				return b.h.dir(links...)
			}
		case 4, 5:
			// The last name again, as a file (4) or a directory (5).
			if len(links) == 0 {
				continue
			}
			n := links[len(links)-1].name
			if op%6 == 4 {
				links = append(links, hlink{n, b.h.file("pwned")})
			} else {
				links = append(links, hlink{n, b.h.dir(hlink{"planted", b.h.file("pwned")})})
			}
		}
	}
	return b.h.dir(links...)
}

// FuzzWriteDir writes directories generated from fuzz bytes with WriteTo
// into a destination beside a victim tree, and checks that nothing outside
// the destination changed (walked and compared), that a failed write left
// nothing at the destination, and that nothing panicked (issue 11,
// finding 1).
func FuzzWriteDir(f *testing.F) {
	seeds := [][]byte{
		{0, 0, 1},                          // one file
		{1, 0, 0, 4},                       // symlink x -> secret, then file x
		{1, 2, 1, 5},                       // symlink d -> victim/dir, then dir d
		{1, 0, 3, 0, 1, 3},                 // symlink x -> ../victim/secret.txt, file X
		{1, 5, 0, 0, 6, 0},                 // café (NFC) symlink, café (NFD) file
		{2, 2, 1, 0, 4, 4, 3, 0, 0, 1},     // nested dir with a ".." symlink then a file
		{0, 8, 0, 0, 9, 0, 0, 10, 0},       // empty, ".", ".." names
		{0, 0xf3, 'a', '/', 'b', 0},        // raw name with a slash
		{2, 14, 1, 0, 3, 3, 0, 14, 0, 5},   // "victim" dir, then "victim" file
		{1, 15, 5, 2, 4, 0, 1, 3, 0, 1, 2}, // "out" -> "..", dirs below
	}
	for _, s := range seeds {
		f.Add(s)
	}
	s := newTestStore(f, StoreConfig{})
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		victim, out := victimTree(t, base)
		before := snapshot(t, base)
		b := &fuzzTree{h: hostile{t, s}, data: data, victim: victim}
		root := b.dir(0)
		dst := filepath.Join(out, "dst")
		err := s.WriteToOptions(t.Context(), root, dst, WriteFileOptions{NoSync: true})
		after := snapshot(t, base)
		for k := range after {
			if k == "out/dst" || filepath.Dir(k) == "out/dst" || len(k) > len("out/dst/") && k[:len("out/dst/")] == "out/dst/" {
				delete(after, k)
			}
		}
		if !mapsEqual(after, before) {
			t.Fatalf("WriteTo changed things outside the destination (err %v):\ngot  %v\nwant %v", err, after, before)
		}
		if err != nil {
			if _, serr := os.Lstat(dst); !os.IsNotExist(serr) {
				t.Fatalf("WriteTo failed (%v) but left %s", err, dst)
			}
		}
	})
}
