package share

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFileAtomic: the output replaces a symlink at path rather than
// writing through it, and a failed fill leaves path as it was and no
// temporary file (issue 11: export -o and compute result -o).
func TestWriteFileAtomic(t *testing.T) {
	base := t.TempDir()
	victim, out := victimTree(t, base)
	before := snapshot(t, victim)
	dst := filepath.Join(out, "result")
	if err := os.Symlink(filepath.Join(victim, "secret.txt"), dst); err != nil {
		t.Fatal(err)
	}
	err := WriteFileAtomic(dst, WriteFileOptions{}, func(w io.Writer) error {
		_, err := io.WriteString(w, "result")
		return err
	})
	if err != nil {
		t.Fatalf("WriteFileAtomic: %v", err)
	}
	if got, err := os.ReadFile(dst); err != nil || string(got) != "result" {
		t.Errorf("WriteFileAtomic wrote %q, %v; want result", got, err)
	}
	if fi, err := os.Lstat(dst); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("WriteFileAtomic left %v, %v at dst; want a regular file", fi, err)
	}
	if got := snapshot(t, victim); !mapsEqual(got, before) {
		t.Errorf("WriteFileAtomic changed the victim tree: %v, was %v", got, before)
	}

	boom := errors.New("boom")
	err = WriteFileAtomic(dst, WriteFileOptions{}, func(w io.Writer) error {
		fmt.Fprint(w, "partial")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("WriteFileAtomic with a failing fill = %v, want %v", err, boom)
	}
	if got, _ := os.ReadFile(dst); string(got) != "result" {
		t.Errorf("a failed WriteFileAtomic changed dst to %q", got)
	}
	err = WriteFileAtomic(dst, WriteFileOptions{MaxBytes: 3}, func(w io.Writer) error {
		_, err := io.WriteString(w, "four")
		return err
	})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("WriteFileAtomic over MaxBytes = %v, want ErrTooLarge", err)
	}
	if left := tmpLeft(t, out); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
