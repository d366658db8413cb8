package e2e

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoStat is the JSON of `enxame repo stat --json`.
type repoStat struct {
	Path         string `json:"path"`
	Bytes        int64  `json:"bytes"`
	Blocks       int64  `json:"blocks"`
	Max          int64  `json:"max"`
	PinnedBytes  int64  `json:"pinned_bytes"`
	PinnedBlocks int    `json:"pinned_blocks"`
	DiskFree     int64  `json:"disk_free"`
}

// TestRepoStatAndQuota runs a daemon with a 2 MiB store quota: repo stat
// and status show the use against it, an add that pinned data would take
// past it fails with one clear line, and the daemon goes on working.
// Issue 11, finding 2.
func TestRepoStatAndQuota(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home")
	d := startDaemon(t, home, "--no-compute", "--storage-max", "2MiB")

	writeRandom := func(name string, n int) string {
		data := make([]byte, n)
		rand.Read(data)
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	res := enxame(t, "add", "--home", home, writeRandom("one.bin", 1<<20))
	if res.code != 0 {
		t.Fatalf("add 1 MiB under a 2 MiB quota: exit %d: %s", res.code, res.stderr)
	}

	var st repoStat
	mustJSON(t, &st, "repo", "stat", "--home", home)
	if st.Max != 2<<20 {
		t.Errorf("repo stat max = %d, want the 2 MiB of --storage-max", st.Max)
	}
	if st.Bytes < 1<<20 || st.Bytes > 1<<20+4096 || st.Blocks < 5 {
		t.Errorf("repo stat = %d bytes in %d blocks, want a 1 MiB file in 256 KiB chunks", st.Bytes, st.Blocks)
	}
	if st.PinnedBytes != st.Bytes || st.PinnedBlocks != int(st.Blocks) {
		t.Errorf("repo stat pinned %d bytes in %d blocks, want all %d in %d (the add pinned them)", st.PinnedBytes, st.PinnedBlocks, st.Bytes, st.Blocks)
	}
	if st.DiskFree <= 0 || !strings.HasPrefix(st.Path, home) {
		t.Errorf("repo stat disk_free %d, path %q; want free space and a path in %s", st.DiskFree, st.Path, home)
	}
	res = enxame(t, "repo", "stat", "--home", home)
	if res.code != 0 || !strings.Contains(res.stdout, "of 2.0 MiB") || !strings.Contains(res.stdout, "path:") {
		t.Errorf("repo stat: exit %d, stdout %q; want the use of 2.0 MiB and the path", res.code, res.stdout)
	}
	res = enxame(t, "status", "--home", home)
	if res.code != 0 || !strings.Contains(res.stdout, "storage:       1.0 MiB of 2.0 MiB") {
		t.Errorf("status: exit %d, stdout %q; want a storage line of 1.0 MiB of 2.0 MiB", res.code, res.stdout)
	}

	// 1.5 MiB more pinned data does not fit.
	res = enxame(t, "add", "--home", home, writeRandom("two.bin", 3<<19))
	if res.code == 0 {
		t.Fatalf("add past the quota of pinned data exited 0: %s", res.stdout)
	}
	oneLine(t, "add past the quota", res.stderr)
	for _, want := range []string{"store full", "storage.max", "pin rm"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("add past the quota: stderr %q does not say %q", res.stderr, want)
		}
	}
	var after repoStat
	mustJSON(t, &after, "repo", "stat", "--home", home)
	if after.Bytes > after.Max || after.PinnedBytes != st.PinnedBytes {
		t.Errorf("after the failed add: %d bytes (%d pinned) of %d, want at most the quota and the first file's pins unchanged", after.Bytes, after.PinnedBytes, after.Max)
	}

	// The daemon still works: once the first file is unpinned the second fits.
	res = enxame(t, "pin", "ls", "--home", home)
	first := strings.TrimSpace(res.stdout)
	if res.code != 0 || first == "" {
		t.Fatalf("pin ls: exit %d: %q %s", res.code, res.stdout, res.stderr)
	}
	if res = enxame(t, "pin", "rm", "--home", home, first); res.code != 0 {
		t.Fatalf("pin rm: %s", res.stderr)
	}
	if res = enxame(t, "add", "--home", home, filepath.Join(root, "two.bin")); res.code != 0 {
		t.Fatalf("add after pin rm: exit %d: %s", res.code, res.stderr)
	}
	mustJSON(t, &after, "repo", "stat", "--home", home)
	if after.Bytes > after.Max || after.PinnedBytes < 3<<19 {
		t.Errorf("after pin rm and add: %d bytes (%d pinned) of %d", after.Bytes, after.PinnedBytes, after.Max)
	}
	_ = d
}

// TestStorageMaxConfig checks the storage.max key: its default in config
// show and the template, a value in the file, and a bad flag.
func TestStorageMaxConfig(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	if res := enxame(t, "init", "--home", home); res.code != 0 {
		t.Fatalf("init: %s", res.stderr)
	}
	tmpl, err := os.ReadFile(filepath.Join(home, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(tmpl), "storage:\n") || !strings.Contains(string(tmpl), "max: 10GiB") {
		t.Errorf("config template has no storage.max of 10GiB:\n%s", tmpl)
	}
	res := enxame(t, "config", "show", "--home", home)
	if res.code != 0 || !strings.Contains(res.stdout, "max: 10GiB") {
		t.Errorf("config show: exit %d, want storage max 10GiB in:\n%s", res.code, res.stdout)
	}
	cfg := strings.Replace(string(tmpl), "max: 10GiB", "max: 500MB", 1)
	if err := os.WriteFile(filepath.Join(home, "config.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var shown struct {
		Storage struct {
			Max int64 `json:"max"`
		} `json:"storage"`
	}
	mustJSON(t, &shown, "config", "show", "--home", home)
	if shown.Storage.Max != 500e6 {
		t.Errorf("config show --json storage.max = %d, want 500000000", shown.Storage.Max)
	}
	res = enxame(t, "daemon", "--home", home, "--storage-max", "lots")
	if res.code == 0 || !strings.Contains(res.stderr, "--storage-max") {
		t.Errorf("daemon --storage-max lots: exit %d, stderr %q; want a usage error naming the flag", res.code, res.stderr)
	}
}
