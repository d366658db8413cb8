package share

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// deadPID returns the ID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestWriteToRemovesStaleTemps: temporary paths left by writers of the
// same name that died (a daemon killed mid-get) go at the next write of
// that name; those of live processes, of this process, of other names and
// without a process ID stay.
func TestWriteToRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	dead := deadPID(t)
	if processAlive(dead) {
		t.Fatalf("processAlive(%d) = true for an exited process", dead)
	}
	if !processAlive(os.Getpid()) {
		t.Fatalf("processAlive(self) = false")
	}
	stale := []string{
		fmt.Sprintf(".out[1].bin.enxame-tmp-%d-111", dead),
		fmt.Sprintf(".out[1].bin.enxame-tmp-%d-222", dead), // a directory
	}
	kept := []string{
		fmt.Sprintf(".out[1].bin.enxame-tmp-%d-333", os.Getpid()),
		".out[1].bin.enxame-tmp-444", // no process ID
		fmt.Sprintf(".other.enxame-tmp-%d-555", dead),
		fmt.Sprintf(".out[1].bin.enxame-tmp-%d-666", os.Getppid()),
	}
	for _, n := range append(slices.Clone(kept), stale[0]) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, stale[1], "sub"), 0o755); err != nil {
		t.Fatal(err)
	}

	s := newTestStore(t, StoreConfig{})
	data := randomBytes(7, 300<<10)
	root := addBytes(t, s, data, AddOptions{})
	dst := filepath.Join(dir, "out[1].bin")
	if err := s.WriteTo(t.Context(), root, dst); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("dst: %d bytes, %v; want the %d bytes added", len(got), err, len(data))
	}
	for _, n := range stale {
		if _, err := os.Lstat(filepath.Join(dir, n)); !os.IsNotExist(err) {
			t.Errorf("stale %s still there (Lstat: %v)", n, err)
		}
	}
	for _, n := range kept {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed: %v", n, err)
		}
	}
}
