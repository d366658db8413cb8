package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

const (
	// defaultMaxCompiled is how many compiled modules a child keeps.
	defaultMaxCompiled = 16
	// failedOutputKeep is how much stdout a failed unit reports.
	failedOutputKeep = 64 << 10
	pageSize         = 64 << 10
	maxPages         = 65536
)

// errOutputCap is the cancel cause, and the panic value in its fd_write, of
// a unit that filled its stdout.
var errOutputCap = errors.New("output cap reached")

// runnerConfig configures the in-process runner a child uses.
type runnerConfig struct {
	CacheDir    string // on-disk compilation cache, or "" for none
	MemoryMiB   int    // the most memory any unit may get; 0 means the default
	MaxCompiled int    // compiled modules kept in memory; 0 means the default
	// MaxCacheBytes caps the on-disk cache, least recently used entries
	// going first; 0 means no cap.
	MaxCacheBytes int64
	// ExternalDeadline says that something outside the runner stops a unit
	// at its deadline (a child's parent kills the child), so compiled code
	// carries no termination checks. Without it the runner stops units
	// itself, with wazero's WithCloseOnContextDone, which makes loop-heavy
	// code about 4 times slower (see DESIGN.md, Time).
	ExternalDeadline bool
}

// runner compiles and runs units in this process with wazero. It is what a
// child process runs; untrusted units must not run in the worker daemon's
// own process, since compilation cannot be interrupted and a wazero bug
// would take the process down. Not safe for concurrent use.
type runner struct {
	rt          wazero.Runtime // without a disk cache; each module's runtime otherwise
	rc          wazero.RuntimeConfig
	cacheDir    string
	maxCache    int64
	wasi        map[string]bool // functions of wasi_snapshot_preview1
	memoryMiB   int             // the most memory any unit may get
	maxCompiled int
	compiled    []compiledEntry // most recently used first
}

type compiledEntry struct {
	key    string
	rt     wazero.Runtime          // mod's runtime
	cache  wazero.CompilationCache // rt's own disk cache, or nil when rt is the runner's
	mod    wazero.CompiledModule
	tables moduleTableInfo
}

// close releases e's compiled module, and its runtime if it has its own.
func (e compiledEntry) close(ctx context.Context) {
	if e.cache == nil {
		e.mod.Close(ctx)
		return
	}
	e.rt.Close(ctx)
	e.cache.Close(ctx)
}

func newRunner(ctx context.Context, cfg runnerConfig) (*runner, error) {
	if cfg.MemoryMiB <= 0 {
		cfg.MemoryMiB = DefaultMemoryMiB
	}
	if cfg.MaxCompiled <= 0 {
		cfg.MaxCompiled = defaultMaxCompiled
	}
	// Each unit's memory is capped exactly by cappedMemory, which sees every
	// grow and records the ones it refuses, so that a unit stopped by the
	// cap ends with ReasonMemory. The runtime's own limit stays at the
	// wasm32 maximum on purpose: wazero refuses grows past it silently,
	// before any allocator is asked, so a lower limit would hide why a
	// unit failed. A module whose exported memory starts above the cap is
	// refused before instantiation, and one whose hidden memory does is
	// refused before _start runs.
	rc := wazero.NewRuntimeConfig().WithMemoryLimitPages(maxPages)
	if !cfg.ExternalDeadline {
		// An indirect call at every loop header and function entry checks
		// for the module's closing: about 4 times slower loops.
		rc = rc.WithCloseOnContextDone(true)
	}
	r := &runner{memoryMiB: cfg.MemoryMiB, maxCompiled: cfg.MaxCompiled, rc: rc,
		cacheDir: cfg.CacheDir, maxCache: cfg.MaxCacheBytes}
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("open compilation cache: %w", err)
		}
	}
	r.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		r.close(ctx)
		return nil, fmt.Errorf("instantiate wasi: %w", err)
	}
	r.wasi = map[string]bool{}
	for name := range r.rt.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions() {
		r.wasi[name] = true
	}
	return r, nil
}

func (r *runner) close(ctx context.Context) {
	for _, e := range r.compiled {
		e.close(ctx)
	}
	r.compiled = nil
	r.rt.Close(ctx) // also closes compiled modules
}

