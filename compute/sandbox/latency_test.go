package sandbox

import (
	"testing"
	"time"
)

// TestPoolLatency measures, and logs, what a unit costs in each state of the
// pool: a child to start, a Go-built module compiled from nothing, loaded
// from the disk cache, and already compiled in the child. The bounds are
// loose; the logged figures are the point.
func TestPoolLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a module from nothing")
	}
	h := hostileModule(t)
	cacheDir := t.TempDir()
	cmd, env := childCommand(t)
	newPool := func() *Pool {
		p, err := New(Config{Slots: 1, Spares: -1, Command: cmd, Env: env, CacheDir: cacheDir}, nil)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	ok := Unit{ModuleKey: "hostile", ModulePath: h, Args: []string{"ok"}}

	p := newPool()
	start := time.Now()
	mustRun(t, p, Unit{ModulePath: writeFile(t, "ok.wasm", modReturn)})
	childStart := time.Since(start)
	cold := mustRun(t, p, ok)
	warm := mustRun(t, p, ok)
	p.RunUnit(t.Context(), Unit{ModuleKey: "hostile", ModulePath: h, Args: []string{"oom"}, Limits: Limits{MemoryMiB: 200}})
	p.mu.Lock()
	var rss uint64
	for _, c := range p.idle {
		rss, _ = residentBytes(c.pid)
	}
	p.mu.Unlock()

	start = time.Now()
	fromDisk := mustRun(t, newPool(), ok)
	firstOnNewPool := time.Since(start)

	t.Logf("child start + tiny unit: %v", childStart)
	t.Logf("cold unit (compile %d-byte Go module, no cache): %v (compile %v)", fileSize(t, h), cold.Duration, cold.CompileTime)
	t.Logf("disk-cached unit in a fresh child: %v (load %v); with the child's start: %v", fromDisk.Duration, fromDisk.CompileTime, firstOnNewPool)
	t.Logf("warm unit (instantiate + run): %v", warm.Duration)
	t.Logf("idle child's resident memory after a 200 MiB unit: %d MiB", rss>>20)
	if cold.Warm || fromDisk.Warm || !warm.Warm {
		t.Errorf("Warm flags: cold %v, disk %v, warm %v; want false, false, true", cold.Warm, fromDisk.Warm, warm.Warm)
	}
	// Relative, not absolute: a loaded machine slows all three alike,
	// while a cache that does not work makes the warm and disk-cached runs
	// compile again, as slow as the cold one. The figures are logged above.
	if warm.Duration >= cold.Duration || fromDisk.Duration >= cold.Duration {
		t.Errorf("warm unit took %v, disk-cached %v, cold %v; want both well under the cold one", warm.Duration, fromDisk.Duration, cold.Duration)
	}
}
