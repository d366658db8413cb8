package examplestest

import (
	"bytes"
	"os"
	"sync"
	"testing"
)

func TestBuildAll(t *testing.T) {
	var wg sync.WaitGroup
	paths := make([]string, len(Names))
	for i, name := range Names {
		wg.Go(func() { paths[i] = Build(t, name) })
	}
	wg.Wait()
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("Build(%s): read %s: %v", Names[i], p, err)
		}
		if !bytes.HasPrefix(b, []byte("\x00asm")) {
			t.Errorf("Build(%s) = %s, not a WebAssembly module", Names[i], p)
		}
	}
	if again := Build(t, Names[0]); again != paths[0] {
		t.Errorf("Build(%s) twice = %s then %s, want the same path", Names[0], paths[0], again)
	}
}

func TestBuildBadName(t *testing.T) {
	if _, err := exampleDir("../cli"); err == nil {
		t.Errorf("exampleDir(../cli) = nil error, want an error")
	}
}