// run runs one unit and reports how it ended. Every failure, including a
// bad request, is reported in the result.
func (r *runner) run(ctx context.Context, m runMsg) resultMsg {
	res := resultMsg{ID: m.ID}
	if err := m.Limits.validate(); err != nil {
		return res.fail(ReasonSetup, "limits: "+err.Error())
	}
	lim := m.Limits.withDefaults()
	lim.MemoryMiB = min(lim.MemoryMiB, r.memoryMiB)
	if err := checkUnitStrings(m.Args, m.Env); err != nil {
		return res.fail(ReasonSetup, err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()

	start := time.Now()
	e, owned, reason, detail := r.compiledModule(m.ModuleKey, m.ModulePath, lim.MaxModuleBytes)
	res.Compile = time.Since(start)
	if reason != ReasonNone {
		return res.fail(reason, detail)
	}
	res.Warm = detail == "warm"
	if owned {
		defer e.close(context.WithoutCancel(ctx))
	}
	if ctx.Err() != nil {
		return res.fail(ReasonTimeout, fmt.Sprintf("compiling took over %v", lim.Timeout))
	}
	if reason, detail := r.check(e.mod, lim); reason != ReasonNone {
		return res.fail(reason, detail)
	}
	tableBytes, reason, detail := checkTables(e.tables, uint64(lim.MemoryMiB)<<20)
	if reason != ReasonNone {
		return res.fail(reason, detail)
	}
	start = time.Now()
	res = r.exec(ctx, e.rt, e.mod, m, lim, tableBytes, res)
	res.Exec = time.Since(start)
	return res
}

func (res resultMsg) fail(reason Reason, detail string) resultMsg {
	res.Reason = reason
	res.Detail = clip(detail, maxDetailLen)
	return res
}

// checkUnitStrings rejects args and env entries that WASI cannot carry.
func checkUnitStrings(args, env []string) error {
	for i, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("arg %d contains NUL", i)
		}
	}
	for i, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.IndexByte(kv, 0) >= 0 {
			return fmt.Errorf("env entry %d: want KEY=VALUE without NUL", i)
		}
	}
	return nil
}

// compiledModule returns the module compiled, from memory when key is known.
// owned means the caller must close it (key is empty). detail is "warm" when
// it came from memory.
func (r *runner) compiledModule(key, path string, maxBytes int64) (e compiledEntry, owned bool, reason Reason, detail string) {
	if key != "" {
		for i, e := range r.compiled {
			if e.key == key {
				copy(r.compiled[1:i+1], r.compiled[:i])
				r.compiled[0] = e
				return e, false, ReasonNone, "warm"
			}
		}
	}
	b, reason, detail := readModule(path, maxBytes)
	if reason != ReasonNone {
		return e, false, reason, detail
	}
	// Tables get a maximum before compiling; a malformed table section
	// costs no compilation.
	b, tables, err := boundTables(b)
	if err != nil {
		return e, false, ReasonInvalidModule, "compile: " + err.Error()
	}
	e, err = r.compile(b)
	if err != nil {
		return e, false, ReasonInvalidModule, "compile: " + err.Error()
	}
	e.key, e.tables = key, tables
	if key == "" {
		return e, true, ReasonNone, ""
	}
	r.compiled = append([]compiledEntry{e}, r.compiled...)
	if len(r.compiled) > r.maxCompiled {
		old := r.compiled[len(r.compiled)-1]
		r.compiled = r.compiled[:len(r.compiled)-1]
		old.close(context.Background())
	}
	return e, false, ReasonNone, ""
}

// compile compiles b, in a runtime with b's own disk cache entry when the
// runner has a cache, then trims the cache to its cap.
func (r *runner) compile(b []byte) (compiledEntry, error) {
	if r.cacheDir == "" {
		mod, err := compileSafely(r.rt, b)
		return compiledEntry{rt: r.rt, mod: mod}, err
	}
	ctx := context.Background()
	entry := moduleCacheDir(r.cacheDir, b)
	rt, cache, err := moduleRuntime(ctx, r.rc, entry)
	if err != nil {
		return compiledEntry{}, err
	}
	mod, err := compileSafely(rt, b)
	if err != nil {
		rt.Close(ctx)
		cache.Close(ctx)
		if _, statErr := os.Stat(entry); statErr == nil {
			return compiledEntry{}, err
		}
		// Another child evicted the entry while this one compiled into it:
		// compile without the disk cache.
		mod, err = compileSafely(r.rt, b)
		return compiledEntry{rt: r.rt, mod: mod}, err
	}
	if r.maxCache > 0 {
		evictCache(r.cacheDir, r.maxCache) // best effort: the next compilation tries again
	}
	return compiledEntry{rt: rt, cache: cache, mod: mod}, nil
}

