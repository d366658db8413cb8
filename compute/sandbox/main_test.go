package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/enxame/enxame/internal/nodetest/hosttest"
)

// childEnv makes the test binary act as a sandbox child: "1" runs ChildMain,
// any other value a misbehaving fake child (see fakeChild).
const childEnv = "ENXAME_SANDBOX_CHILD"

var (
	tmpDir       string // removed when the tests end
	childBinOnce sync.Once
	childBin     string
	childBinErr  error
)

func TestMain(m *testing.M) {
	switch mode := os.Getenv(childEnv); mode {
	case "":
	case "1":
		os.Exit(ChildMain(os.Stdin, os.Stdout))
	case "probe":
		os.Exit(probeChild(os.Stdin, os.Stdout))
	default:
		os.Exit(fakeChild(mode, os.Stdin, os.Stdout))
	}
	var err error
	if tmpDir, err = os.MkdirTemp("", "sandbox-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(tmpDir)
		os.Exit(code)
	}))
}

// childCommand returns the Command and Env of a real sandbox child. The
// test binary serves as one, unless the race detector is on: then a child
// built without it does, since an instrumented wazero compiles a Go-built
// module in about 27 s instead of 2 s.
func childCommand(t testing.TB) ([]string, []string) {
	t.Helper()
	if !raceEnabled {
		return []string{os.Args[0]}, []string{childEnv + "=1"}
	}
	childBinOnce.Do(func() { childBin, childBinErr = hosttest.BuildSandboxChild(tmpDir) })
	if childBinErr != nil {
		t.Fatal(childBinErr)
	}
	return []string{childBin}, nil
}

// fakeCommand returns the Command and Env of a fake child that misbehaves
// as mode says.
func fakeCommand(mode string) ([]string, []string) {
	return []string{os.Args[0]}, []string{childEnv + "=" + mode}
}

// testUnitDirs are the directories the tests' pools allow units in: the
// temporary directory and examplestest's build cache.
func testUnitDirs() []string {
	dirs := []string{os.TempDir()}
	if dir, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(dir, "enxame", "wasm"))
	}
	return dirs
}

// testCacheDir is the compilation cache shared by the tests' pools: a
// module compiled by one test loads in milliseconds in the next, and in
// the next run.
func testCacheDir(t testing.TB) string {
	t.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = tmpDir
	}
	return filepath.Join(dir, "enxame", "wazero-test")
}
