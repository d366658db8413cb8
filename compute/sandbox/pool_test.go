package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/internal/waittest"
)

// newTestPool returns a pool of real children with one slot and one spare,
// closed when the test ends. change, if not nil, adjusts the config.
func newTestPool(t *testing.T, change func(*Config)) *Pool {
	t.Helper()
	cmd, env := childCommand(t)
	cfg := Config{
		Slots:    1,
		Command:  cmd,
		Env:      env,
		CacheDir: testCacheDir(t),
		UnitDirs: testUnitDirs(),
		Limits:   Limits{MemoryMiB: 128, Timeout: 20 * time.Second},
	}
	if change != nil {
		change(&cfg)
	}
	p, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// inputDir makes a directory holding files.
func inputDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustRun(t *testing.T, p *Pool, u Unit) Result {
	t.Helper()
	res, err := p.RunUnit(t.Context(), u)
	if err != nil {
		t.Fatalf("Run(%s %v): %v\nstderr: %s", filepath.Base(u.ModulePath), u.Args, err, res.Stderr)
	}
	return res
}

func TestPoolExamples(t *testing.T) {
	p := newTestPool(t, func(c *Config) { c.Slots = 2 })
	wasm := func(name string) string { return examplestest.Build(t, name) }
	tile := func(y0, y1 string) []byte {
		u := Unit{ModuleKey: "mandelbrot", ModulePath: wasm("mandelbrot"), Args: []string{"-w", "64", "-h", "48", "-y0", y0, "-y1", y1, "-iter", "50"}}
		return mustRun(t, p, u).Stdout
	}
	words := []byte("the quick brown fox\njumps over the lazy dog. The end")
	tests := []struct {
		name  string
		unit  Unit
		want  string
		check func(t *testing.T, out []byte)
	}{
		{name: "wordcount", unit: Unit{ModulePath: wasm("wordcount"), InputDir: inputDir(t, map[string][]byte{"a.txt": words})},
			want: "brown\t1\ndog\t1\nend\t1\nfox\t1\njumps\t1\nlazy\t1\nover\t1\nquick\t1\nthe\t3\n"},
		{name: "wordcount-merge", unit: Unit{ModulePath: wasm("wordcount-merge"), InputDir: inputDir(t, map[string][]byte{"0": []byte("a\t1\nb\t2\n"), "1": []byte("b\t3\n")})},
			want: "a\t1\nb\t5\n"},
		{name: "primes", unit: Unit{ModulePath: wasm("primes"), Args: []string{"0", "100"}}, want: "count\t25\n"},
		{name: "sum", unit: Unit{ModulePath: wasm("sum"), InputDir: inputDir(t, map[string][]byte{"0": []byte("count\t25\n"), "1": []byte("count\t21\n")})},
			want: "count\t46\n"},
		{name: "sha256", unit: Unit{ModulePath: wasm("sha256"), InputDir: inputDir(t, map[string][]byte{"abc": []byte("abc")})},
			want: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  abc\n"},
		{name: "mandelbrot and stitch", unit: Unit{ModulePath: wasm("stitch"), InputDir: inputDir(t, map[string][]byte{"0.png": tile("0", "20"), "1.png": tile("20", "48")})},
			check: func(t *testing.T, out []byte) {
				img, err := png.Decode(bytes.NewReader(out))
				if err != nil {
					t.Fatalf("stitch output: %v", err)
				}
				if got := img.Bounds().Size(); got.X != 64 || got.Y != 48 {
					t.Errorf("stitched image is %v, want 64x48", got)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := mustRun(t, p, tt.unit)
			if tt.check != nil {
				tt.check(t, res.Stdout)
			} else if string(res.Stdout) != tt.want {
				t.Errorf("Run(%s) stdout = %q, want %q", tt.name, res.Stdout, tt.want)
			}
		})
	}
}

func TestPoolDeterministic(t *testing.T) {
	p := newTestPool(t, func(c *Config) { c.Slots = 2 })
	h := hostileModule(t)
	wc := examplestest.Build(t, "wordcount")
	in := inputDir(t, map[string][]byte{"a": []byte("b a b"), "b": []byte("c")})
	units := []Unit{
		{ModuleKey: "hostile", ModulePath: h, Args: []string{"entropy"}, Env: []string{"K=V"}, Seed: 99},
		{ModuleKey: "wordcount", ModulePath: wc, InputDir: in},
	}
	for _, u := range units {
		// Two at once, so that they run in different children.
		var outs [2][]byte
		var wg sync.WaitGroup
		for i := range outs {
			wg.Go(func() { outs[i] = mustRun(t, p, u).Stdout })
		}
		wg.Wait()
		if !bytes.Equal(outs[0], outs[1]) || len(outs[0]) == 0 {
			t.Errorf("two runs of %s %v differ or are empty:\n%q\n%q", filepath.Base(u.ModulePath), u.Args, outs[0], outs[1])
		}
	}
}

// TestPoolHostile runs each hostile unit in one pool, and checks that it
// ends with its reason and that the pool then runs the next unit. The
// pool's unit timeout is generous (a loaded machine compiles and overflows
// a stack slowly); only the cases whose expected end is a timeout set a
// short one, and the bounds on how long a case takes are far above what a
// loaded machine needs and far below what a missed deadline would take.
func TestPoolHostile(t *testing.T) {
	const generous = 2 * time.Minute
	h := hostileModule(t)
	p := newTestPool(t, func(c *Config) {
		c.Limits = Limits{MemoryMiB: 64, Timeout: generous}
		c.KillGrace = 300 * time.Millisecond
	})
	tooLarge := writeFile(t, "large.wasm", append(bytes.Clone(modReturn), make([]byte, 4096)...))
	tests := []struct {
		name       string
		unit       Unit
		want       Reason
		wantDetail string
		within     time.Duration // how long the unit may take, if bounded
	}{
		{name: "not wasm", unit: Unit{ModulePath: writeFile(t, "x.wasm", []byte("MZ\x90\x00 not a module"))}, want: ReasonInvalidModule, wantDetail: "bad magic"},
		{name: "trap", unit: Unit{ModulePath: writeFile(t, "trap.wasm", modTrap)}, want: ReasonTrap, wantDetail: "unreachable"},
		{name: "endless loop", unit: Unit{ModulePath: writeFile(t, "loop.wasm", modLoop), Limits: Limits{Timeout: time.Second}},
			want: ReasonTimeout, wantDetail: "ran past 1s", within: generous / 2},
		{name: "go spin", unit: Unit{ModuleKey: "hostile", ModulePath: h, Args: []string{"spin"}, Limits: Limits{Timeout: time.Second}},
			want: ReasonTimeout, within: generous / 2},
		{name: "allocates past the cap", unit: Unit{ModuleKey: "hostile", ModulePath: h, Args: []string{"oom"}}, want: ReasonMemory, wantDetail: "the cap is 64 MiB"},
		{name: "grows past the cap", unit: Unit{ModulePath: writeFile(t, "grow.wasm", modGrow)}, want: ReasonMemory},
		{name: "endless output", unit: Unit{ModuleKey: "hostile", ModulePath: h, Args: []string{"output"}, Limits: Limits{MaxOutputBytes: 1 << 20}},
			want: ReasonOutput, wantDetail: "output over 1048576 bytes"},
		{name: "output past the cap, then exit 0", unit: Unit{ModuleKey: "hostile", ModulePath: h, Args: []string{"overflow"}, Limits: Limits{MaxOutputBytes: 1 << 20}},
			want: ReasonOutput},
		{name: "endless recursion", unit: Unit{ModulePath: writeFile(t, "rec.wasm", modRecurse)}, want: ReasonTrap, wantDetail: "stack overflow"},
		{name: "go endless recursion", unit: Unit{ModuleKey: "hostile", ModulePath: h, Args: []string{"recurse"}}, want: ReasonMemory},
		{name: "imports env.nope", unit: Unit{ModulePath: examplestest.BuildSource(t, filepath.Join("testdata", "wasmimport"))},
			want: ReasonMissingImport, wantDetail: "env.nope"},
		{name: "module over the cap", unit: Unit{ModulePath: tooLarge, Limits: Limits{MaxModuleBytes: 1024}}, want: ReasonModuleTooLarge},
		// The stderr kept (the cap's head and tail plus a marker line)
		// once passed the parent's decode cap: the flood was reported as
		// a crash, not as the module's exit.
		{name: "stderr flood, then exit 3", unit: Unit{ModuleKey: "hostile", ModulePath: h, Args: []string{"stderr"}},
			want: ReasonExit, wantDetail: "exit status 3"},
		{name: "panics", unit: Unit{ModuleKey: "hostile", ModulePath: h, Args: []string{"panic"}}, want: ReasonExit, wantDetail: "exit status 2"},
		{name: "missing module file", unit: Unit{ModulePath: filepath.Join(t.TempDir(), "absent.wasm")}, want: ReasonSetup},
	}
	next := Unit{ModulePath: writeFile(t, "ok.wasm", modReturn), ModuleKey: "ok"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res, err := p.RunUnit(t.Context(), tt.unit)
			took := time.Since(start)
			var se *Error
			if !errors.As(err, &se) || se.Reason != tt.want || res.Reason != tt.want || !strings.Contains(res.Detail, tt.wantDetail) {
				t.Fatalf("Run(%s) = %v, %v %q; want reason %v with detail containing %q\nstderr: %s",
					tt.name, err, res.Reason, res.Detail, tt.want, tt.wantDetail, clipBytes(res.Stderr, 300))
			}
			if tt.within > 0 && took > tt.within {
				t.Errorf("Run(%s) took %v, want at most %v", tt.name, took, tt.within)
			}
			ended := time.Now()
			mustRun(t, p, next)
			gap := time.Since(ended)
			if gap > generous/2 {
				t.Errorf("after %s, the next unit took %v to run, want well under %v", tt.name, gap, generous/2)
			}
			t.Logf("%s: ended as %v after %v; next unit done %v later", tt.name, res.Reason, took, gap)
		})
	}
}

// busyChild waits until some child of p runs a unit and returns it.
func busyChild(t *testing.T, p *Pool) *child {
	t.Helper()
	var c *child
	waittest.For(t, "a child to run the unit", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for ch := range p.children {
			if ch.busyUnit.Load() != 0 {
				c = ch
				return true
			}
		}
		return false
	})
	return c
}