// readModule reads a module file of at most maxBytes and checks its header.
func readModule(path string, maxBytes int64) ([]byte, Reason, string) {
	f, err := os.Open(path)
	if err != nil {
		return nil, ReasonSetup, "open module: " + err.Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, ReasonSetup, "stat module: " + err.Error()
	}
	if !st.Mode().IsRegular() {
		return nil, ReasonSetup, fmt.Sprintf("module %s is not a regular file", path)
	}
	if st.Size() > maxBytes {
		return nil, ReasonModuleTooLarge, fmt.Sprintf("module is %d bytes, over %d", st.Size(), maxBytes)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, ReasonSetup, "read module: " + err.Error()
	}
	if int64(len(b)) > maxBytes {
		return nil, ReasonModuleTooLarge, fmt.Sprintf("module is over %d bytes", maxBytes)
	}
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return nil, ReasonInvalidModule, "not a WebAssembly module: bad magic number"
	}
	if !bytes.Equal(b[4:8], []byte{1, 0, 0, 0}) {
		return nil, ReasonInvalidModule, fmt.Sprintf("unsupported WebAssembly binary version %x", b[4:8])
	}
	return b, ReasonNone, ""
}

// compileSafely compiles b, turning a compiler panic into an error.
func compileSafely(rt wazero.Runtime, b []byte) (mod wazero.CompiledModule, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("compiler panic: %v", p)
		}
	}()
	// Compilation ignores ctx; the parent's deadline bounds it.
	return rt.CompileModule(context.Background(), b)
}

// check rejects modules that cannot run here before instantiating them.
func (r *runner) check(mod wazero.CompiledModule, lim Limits) (Reason, string) {
	for _, f := range mod.ImportedFunctions() {
		module, name, _ := f.Import()
		if module != wasi_snapshot_preview1.ModuleName || !r.wasi[name] {
			return ReasonMissingImport, fmt.Sprintf("imports function %s.%s, which the sandbox does not offer", module, name)
		}
	}
	for _, m := range mod.ImportedMemories() {
		module, name, _ := m.Import()
		return ReasonMissingImport, fmt.Sprintf("imports memory %s.%s, which the sandbox does not offer", module, name)
	}
	capBytes := uint64(lim.MemoryMiB) << 20
	for _, m := range mod.ExportedMemories() {
		if uint64(m.Min())*pageSize > capBytes {
			return ReasonMemory, fmt.Sprintf("declares %d MiB of memory, over the cap of %d MiB", uint64(m.Min())*pageSize>>20, lim.MemoryMiB)
		}
	}
	if _, ok := mod.ExportedFunctions()["_start"]; !ok {
		return ReasonInvalidModule, "not a WASI command: exports no _start function"
	}
	return ReasonNone, ""
}

