package share

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/enxame/enxame/internal/kubotest"
)

// TestAddMatchesKubo adds the same files and directories to a real Kubo
// v0.43.1 and to a Store and compares the root CIDs Kubo prints with ours.
// Depth 3 (over 174² leaves) is left to TestAddMatchesBoxo: Kubo stores each
// block as a file and needs about a minute for the 30 277 blocks it takes.
func TestAddMatchesKubo(t *testing.T) {
	k := kubotest.Start(t)
	dir := t.TempDir()
	const L = 174
	files := map[string]int{
		"empty":   0,
		"one":     1,
		"chunk":   DefaultChunkSize,
		"chunk+1": DefaultChunkSize + 1,
		"depth2":  L*DefaultChunkSize + 1,
	}
	for name, n := range files {
		writeFile(t, dir, name, randomBytes(uint64(n), n))
	}
	tree := filepath.Join(dir, "tree")
	writeFile(t, tree, "a.txt", []byte("hello enxame\n"))
	writeFile(t, tree, "empty", nil)
	writeFile(t, tree, "sub/b.bin", randomBytes(7, 3*DefaultChunkSize+17))
	writeFile(t, tree, "sub/deeper/c", randomBytes(8, 1000))
	writeFile(t, tree, ".hidden", []byte("not added by default"))
	if err := os.MkdirAll(filepath.Join(tree, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(tree, "link")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		path string
		args []string
		opts AddOptions
	}{
		{name: "empty file", path: "empty"},
		{name: "one byte", path: "one"},
		{name: "one chunk", path: "chunk"},
		{name: "two chunks", path: "chunk+1"},
		{name: "depth 2", path: "depth2"},
		{name: "size-65536", path: "chunk+1", args: []string{"--chunker=size-65536"}, opts: AddOptions{ChunkSize: 65536}},
		{name: "wrap", path: "chunk+1", args: []string{"-w"}, opts: AddOptions{Wrap: true}},
		{name: "cidv0 dag-pb leaves", path: "depth2", args: []string{"--cid-version=0", "--raw-leaves=false"}, opts: AddOptions{CIDv0: true, NoRawLeaves: true}},
		{name: "directory", path: "tree", args: []string{"-r"}},
		{name: "directory hidden", path: "tree", args: []string{"-r", "--hidden"}, opts: AddOptions{Hidden: true}},
		{name: "directory wrap", path: "tree", args: []string{"-r", "-w"}, opts: AddOptions{Wrap: true}},
		{name: "directory size-1000", path: "tree", args: []string{"-r", "--chunker=size-1000"}, opts: AddOptions{ChunkSize: 1000}},
	}
	s := newTestStore(t, StoreConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.path)
			want := k.Add(p, tt.args...)
			res, err := s.Add(t.Context(), []string{p}, tt.opts)
			if err != nil {
				t.Fatalf("Add(%s, %+v): %v", tt.path, tt.opts, err)
			}
			if res.Root.String() != want {
				t.Errorf("Add(%s, %+v) root = %s, Kubo `ipfs add %v` = %s", tt.path, tt.opts, res.Root, tt.args, want)
			}
		})
	}
}