// runAsync runs u in the background; the returned function waits for it.
func runAsync(t *testing.T, ctx context.Context, p *Pool, u Unit) func() (Result, error) {
	t.Helper()
	var (
		wg  sync.WaitGroup
		res Result
		err error
	)
	wg.Go(func() { res, err = p.RunUnit(ctx, u) })
	t.Cleanup(wg.Wait)
	return func() (Result, error) {
		wg.Wait()
		return res, err
	}
}

func TestPoolChildKilledFromOutside(t *testing.T) {
	p := newTestPool(t, nil)
	loop := Unit{ModulePath: writeFile(t, "loop.wasm", modLoop)}
	wait := runAsync(t, t.Context(), p, loop)
	c := busyChild(t, p)
	if err := killProcess(c.pid); err != nil {
		t.Fatalf("kill child %d: %v", c.pid, err)
	}
	res, err := wait()
	var se *Error
	if !errors.As(err, &se) || se.Reason != ReasonCrash || !strings.Contains(res.Detail, "killed") {
		t.Fatalf("Run after the child was killed = %v, %v %q; want %v mentioning the kill", err, res.Reason, res.Detail, ReasonCrash)
	}
	ended := time.Now()
	mustRun(t, p, Unit{ModulePath: writeFile(t, "ok.wasm", modReturn)})
	gap := time.Since(ended)
	if gap > 30*time.Second { // a hang, not a loaded machine
		t.Errorf("next unit after a killed child took %v, want well under 30s", gap)
	}
	t.Logf("child killed from outside: unit ended as %v; next unit done %v later", res.Reason, gap)
}

