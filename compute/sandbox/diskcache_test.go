package sandbox

import (
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cacheModules returns n distinct small modules.
func cacheModules(n int) [][]byte {
	mods := make([][]byte, n)
	for i := range mods {
		mods[i] = wasmModule(wasmSpec{imports: []wasmImport{procExit}, memMin: -1, body: bodyExit(byte(i + 1))})
	}
	return mods
}

// cacheState returns the names of the cache's entries and their total size.
func cacheState(t *testing.T, dir string) ([]string, int64) {
	t.Helper()
	entries, err := cacheEntries(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var total int64
	for _, e := range entries {
		names = append(names, filepath.Base(e.path))
		total += e.bytes
	}
	sort.Strings(names)
	return names, total
}

// compileIn compiles b with a runner over the cache dir, as a child does.
func compileIn(t *testing.T, r *runner, b []byte) {
	t.Helper()
	e, err := r.compile(b)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	e.close(t.Context())
}

// TestCompileCacheLRU pins issue 11, finding 2's compile cache part: the
// cache grew one entry per module forever. It now stays within its cap,
// and the entry evicted is the least recently used one.
func TestCompileCacheLRU(t *testing.T) {
	dir := t.TempDir()
	mods := cacheModules(4)
	name := func(i int) string { return filepath.Base(moduleCacheDir(dir, mods[i])) }

	// Measure one entry, then cap the cache at three entries and a half.
	probe, err := newRunner(t.Context(), runnerConfig{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	compileIn(t, probe, mods[0])
	probe.close(t.Context())
	_, one := cacheState(t, probe.cacheDir)
	if one == 0 {
		t.Fatal("a compiled module left nothing in the cache")
	}
	max := 3*one + one/2

	r, err := newRunner(t.Context(), runnerConfig{CacheDir: dir, MaxCacheBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close(t.Context())
	steps := []struct {
		compile int
		want    []int
	}{
		{0, []int{0}},
		{1, []int{0, 1}},
		{2, []int{0, 1, 2}},
		{0, []int{0, 1, 2}}, // 0 used again: 1 is now the least recent
		{3, []int{0, 2, 3}},
		{1, []int{0, 1, 3}}, // 1 comes back; 2 was the least recent
	}
	for i, st := range steps {
		compileIn(t, r, mods[st.compile])
		got, total := cacheState(t, dir)
		var want []string
		for _, m := range st.want {
			want = append(want, name(m))
		}
		sort.Strings(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("step %d (module %d): cache entries mismatch (-want +got):\n%s", i, st.compile, diff)
		}
		if total > max {
			t.Errorf("step %d: cache holds %d bytes, over its cap of %d", i, total, max)
		}
	}
}

// TestCompileCacheConcurrent compiles distinct modules from several
// runners sharing one cache, as a pool's children do: every compilation
// succeeds and the cache ends within its cap.
func TestCompileCacheConcurrent(t *testing.T) {
	dir := t.TempDir()
	const workers = 4
	n := 6
	if testing.Short() {
		n = 3
	}
	mods := cacheModules(workers * n)
	var wg sync.WaitGroup
	const max = 400 // about three entries of these tiny modules
	for w := range workers {
		r, err := newRunner(t.Context(), runnerConfig{CacheDir: dir, MaxCacheBytes: max})
		if err != nil {
			t.Fatal(err)
		}
		defer r.close(t.Context())
		wg.Go(func() {
			for i := range n {
				e, err := r.compile(mods[w*n+i])
				if err != nil {
					t.Errorf("runner %d: compile module %d: %v", w, w*n+i, err)
					return
				}
				e.close(t.Context())
			}
		})
	}
	wg.Wait()
	if _, total := cacheState(t, dir); total > max {
		t.Errorf("cache holds %d bytes after concurrent compilations, over its cap of %d", total, max)
	}
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range left {
		if de.Name()[0] == '.' {
			t.Errorf("eviction left %s behind", de.Name())
		}
	}
}
