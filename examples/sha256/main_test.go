package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestHashDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"b.txt": "abc", "a.txt": "", "sub/c": "abc"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := hashDir(&buf, dir); err != nil {
		t.Fatalf("hashDir: %v", err)
	}
	want := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a.txt\n" +
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  b.txt\n" +
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  sub/c\n"
	if got := buf.String(); got != want {
		t.Errorf("hashDir() = %q, want %q", got, want)
	}
}