// TestPoolKillsStuckChild has the parent kill a child that gives no result
// by the deadline: here one still compiling a module (compilation cannot
// be interrupted inside the child).
func TestPoolKillsStuckChild(t *testing.T) {
	h := hostileModule(t)
	p := newTestPool(t, func(c *Config) {
		c.CacheDir = t.TempDir() // cold: compiling takes about a second
		c.KillGrace = 100 * time.Millisecond
	})
	res, err := p.RunUnit(t.Context(), Unit{ModulePath: h, Args: []string{"ok"}, Limits: Limits{Timeout: 100 * time.Millisecond}})
	var se *Error
	if !errors.As(err, &se) || se.Reason != ReasonTimeout || !strings.Contains(res.Detail, "child killed") {
		t.Fatalf("Run of a unit compiling past its deadline = %v, %v %q; want %v with the child killed", err, res.Reason, res.Detail, ReasonTimeout)
	}
	// The reason and detail above prove the kill; this bound only
	// catches a kill that waited for something else (a hang), so it is
	// generous enough for a loaded machine.
	if res.Duration > 30*time.Second {
		t.Errorf("stuck child killed after %v, want well under 30s", res.Duration)
	}
	ended := time.Now()
	mustRun(t, p, Unit{ModulePath: writeFile(t, "ok.wasm", modReturn)})
	gap := time.Since(ended)
	if gap > 30*time.Second { // a hang, not a loaded machine
		t.Errorf("next unit after a stuck child took %v, want well under 30s", gap)
	}
	t.Logf("stuck child killed after %v; next unit done %v later", res.Duration, gap)
}

