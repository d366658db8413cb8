package e2e

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enxame/enxame/share"
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	cid "github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// hostileCAR builds, with boxo's merkledag and unixfs, the DAG that build
// returns the root of, in a scratch share.Store, and exports it as a CAR
// file: what a hostile peer could serve.
func hostileCAR(t *testing.T, build func(put func(format.Node) cid.Cid) cid.Cid) (string, cid.Cid) {
	t.Helper()
	s, err := share.OpenStore(share.StoreConfig{Dir: filepath.Join(t.TempDir(), "scratch")}, share.StoreDeps{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(nd format.Node) cid.Cid {
		if err := s.Put(t.Context(), nd); err != nil {
			t.Fatal(err)
		}
		return nd.Cid()
	}
	root := build(put)
	path := filepath.Join(t.TempDir(), "hostile.car")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.ExportCAR(t.Context(), root, f); err != nil {
		t.Fatal(err)
	}
	return path, root
}

var pbV1 = cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256}

func pbNode(t *testing.T, data []byte) *merkledag.ProtoNode {
	nd := merkledag.NodeWithData(data)
	nd.SetCidBuilder(pbV1)
	return nd
}

// treeOf describes every path under dir.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			out[rel] = "file:" + string(b)
			return err
		}
		out[rel] = d.Type().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGetHostileDirectory: `enxame get` of a directory that lists a name
// twice, first as a symlink out of -o (absolute, or "..") then as a file
// or directory, fails naming the entry, writes nothing outside -o and
// leaves nothing at -o (issue 11, finding 1).
func TestGetHostileDirectory(t *testing.T) {
	root := t.TempDir()
	victim := filepath.Join(root, "victim")
	if err := os.MkdirAll(filepath.Join(victim, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(victim, "secret.txt")
	if err := os.WriteFile(secret, []byte("victim data"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := treeOf(t, victim)
	d := startDaemon(t, filepath.Join(root, "home"), "--no-compute")
	outDir := filepath.Join(root, "out")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		target string // of the symlink
		asDir  bool   // then a directory of the same name, else a file
	}{
		{"absolute symlink then file", secret, false},
		{"dotdot symlink then file", "../../victim/secret.txt", false},
		{"symlink to dir then dir", filepath.Join(victim, "dir"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			car, c := hostileCAR(t, func(put func(format.Node) cid.Cid) cid.Cid {
				sl, err := ft.SymlinkData(tt.target)
				if err != nil {
					t.Fatal(err)
				}
				link := put(pbNode(t, sl))
				payload := put(merkledag.NewRawNode([]byte("pwned")))
				second := payload
				if tt.asDir {
					sub := pbNode(t, ft.FolderPBData())
					sub.AddRawLink("planted", &format.Link{Cid: payload})
					second = put(sub)
				}
				dir := pbNode(t, ft.FolderPBData())
				dir.AddRawLink("x", &format.Link{Cid: link})
				dir.AddRawLink("x", &format.Link{Cid: second})
				return put(dir)
			})
			if res := enxame(t, "import", "--home", d.home, car); res.code != 0 {
				t.Fatalf("import: %s", res.stderr)
			}
			out := filepath.Join(outDir, strings.ReplaceAll(tt.name, " ", "-"))
			res := enxame(t, "get", "--home", d.home, c.String(), "-o", out)
			if res.code == 0 {
				t.Fatalf("get of a hostile directory exited 0")
			}
			t.Logf("get: %s", res.stderr)
			oneLine(t, "get of a hostile directory", res.stderr)
			if !strings.Contains(res.stderr, `"x"`) {
				t.Errorf("get: stderr %q, want it to name the entry \"x\"", res.stderr)
			}
			if got := treeOf(t, victim); len(got) != len(before) || got["secret.txt"] != before["secret.txt"] {
				t.Errorf("get changed the victim tree: %v, was %v", got, before)
			}
			if _, err := os.Lstat(filepath.Join(victim, "dir", "planted")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("get planted a file in the victim directory (Lstat: %v)", err)
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
				t.Errorf("a refused get left %v in the output directory", ents)
			}
		})
	}
}

// TestGetMaxSize: a DAG bomb (a few blocks whose root declares a
// petabyte) is refused by `get --max-size` naming the declared size and
// the cap, and without --max-size by the free space; nothing is written.
// A real file under --max-size is got (issue 11, finding 6).
func TestGetMaxSize(t *testing.T) {
	root := t.TempDir()
	d := startDaemon(t, filepath.Join(root, "home"), "--no-compute")
	car, bomb := hostileCAR(t, func(put func(format.Node) cid.Cid) cid.Cid {
		leaf := put(merkledag.NewRawNode([]byte(strings.Repeat("z", 1000))))
		fsn := ft.NewFSNode(ft.TFile)
		nd := new(merkledag.ProtoNode)
		nd.SetCidBuilder(pbV1)
		for range 2 {
			fsn.AddBlockSize(1 << 49)
			nd.AddRawLink("", &format.Link{Cid: leaf, Size: 1 << 49})
		}
		data, err := fsn.GetBytes()
		if err != nil {
			t.Fatal(err)
		}
		nd.SetData(data)
		return put(nd)
	})
	if res := enxame(t, "import", "--home", d.home, car); res.code != 0 {
		t.Fatalf("import: %s", res.stderr)
	}
	outDir := filepath.Join(root, "out")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"max-size", []string{"--max-size", "10MiB"}, []string{"1.0 PiB", "10.0 MiB"}},
		{"free space", nil, []string{"1.0 PiB", "free space"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(outDir, "bomb")
			args := append([]string{"get", "--home", d.home, bomb.String(), "-o", out}, tt.args...)
			res := enxame(t, args...)
			if res.code == 0 {
				t.Fatalf("get of a DAG bomb exited 0")
			}
			t.Logf("get: %s", res.stderr)
			oneLine(t, "get of a DAG bomb", res.stderr)
			for _, w := range tt.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("get %v: stderr %q, want it to say %q", tt.args, res.stderr, w)
				}
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
				t.Errorf("a refused get left %v", ents)
			}
		})
	}
	file := filepath.Join(root, "small.bin")
	if err := os.WriteFile(file, []byte(strings.Repeat("ok", 5000)), 0o644); err != nil {
		t.Fatal(err)
	}
	res := enxame(t, "add", "--home", d.home, file)
	if res.code != 0 {
		t.Fatalf("add: %s", res.stderr)
	}
	out := filepath.Join(outDir, "small")
	if res := enxame(t, "get", "--home", d.home, strings.TrimSpace(res.stdout), "-o", out, "--max-size", "1MB"); res.code != 0 {
		t.Fatalf("get --max-size 1MB of a 10 kB file: exit %d: %s", res.code, res.stderr)
	}
	if res := enxame(t, "get", "--home", d.home, bomb.String(), "-o", out+"2", "--max-size", "ten"); res.code == 0 || !strings.Contains(res.stderr, "--max-size") {
		t.Errorf("get --max-size ten: exit %d, stderr %q; want a usage error naming the flag", res.code, res.stderr)
	}
}
