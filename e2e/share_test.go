package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/waittest"
)

// TestShareFiles adds a file and a directory on one daemon and reads them
// from the others with get, cat and ls; it checks pins, providers and gc.
func TestShareFiles(t *testing.T) {
	root := t.TempDir()
	h1, h2, h3 := filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")
	d1 := startDaemon(t, h1)
	startDaemon(t, h2, "--bootstrap", d1.tcpAddr())
	d3 := startDaemon(t, h3, "--bootstrap", d1.tcpAddr())

	data := make([]byte, 5<<20+12345)
	rand.Read(data)
	file := filepath.Join(root, "data.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := enxame(t, "add", "--home", h1, file)
	if res.code != 0 {
		t.Fatalf("add: exit %d: %s", res.code, res.stderr)
	}
	cid := strings.TrimSpace(res.stdout)
	if !strings.HasPrefix(cid, "bafy") || strings.Contains(cid, "\n") {
		t.Fatalf("add printed %q, want only a CIDv1", res.stdout)
	}
	if again := enxame(t, "add", "--home", h1, file); strings.TrimSpace(again.stdout) != cid {
		t.Errorf("second add printed %q, want the same CID %s", again.stdout, cid)
	}

	// get on the 3rd daemon: the output appears whole at its path.
	out := filepath.Join(t.TempDir(), "got.bin")
	res = enxame(t, "get", "--home", h3, cid, "-o", out)
	if res.code != 0 {
		t.Fatalf("get: exit %d: %s", res.code, res.stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get wrote %d bytes (err %v), want the %d added", len(got), err, len(data))
	}
	if res := enxame(t, "get", "--home", h3, cid, "-o", out); res.code == 0 || !strings.Contains(res.stderr, "exists") {
		t.Errorf("get onto an existing file: exit %d, stderr %q; want a refusal", res.code, res.stderr)
	}

	// cat a range on the 2nd daemon.
	res = enxame(t, "cat", "--home", h2, cid, "--offset", "1000000", "--length", "4096")
	if res.code != 0 || res.stdout != string(data[1000000:1000000+4096]) {
		t.Errorf("cat --offset 1000000 --length 4096: exit %d, %d bytes, stderr %q", res.code, len(res.stdout), res.stderr)
	}

	// A directory, listed from another daemon.
	dir := filepath.Join(root, "dir")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "b.txt"), []byte("world\n"), 0o644)
	res = enxame(t, "add", "--home", h1, dir)
	if res.code != 0 {
		t.Fatalf("add dir: exit %d: %s", res.code, res.stderr)
	}
	dirCID := strings.TrimSpace(res.stdout)
	var entries []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	mustJSON(t, &entries, "ls", "--home", h3, dirCID)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name+":"+e.Type)
	}
	if want := []string{"a.txt:file", "sub:dir"}; !slices.Equal(names, want) {
		t.Errorf("ls %s = %v, want %v", dirCID, names, want)
	}
	outDir := filepath.Join(t.TempDir(), "dir")
	if res := enxame(t, "get", "--home", h2, dirCID, "-o", outDir); res.code != 0 {
		t.Fatalf("get dir: exit %d: %s", res.code, res.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(outDir, "sub", "b.txt")); err != nil || string(b) != "world\n" {
		t.Errorf("get dir: sub/b.txt = %q, %v", b, err)
	}

	// CAR export from the adder, import on the 2nd daemon.
	car := filepath.Join(t.TempDir(), "dir.car")
	if res := enxame(t, "export", "--home", h1, dirCID, "-o", car); res.code != 0 {
		t.Fatalf("export: exit %d: %s", res.code, res.stderr)
	}
	var imp struct {
		Roots []string `json:"roots"`
	}
	mustJSON(t, &imp, "import", "--home", h2, car)
	if !slices.Equal(imp.Roots, []string{dirCID}) {
		t.Errorf("import roots = %v, want [%s]", imp.Roots, dirCID)
	}
	var pins2 []string
	mustJSON(t, &pins2, "pin", "ls", "--home", h2)
	if !slices.Contains(pins2, dirCID) {
		t.Errorf("pin ls after import = %v, want %s", pins2, dirCID)
	}
	bad := filepath.Join(t.TempDir(), "bad.car")
	os.WriteFile(bad, []byte("not a car file"), 0o644)
	if res := enxame(t, "import", "--home", h2, bad); res.code == 0 {
		t.Errorf("import of a bad CAR exited 0")
	} else {
		oneLine(t, "import of a bad CAR", res.stderr)
	}

	// Pins and providers.
	var pins []string
	mustJSON(t, &pins, "pin", "ls", "--home", h1)
	if !slices.Contains(pins, cid) || !slices.Contains(pins, dirCID) {
		t.Errorf("pin ls on the adder = %v, want %s and %s", pins, cid, dirCID)
	}
	var provs []struct {
		ID string `json:"id"`
	}
	waittest.For(t, "providers to list the adder", func() bool {
		mustJSON(t, &provs, "providers", "--home", h3, cid, "--timeout", "3s")
		return slices.ContainsFunc(provs, func(p struct {
			ID string `json:"id"`
		}) bool {
			return p.ID == d1.id
		})
	})

	// gc on the 3rd daemon keeps its pinned copy, then frees it once unpinned.
	if res := enxame(t, "pin", "add", "--home", h3, cid); res.code != 0 {
		t.Fatalf("pin add: exit %d: %s", res.code, res.stderr)
	}
	var gc struct {
		Removed int `json:"removed"`
	}
	mustJSON(t, &gc, "gc", "--home", h3)
	if res := enxame(t, "cat", "--home", h3, cid, "--length", "10"); res.code != 0 || res.stdout != string(data[:10]) {
		t.Errorf("cat after gc of a pinned file: exit %d, stderr %q", res.code, res.stderr)
	}
	if res := enxame(t, "pin", "rm", "--home", h3, cid); res.code != 0 {
		t.Fatalf("pin rm: exit %d: %s", res.code, res.stderr)
	}
	mustJSON(t, &gc, "gc", "--home", h3)
	if gc.Removed < 20 {
		t.Errorf("gc after unpinning a 5 MiB file removed %d blocks, want ≥ 20", gc.Removed)
	}
	_ = d3
}

// TestShareBadInput checks share commands' answers to bad input.
func TestShareBadInput(t *testing.T) {
	home := t.TempDir()
	startDaemon(t, home)
	const nobody = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"bad CID", []string{"get", "--home", home, "notacid"}, 2, "invalid CID"},
		{"bad CID cat", []string{"cat", "--home", home, "bafy123"}, 2, "invalid CID"},
		{"missing path", []string{"add", "--home", home, filepath.Join(t.TempDir(), "nope")}, 1, "no such file"},
		{"nobody provides", []string{"cat", "--home", home, nobody, "--timeout", "3s"}, 1, nobody},
		{"negative offset", []string{"cat", "--home", home, nobody, "--offset", "-1"}, 2, "offset"},
		{"bad cid version", []string{"add", "--home", home, "--cid-version", "3", "-"}, 2, "cid-version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res := enxame(t, tt.args...)
			if res.code != tt.wantCode {
				t.Errorf("enxame %v: exit %d, want %d (stderr %q)", tt.args, res.code, tt.wantCode, res.stderr)
			}
			oneLine(t, strings.Join(tt.args, " "), res.stderr)
			if !strings.Contains(res.stderr, tt.want) {
				t.Errorf("enxame %v: stderr %q, want it to contain %q", tt.args, res.stderr, tt.want)
			}
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("enxame %v took %v", tt.args, took)
			}
		})
	}
}