func TestPoolIdleChildDied(t *testing.T) {
	p := newTestPool(t, func(c *Config) { c.Spares = -1 })
	ok := Unit{ModulePath: writeFile(t, "ok.wasm", modReturn)}
	mustRun(t, p, ok)
	p.mu.Lock()
	idle := p.idle[0]
	p.mu.Unlock()
	if err := killProcess(idle.pid); err != nil {
		t.Fatal(err)
	}
	<-idle.exited
	mustRun(t, p, ok) // a new child takes the unit; it is not blamed on the dead one
}

func TestPoolMemoryWatchdog(t *testing.T) {
	p := newTestPool(t, func(c *Config) { c.MaxChildMiB = 1 })
	res, err := p.RunUnit(t.Context(), Unit{ModulePath: writeFile(t, "loop.wasm", modLoop)})
	if res.Reason != ReasonMemory || !strings.Contains(res.Detail, "resident memory") {
		t.Fatalf("Run over the child memory budget = %v, %v %q; want %v", err, res.Reason, res.Detail, ReasonMemory)
	}
	// Below the unit's 20 s timeout, far above a loaded machine's delay.
	if res.Duration > 15*time.Second {
		t.Errorf("watchdog took %v to stop the child", res.Duration)
	}
}

// TestPoolUnitMemoryBudget pins issue 11, finding 3's second half: a
// child's memory budget derives from its unit's own limits, so a child
// running a 16 MiB unit that swells (as after a wazero escape) is killed
// far below the pool-wide MaxChildMiB (here 16 MiB + 1 GiB).
func TestPoolUnitMemoryBudget(t *testing.T) {
	cmd, env := fakeCommand("bloat")
	p, err := New(Config{
		Slots: 1, Spares: -1, Command: cmd, Env: env,
		Limits:          Limits{MemoryMiB: 16, Timeout: time.Minute, MaxOutputBytes: 100},
		StartTimeout:    time.Minute,
		UnitOverheadMiB: 16,
	}, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer p.Close()
	res, err := p.RunUnit(t.Context(), Unit{ModulePath: writeFile(t, "ok.wasm", modReturn)})
	if res.Reason != ReasonMemory || !strings.Contains(res.Detail, "budget") {
		t.Fatalf("Run in a swelling child = %v, %v %q; want %v", err, res.Reason, res.Detail, ReasonMemory)
	}
}

func TestPoolCancel(t *testing.T) {
	p := newTestPool(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	wait := runAsync(t, ctx, p, Unit{ModulePath: writeFile(t, "loop.wasm", modLoop)})
	busyChild(t, p)
	cancel()
	res, err := wait()
	if !errors.Is(err, context.Canceled) || res.Reason != ReasonCanceled {
		t.Fatalf("Run canceled = %v, %v; want context.Canceled and %v", err, res.Reason, ReasonCanceled)
	}
	if _, err := p.RunUnit(ctx, Unit{ModulePath: filepath.Join(t.TempDir(), "x.wasm")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a canceled ctx = %v, want context.Canceled", err)
	}
}

func TestPoolClose(t *testing.T) {
	p := newTestPool(t, nil)
	wait := runAsync(t, t.Context(), p, Unit{ModulePath: writeFile(t, "loop.wasm", modLoop)})
	busyChild(t, p)
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if res, err := wait(); !errors.Is(err, ErrClosed) || res.Reason != ReasonCanceled {
		t.Errorf("Run interrupted by Close = %v, %v; want ErrClosed", err, res.Reason)
	}
	if _, err := p.RunUnit(t.Context(), Unit{ModulePath: filepath.Join(t.TempDir(), "x.wasm")}); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.children) != 0 || len(p.idle) != 0 {
		t.Errorf("after Close: %d children, %d idle; want none", len(p.children), len(p.idle))
	}
}

// TestPoolFakeChildren checks that the parent survives children that lie.
// Only the cases that expect a timeout use short ones; the others get
// deadlines whose expiry would mean a real hang, so that a slow start on a
// loaded machine cannot turn a protocol error into a timeout.
func TestPoolFakeChildren(t *testing.T) {
	const (
		generous  = time.Minute
		short     = 300 * time.Millisecond
		shortInit = 500 * time.Millisecond
	)
	tests := []struct {
		mode         string
		timeout      time.Duration // the unit's
		startTimeout time.Duration
		want         Reason
	}{
		{mode: "ok", timeout: generous, startTimeout: generous, want: ReasonNone},
		{mode: "wrong-id", timeout: generous, startTimeout: generous, want: ReasonCrash},
		{mode: "huge-frame", timeout: generous, startTimeout: generous, want: ReasonCrash},
		{mode: "garbage", timeout: generous, startTimeout: generous, want: ReasonCrash},
		{mode: "long-stdout", timeout: generous, startTimeout: generous, want: ReasonCrash},
		{mode: "bad-reason", timeout: generous, startTimeout: generous, want: ReasonCrash},
		{mode: "canceled", timeout: generous, startTimeout: generous, want: ReasonCrash},
		{mode: "exit-zero-failure", timeout: generous, startTimeout: generous, want: ReasonCrash},
		{mode: "die", timeout: generous, startTimeout: generous, want: ReasonCrash},
		{mode: "silent", timeout: short, startTimeout: generous, want: ReasonTimeout},
		{mode: "drip", timeout: short, startTimeout: generous, want: ReasonTimeout},
		{mode: "mute", timeout: generous, startTimeout: shortInit, want: ReasonSetup},
		{mode: "bad-version", timeout: generous, startTimeout: generous, want: ReasonSetup},
	}
	mod := writeFile(t, "ok.wasm", modReturn)
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			cmd, env := fakeCommand(tt.mode)
			p, err := New(Config{
				Slots: 1, Spares: -1, Command: cmd, Env: env,
				Limits:       Limits{Timeout: tt.timeout, MaxOutputBytes: 100},
				StartTimeout: tt.startTimeout, KillGrace: 100 * time.Millisecond,
			}, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer p.Close()
			res, err := p.RunUnit(t.Context(), Unit{ModulePath: mod})
			if res.Reason != tt.want {
				t.Fatalf("Run with a %q child = %v, %v %q; want %v", tt.mode, err, res.Reason, res.Detail, tt.want)
			}
			if (err == nil) != (tt.want == ReasonNone) {
				t.Errorf("Run with a %q child returned error %v with reason %v", tt.mode, err, res.Reason)
			}
		})
	}
}

