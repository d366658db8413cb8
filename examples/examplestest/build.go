// Package examplestest builds enxame's example work units (and any other Go
// source) into WebAssembly modules for tests: GOOS=wasip1 GOARCH=wasm,
// stripped, trimmed paths.
//
// Modules are cached under os.UserCacheDir()/enxame/wasm, keyed by a hash of
// their sources and the Go version, and built at most once per process, so
// a test pays a few seconds for a build only the first time. Production code
// never imports this package.
package examplestest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Names lists the example modules under examples/.
var Names = []string{"mandelbrot", "primes", "sha256", "stitch", "sum", "wordcount", "wordcount-merge"}

// Build returns the path of the example module name (a directory under
// examples/, such as "wordcount") built for wasip1/wasm. It calls t.Fatal
// if the build fails. Safe for concurrent use.
func Build(t testing.TB, name string) string {
	t.Helper()
	dir, err := exampleDir(name)
	if err != nil {
		t.Fatalf("examplestest: %v", err)
	}
	return BuildSource(t, dir)
}

// BuildSource returns the path of the wasip1/wasm module built from path:
// a package main directory, or one Go file of package main (such as a file
// under a testdata directory). Its imports must be the standard library's
// only, since only its own files key the cache. It calls t.Fatal if the
// build fails. Safe for concurrent use.
func BuildSource(t testing.TB, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatalf("examplestest: %v", err)
	}
	b := buildOf(abs)
	b.once.Do(func() { b.out, b.err = build(abs) })
	if b.err != nil {
		t.Fatalf("examplestest: build %s: %v", path, b.err)
	}
	return b.out
}

type buildResult struct {
	once sync.Once
	out  string
	err  error
}

var (
	mu     sync.Mutex
	builds = map[string]*buildResult{}

	goVersionOnce sync.Once
	goVersion     string
	goVersionErr  error
)

func buildOf(path string) *buildResult {
	mu.Lock()
	defer mu.Unlock()
	b, ok := builds[path]
	if !ok {
		b = &buildResult{}
		builds[path] = b
	}
	return b
}

// exampleDir finds the source directory of the example name.
func exampleDir(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\.`) {
		return "", fmt.Errorf("bad example name %q", name)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "..", name)
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir, nil
		}
	}
	out, err := goCommand("", "list", "-f", "{{.Dir}}", "github.com/enxame/enxame/examples/"+name).Output()
	if err != nil {
		return "", fmt.Errorf("find example %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// build compiles path into the cache unless it is there already.
func build(path string) (string, error) {
	key, err := sourceKey(path)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "enxame", "wasm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := strings.TrimSuffix(filepath.Base(path), ".go")
	out := filepath.Join(dir, name+"-"+key[:16]+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	tmp, err := os.CreateTemp(dir, name+"-*.tmp")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())

	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", tmp.Name()}
	workDir := path
	if strings.HasSuffix(path, ".go") {
		workDir = filepath.Dir(path)
		args = append(args, filepath.Base(path))
	} else {
		args = append(args, ".")
	}
	cmd := goCommand(workDir, args...)
	cmd.Env = append(cmd.Env, "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, stderr.Bytes())
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

// sourceKey hashes the Go version and the package's Go files (or the one
// file path names).
func sourceKey(path string) (string, error) {
	goVersionOnce.Do(func() {
		out, err := goCommand("", "env", "GOVERSION").Output()
		goVersion, goVersionErr = strings.TrimSpace(string(out)), err
	})
	if goVersionErr != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", goVersionErr)
	}
	files := []string{path}
	if !strings.HasSuffix(path, ".go") {
		entries, err := os.ReadDir(path)
		if err != nil {
			return "", err
		}
		files = files[:0]
		for _, e := range entries {
			if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		if len(files) == 0 {
			return "", fmt.Errorf("%s: no Go files: %w", path, fs.ErrNotExist)
		}
	}
	sort.Strings(files)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", goVersion)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// goCommand runs the go tool found on PATH, or else in GOROOT, with the
// caller's environment minus GOFLAGS (which may hold host-only flags such
// as -race).
func goCommand(dir string, args ...string) *exec.Cmd {
	bin, err := exec.LookPath("go")
	if err != nil {
		bin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOFLAGS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	return cmd
}
