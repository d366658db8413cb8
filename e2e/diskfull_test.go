package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mountTmpfs mounts a tmpfs of size (e.g. "16m") at a new directory and
// unmounts it at cleanup. It needs root, as CI has.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a %s tmpfs (the disk-full test needs root): %v: %s", size, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestGetDiskFull fills the fetching daemon's disk during a get: the get
// fails with a clean error and leaves nothing at the output path, the
// daemon keeps serving, and once there is space again a second get resumes
// (moves fewer bytes than the file) and writes the right bytes.
func TestGetDiskFull(t *testing.T) {
	root := t.TempDir()
	d1 := startDaemon(t, filepath.Join(root, "a"), "--no-compute", "--log-level", "debug")
	data := make([]byte, 40<<20)
	rand.Read(data)
	file := filepath.Join(root, "data.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := enxame(t, "add", "--home", d1.home, file)
	if res.code != 0 {
		t.Fatalf("add: %s", res.stderr)
	}
	cid := strings.TrimSpace(res.stdout)

	small := mountTmpfs(t, "24m")
	home := filepath.Join(small, "home")
	startDaemon(t, home, "--no-compute", "--log-level", "debug", "--bootstrap", d1.tcpAddr())
	out := filepath.Join(root, "got.bin")
	res = enxame(t, "get", "--home", home, cid, "-o", out)
	if res.code == 0 {
		t.Fatalf("get of 40 MiB into a 24 MiB disk exited 0")
	}
	oneLine(t, "get on a full disk", res.stderr)
	if !strings.Contains(res.stderr, "no space left") {
		t.Errorf("get on a full disk: stderr %q, want it to say no space is left", res.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed get left %s (stat: %v)", out, err)
	}
	var id struct {
		ID string `json:"id"`
	}
	mustJSON(t, &id, "id", "--home", home) // the daemon still serves

	if out, err := exec.Command("mount", "-o", "remount,size=128m", small).CombinedOutput(); err != nil {
		t.Fatalf("grow the tmpfs: %v: %s", err, out)
	}
	res = enxame(t, "get", "--home", home, cid, "-o", out, "--json")
	if res.code != 0 {
		t.Fatalf("get after freeing space: exit %d: %s\nstdout:\n%s", res.code, res.stderr, res.stdout)
	}
	var fetched int64
	sc := bufio.NewScanner(strings.NewReader(res.stdout))
	for sc.Scan() {
		var ev struct {
			Event   string `json:"event"`
			Fetched int64  `json:"bytes_fetched"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == "progress" {
			fetched = ev.Fetched
		}
	}
	if fetched <= 0 || fetched >= int64(len(data)) {
		t.Errorf("resumed get fetched %d bytes, want more than 0 and fewer than the file's %d", fetched, len(data))
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("resumed get wrote %d bytes (err %v), want the %d added", len(got), err, len(data))
	}
}