func TestPoolConcurrent(t *testing.T) {
	p := newTestPool(t, func(c *Config) { c.Slots = 2 })
	units := []Unit{
		{ModuleKey: "ok", ModulePath: writeFile(t, "ok.wasm", modReturn)},
		{ModuleKey: "exit7", ModulePath: writeFile(t, "exit.wasm", modExit7)},
		{ModuleKey: "trap", ModulePath: writeFile(t, "trap.wasm", modTrap)},
	}
	want := []Reason{ReasonNone, ReasonExit, ReasonTrap}
	n := 30
	if testing.Short() {
		n = 6
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			res, _ := p.RunUnit(t.Context(), units[i%len(units)])
			if res.Reason != want[i%len(units)] {
				errs <- fmt.Errorf("unit %d: reason %v %q, want %v", i, res.Reason, res.Detail, want[i%len(units)])
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if max := p.cfg.Slots + p.cfg.Spares; len(p.children) > max {
		t.Errorf("pool has %d children, want at most Slots+Spares = %d", len(p.children), max)
	}
}

func TestPoolWarm(t *testing.T) {
	p := newTestPool(t, nil)
	u := Unit{ModuleKey: "primes", ModulePath: examplestest.Build(t, "primes"), Args: []string{"0", "1000"}}
	first := mustRun(t, p, u)
	second := mustRun(t, p, u)
	if !second.Warm {
		t.Errorf("second run of %s: Warm = false, want true", u.ModuleKey)
	}
	t.Logf("first unit %v (compile %v, warm %v); second %v (compile %v)", first.Duration, first.CompileTime, first.Warm, second.Duration, second.CompileTime)
}

func TestPoolRejectsBadUnits(t *testing.T) {
	cmd, env := fakeCommand("ok")
	p, err := New(Config{Slots: 1, Spares: -1, Command: cmd, Env: env}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tests := []struct {
		name string
		unit Unit
	}{
		{name: "no module path", unit: Unit{}},
		{name: "negative limit", unit: Unit{ModulePath: "m.wasm", Limits: Limits{Timeout: -1}}},
		{name: "env without =", unit: Unit{ModulePath: "m.wasm", Env: []string{"X"}}},
		{name: "NUL in arg", unit: Unit{ModulePath: "m.wasm", Args: []string{"\x00"}}},
		{name: "huge arg", unit: Unit{ModulePath: "m.wasm", Args: []string{strings.Repeat("a", maxArgLen+1)}}},
		{name: "huge key", unit: Unit{ModulePath: "m.wasm", ModuleKey: strings.Repeat("k", maxKeyLen+1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.RunUnit(t.Context(), tt.unit)
			var se *Error
			if !errors.As(err, &se) || se.Reason != ReasonSetup || res.Reason != ReasonSetup {
				t.Errorf("Run(%s) = %v, %v; want %v", tt.name, err, res.Reason, ReasonSetup)
			}
		})
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{name: "minimal", cfg: Config{Command: []string{os.Args[0]}}, ok: true},
		{name: "no command", cfg: Config{}},
		{name: "missing program", cfg: Config{Command: []string{"/nonexistent/enxame"}}},
		{name: "negative slots", cfg: Config{Command: []string{os.Args[0]}, Slots: -1}},
		{name: "bad spares", cfg: Config{Command: []string{os.Args[0]}, Spares: -2}},
		{name: "bad limits", cfg: Config{Command: []string{os.Args[0]}, Limits: Limits{MemoryMiB: 1 << 20}}},
		{name: "negative unit overhead", cfg: Config{Command: []string{os.Args[0]}, UnitOverheadMiB: -1}},
		{name: "negative max file bytes", cfg: Config{Command: []string{os.Args[0]}, MaxFileBytes: -1}},
		{name: "uncapped cache", cfg: Config{Command: []string{os.Args[0]}, MaxCacheBytes: -1}, ok: true},
		{name: "bad max cache bytes", cfg: Config{Command: []string{os.Args[0]}, MaxCacheBytes: -2}},
		{name: "too many unit dirs", cfg: Config{Command: []string{os.Args[0]}, UnitDirs: strings.Split(strings.Repeat("/nonexistent/u,", maxUnitDirs), ",")}},
		{name: "empty unit dir", cfg: Config{Command: []string{os.Args[0]}, UnitDirs: []string{""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Spares = min(tt.cfg.Spares, -1) // start no children
			if tt.name == "bad spares" {
				tt.cfg.Spares = -2
			}
			p, err := New(tt.cfg, nil)
			if (err == nil) != tt.ok {
				t.Fatalf("New(%s) = %v, want ok %v", tt.name, err, tt.ok)
			}
			if p != nil {
				got := p.Config()
				if got.Slots < 1 || got.MaxCompiled != DefaultMaxCompiled || got.Limits != DefaultLimits() || got.Env == nil ||
					got.UnitOverheadMiB != DefaultUnitOverheadMiB || got.MaxFileBytes != DefaultMaxFileBytes || got.MaxCacheBytes == 0 {
					t.Errorf("New(%s).Config() = %+v, want defaults filled in", tt.name, got)
				}
				p.Close()
			}
		})
	}
}

// TestPoolInputConfined checks, in a child, that a unit reads its input
// and nothing else, and cannot change it.
func TestPoolInputConfined(t *testing.T) {
	p := newTestPool(t, nil)
	in := inputDir(t, map[string][]byte{"a.txt": []byte("secret-free input")})
	if err := os.Symlink("/etc/passwd", filepath.Join(in, "link")); err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, p, Unit{ModuleKey: "hostile", ModulePath: hostileModule(t), InputDir: in, Args: []string{"escape"}})
	want := "read /etc/passwd: false\nread /input/../etc/passwd: false\nread ../etc/passwd: false\nread /input/link: false\n" +
		"read /input/sub/../../etc/passwd: false\nread /: false\nwrite /input/new: false\nremove /input/a.txt: false\n" +
		"read /input/a.txt: \"secret-free input\" true\n"
	if string(res.Stdout) != want {
		t.Errorf("escape attempts printed:\n%s\nwant:\n%s", res.Stdout, want)
	}
	if _, err := os.Stat(filepath.Join(in, "new")); err == nil {
		t.Errorf("the unit created a file in its input directory")
	}
}