// exec instantiates mod and runs its _start.
//
// tableBytes is what the module's tables may take: the linear memory gets
// the cap less that.
func (r *runner) exec(ctx context.Context, rt wazero.Runtime, mod wazero.CompiledModule, m runMsg, lim Limits, tableBytes uint64, res resultMsg) (out resultMsg) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The write past the cap stops the unit at once, from inside its
	// fd_write: wazero turns a host function's panic into the error of the
	// call, as WASI's proc_exit does. A cancel alone would not stop a unit
	// compiled without termination checks (ExternalDeadline).
	stdout := &cappedOutput{max: lim.MaxOutputBytes, onOver: func() {
		cancel(errOutputCap)
		panic(errOutputCap)
	}}
	stderr := newHeadTail(int(lim.MaxStderrBytes))
	clock := &virtualClock{}
	alloc := &cappedMemory{max: uint64(lim.MemoryMiB)<<20 - tableBytes}

	fsConfig := wazero.NewFSConfig()
	if m.InputDir != "" {
		// os.Root confines every open, symlinks included, to the directory;
		// an fs.FS mount is read-only.
		root, err := os.OpenRoot(m.InputDir)
		if err != nil {
			return res.fail(ReasonSetup, "open input dir: "+err.Error())
		}
		defer root.Close()
		fsConfig = fsConfig.WithFSMount(root.FS(), "/input")
	}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithArgs(append([]string{"unit"}, m.Args...)...).
		WithStdout(stdout).
		WithStderr(stderr).
		WithFSConfig(fsConfig).
		WithWalltime(clock.walltime, clockTick).
		WithNanotime(clock.nanotime, clockTick).
		WithNanosleep(clock.nanosleep).
		WithOsyield(func() {}).
		WithRandSource(randSource(m.Seed)).
		WithStartFunctions() // _start is called below, once memory is checked
	for _, kv := range m.Env {
		k, v, _ := strings.Cut(kv, "=")
		cfg = cfg.WithEnv(k, v)
	}

	defer func() {
		out.Stderr = stderr.Bytes()
		out.PeakMemory = alloc.peak()
	}()
	defer alloc.free() // after inst.Close, deferred below
	inst, err := rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, alloc), mod, cfg)
	if err != nil {
		reason, code, detail := classify(ctx, err, alloc, stdout, lim)
		if reason == ReasonTrap {
			reason, detail = instantiateReason(err)
		}
		res = res.fail(reason, detail)
		res.ExitCode = code
		res.Stdout = clipBytes(stdout.buf, failedOutputKeep)
		return res
	}
	defer inst.Close(context.WithoutCancel(ctx))
	if alloc.overCap() {
		return res.fail(ReasonMemory, fmt.Sprintf("starts with %d MiB of memory, over the cap of %d MiB", alloc.initial>>20, lim.MemoryMiB))
	}
	_, err = callStart(ctx, inst.ExportedFunction("_start"))
	reason, code, detail := classify(ctx, err, alloc, stdout, lim)
	res = res.fail(reason, detail)
	res.ExitCode = code
	if reason == ReasonNone {
		res.Stdout = stdout.buf
	} else {
		res.Stdout = clipBytes(stdout.buf, failedOutputKeep)
	}
	return res
}

// callStart calls fn, turning a panic into an error.
func callStart(ctx context.Context, fn api.Function) (_ []uint64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sandbox panic: %v", p)
		}
	}()
	return fn.Call(ctx)
}

// classify turns how a call ended into a reason, an exit code and a detail.
func classify(ctx context.Context, err error, alloc *cappedMemory, stdout *cappedOutput, lim Limits) (Reason, uint32, string) {
	if stdout.over {
		// Even if the unit then exited 0: its output is incomplete.
		return ReasonOutput, 0, fmt.Sprintf("output over %d bytes", lim.MaxOutputBytes)
	}
	var exit *sys.ExitError
	isExit := errors.As(err, &exit)
	if err == nil || (isExit && exit.ExitCode() == 0) {
		return ReasonNone, 0, ""
	}
	switch {
	case alloc.refused() > 0:
		return ReasonMemory, 0, fmt.Sprintf("memory grow to %d MiB refused: the cap is %d MiB", alloc.refused()>>20, lim.MemoryMiB)
	case errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		return ReasonTimeout, 0, fmt.Sprintf("ran past %v", lim.Timeout)
	case ctx.Err() != nil:
		return ReasonCanceled, 0, "canceled"
	case isExit:
		return ReasonExit, exit.ExitCode(), fmt.Sprintf("exit status %d", exit.ExitCode())
	}
	return ReasonTrap, 0, firstLine(err.Error())
}

// instantiateReason classifies an instantiation error that is not an exit,
// a timeout or a cap.
func instantiateReason(err error) (Reason, string) {
	msg := firstLine(err.Error())
	if strings.Contains(msg, "import") {
		return ReasonMissingImport, "instantiate: " + msg
	}
	if strings.Contains(msg, "wasm error") {
		return ReasonTrap, "start section: " + msg
	}
	return ReasonInvalidModule, "instantiate: " + msg
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return clip(s, maxDetailLen)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func clipBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
