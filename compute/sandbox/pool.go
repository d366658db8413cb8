package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultSpares       = 1
	DefaultMaxCompiled  = defaultMaxCompiled
	DefaultStartTimeout = 10 * time.Second
	DefaultKillGrace    = 500 * time.Millisecond
	// DefaultChildOverheadMiB is what a child may hold beyond its units'
	// linear memory (the Go runtime, wazero, compiled code) before the
	// watchdog kills it, whatever the unit.
	DefaultChildOverheadMiB = 1024
	// DefaultUnitOverheadMiB is Config.UnitOverheadMiB's default.
	DefaultUnitOverheadMiB = 64
	// DefaultMaxFileBytes is Config.MaxFileBytes's default: a compiled
	// module is a few times its module's size, at most 64 MiB by default.
	DefaultMaxFileBytes = 1 << 30
)

// compileFactor is how many bytes of resident memory compiling a module
// may take per byte of module: wazero took 63 MiB to compile a 2.9 MB
// Go-built module (22 times its size).
const compileFactor = 32

// watchInterval is how often the parent reads a busy child's resident
// memory.
const watchInterval = 100 * time.Millisecond

// childStderrKeep is how much of a child process's own stderr is kept for
// logs.
const childStderrKeep = 8 << 10

// Config configures a Pool. A zero field means its default.
type Config struct {
	// Slots is how many units run at once, each in its own child process.
	// Default runtime.NumCPU().
	Slots int
	// Spares is how many idle, warm children the pool keeps ready beyond
	// the busy ones, so a unit whose child was killed is followed at once.
	// Default 1; -1 means none.
	Spares int
	// Command is the argv that starts a child: a program that calls
	// ChildMain, such as {"/usr/bin/enxame", "sandbox-child"}. Required.
	Command []string
	// Env is the children's whole environment, "KEY=VALUE" entries. Nil
	// means an empty environment, not the parent's.
	Env []string
	// CacheDir is a directory for wazero's on-disk compilation cache,
	// shared by all children: a module compiled once loads in tens of
	// milliseconds afterwards. Empty means no disk cache.
	CacheDir string
	// MaxCacheBytes caps the compilation cache, in bytes: after each
	// compilation the least recently used modules' entries are removed
	// until it fits. Default 1 GiB; -1 means no cap.
	MaxCacheBytes int64
	// Limits are every unit's defaults and maxima. Zero fields mean
	// DefaultLimits' values.
	Limits Limits
	// MaxCompiled is how many compiled modules each child keeps in memory,
	// by module key. Default 16.
	MaxCompiled int
	// StartTimeout bounds a child's start-up handshake. Default 10s.
	StartTimeout time.Duration
	// KillGrace is how long past a unit's Timeout the parent waits for the
	// child's own timeout result before killing it. Default 500ms.
	KillGrace time.Duration
	// MaxChildMiB caps a busy child's resident memory, in MiB, whatever
	// its unit; a child over it is killed and its unit ends with
	// ReasonMemory. Default Limits.MemoryMiB + 1024. Linux only.
	MaxChildMiB int
	// UnitOverheadMiB is what a child may hold, in MiB, beyond what it
	// held before a unit, the unit's linear memory cap, three times its
	// output cap and 32 times its module's size, before the watchdog kills
	// it: each unit's budget is derived from its own limits. Default 64.
	// Linux only.
	UnitOverheadMiB int
	// UnitDirs are the directories units' ModulePath and InputDir must be
	// in. On Linux with Landlock a child may read only these, the
	// compilation cache and its own executable and libraries, and write
	// only the cache: not the node's home or key. Empty means units may
	// name any path and children's files are not confined. The pool makes
	// missing ones.
	UnitDirs []string
	// MaxFileBytes caps, in bytes, a file a child writes (RLIMIT_FSIZE):
	// the compilation cache's entries. Default 1 GiB. Linux only.
	MaxFileBytes int64
}

// DefaultConfig returns the default configuration, without a Command.
func DefaultConfig() Config {
	lim := DefaultLimits()
	return Config{
		Slots:        runtime.NumCPU(),
		Spares:       DefaultSpares,
		Limits:       lim,
		MaxCompiled:  DefaultMaxCompiled,
		StartTimeout: DefaultStartTimeout,
		KillGrace:    DefaultKillGrace,
		MaxChildMiB:  lim.MemoryMiB + DefaultChildOverheadMiB,

		UnitOverheadMiB: DefaultUnitOverheadMiB,
		MaxFileBytes:    DefaultMaxFileBytes,
		MaxCacheBytes:   DefaultMaxCacheBytes,
	}
}

// withDefaults fills zero fields and validates the result.
func (c Config) withDefaults() (Config, error) {
	def := DefaultConfig()
	if err := c.Limits.validate(); err != nil {
		return c, fmt.Errorf("Limits: %w", err)
	}
	c.Limits = c.Limits.withDefaults()
	switch {
	case c.Slots < 0:
		return c, errors.New("Slots must be >= 0")
	case c.Spares < -1:
		return c, errors.New("Spares must be >= -1")
	case len(c.Command) == 0 || c.Command[0] == "":
		return c, errors.New("Command is required")
	case c.MaxCompiled < 0 || c.StartTimeout < 0 || c.KillGrace < 0 || c.MaxChildMiB < 0 || c.UnitOverheadMiB < 0:
		return c, errors.New("MaxCompiled, StartTimeout, KillGrace, MaxChildMiB and UnitOverheadMiB must be >= 0")
	}
	if c.UnitOverheadMiB == 0 {
		c.UnitOverheadMiB = def.UnitOverheadMiB
	}
	switch c.MaxCacheBytes {
	case 0:
		c.MaxCacheBytes = def.MaxCacheBytes
	case -1:
	default:
		if c.MaxCacheBytes < 0 {
			return c, errors.New("MaxCacheBytes must be >= -1")
		}
	}
	switch {
	case c.MaxFileBytes < 0:
		return c, errors.New("MaxFileBytes must be >= 0")
	case c.MaxFileBytes == 0:
		c.MaxFileBytes = def.MaxFileBytes
	}
	if len(c.UnitDirs) > maxUnitDirs {
		return c, fmt.Errorf("UnitDirs: %d directories, at most %d", len(c.UnitDirs), maxUnitDirs)
	}
	dirs := make([]string, len(c.UnitDirs))
	for i, d := range c.UnitDirs {
		abs, err := filepath.Abs(d)
		if err != nil || d == "" || len(abs) > maxPathLen {
			return c, fmt.Errorf("UnitDirs: bad directory %q", d)
		}
		dirs[i] = abs
	}
	c.UnitDirs = dirs
	if c.Slots == 0 {
		c.Slots = def.Slots
	}
	switch c.Spares {
	case 0:
		c.Spares = def.Spares
	case -1:
		c.Spares = 0
	}
	if c.MaxCompiled == 0 {
		c.MaxCompiled = def.MaxCompiled
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = def.StartTimeout
	}
	if c.KillGrace == 0 {
		c.KillGrace = def.KillGrace
	}
	if c.MaxChildMiB == 0 {
		c.MaxChildMiB = c.Limits.MemoryMiB + DefaultChildOverheadMiB
	}
	if c.Env == nil {
		c.Env = []string{} // exec.Cmd would pass the parent's environment
	}
	return c, nil
}

// Unit is one run of a module.
type Unit struct {
	// ModuleKey identifies the module's bytes, such as its CID. A child
	// keeps compiled modules by key, so two units with the same key must
	// have the same module. Empty means compile from ModulePath every time
	// (the on-disk cache still applies).
	ModuleKey string
	// ModulePath is the module's .wasm file. Required.
	ModulePath string
	// InputDir is mounted read-only at /input. Empty means no /input.
	InputDir string
	// Args follow argv[0], which is "unit".
	Args []string
	// Env is the unit's whole environment, "KEY=VALUE" entries.
	Env []string
	// Seed seeds the unit's random source; replicas of a unit must use the
	// same seed to give the same output.
	Seed uint64
	// Limits bound the unit. Zero fields mean the pool's; fields above the
	// pool's are lowered to the pool's.
	Limits Limits
}

// Result reports how a unit ended.
type Result struct {
	// Stdout is the unit's standard output: all of it when the unit exited
	// 0; at most its first 64 KiB otherwise.
	Stdout []byte
	// Stderr is the head and tail of the unit's standard error, at most
	// Limits.MaxStderrBytes, with a line "[... N bytes dropped ...]"
	// between them when more was written (then it is longer than
	// Limits.MaxStderrBytes).
	Stderr []byte
	// ExitCode is the unit's exit status.
	ExitCode uint32
	// Reason is ReasonNone when the unit exited 0, else why it did not.
	Reason Reason
	// Detail explains Reason in one line.
	Detail string
	// Duration is the wall time from sending the unit to its child to
	// the result, as the parent measured it.
	Duration time.Duration
	// CompileTime is how long the child took to get the compiled module, as
	// it reported (near zero when Warm).
	CompileTime time.Duration
	// Warm reports that the child had the module compiled in memory.
	Warm bool
	// PeakMemory is the unit's largest linear-memory size in bytes, as the
	// child reported.
	PeakMemory uint64
}

// Err returns nil when the unit exited 0, else an *Error.
func (r Result) Err() error {
	if r.Reason == ReasonNone {
		return nil
	}
	return &Error{Reason: r.Reason, ExitCode: r.ExitCode, Detail: r.Detail}
}

// Pool runs units in warm child processes. It is safe for concurrent use.
//
// Goroutines: a Pool owns one goroutine per child process (reaping it) and
// one per child being started in the background; Close waits for all of
// them. Each Run call waits for the goroutines it starts before returning.
type Pool struct {
	cfg     Config
	log     *slog.Logger
	slots   chan struct{}
	closing chan struct{}
	nextID  atomic.Uint64

	mu        sync.Mutex
	isolation string // as the last child to start reported it
	closed    bool
	idle      []*child // most recently used last
	children  map[*child]struct{}
	starting  int

	wg sync.WaitGroup
}

// child is one child process.
type child struct {
	cmd     *exec.Cmd
	pid     int
	in      *os.File // the child's stdin
	out     *os.File // the child's stdout
	stderr  *syncHeadTail
	exited  chan struct{} // closed once the process is reaped
	waitErr error         // set before exited is closed
	kill    sync.Once

	// recent mirrors the child's compiled-module cache, most recent first;
	// only the goroutine that holds the child uses it.
	recent []string
	// busyUnit is the ID of the unit the child is running, or 0.
	busyUnit atomic.Uint64
}

// New returns a pool and starts its spare children in the background. It
// checks that Command names an executable, but not that it speaks the
// protocol: a bad Command makes Run fail with ReasonSetup. A nil logger
// discards logs.
func New(cfg Config, logger *slog.Logger) (*Pool, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("sandbox: config: %w", err)
	}
	if _, err := exec.LookPath(cfg.Command[0]); err != nil {
		return nil, fmt.Errorf("sandbox: config: Command: %w", err)
	}
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("sandbox: config: CacheDir: %w", err)
		}
		abs, err := filepath.Abs(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("sandbox: config: CacheDir: %w", err)
		}
		cfg.CacheDir = abs
	}
	for _, d := range cfg.UnitDirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("sandbox: config: UnitDirs: %w", err)
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Pool{
		cfg:      cfg,
		log:      logger.With("component", "sandbox"),
		slots:    make(chan struct{}, cfg.Slots),
		closing:  make(chan struct{}),
		children: map[*child]struct{}{},
	}
	p.replenish()
	return p, nil
}

// FreeSlots returns how many units could start now without waiting for a
// slot: Slots minus the units running or starting.
func (p *Pool) FreeSlots() int { return p.cfg.Slots - len(p.slots) }

// Config returns the pool's configuration with defaults filled in.
func (p *Pool) Config() Config { return p.cfg }

// Isolation returns the OS protections the last child to start reported
// running under, in one line (such as "landlock(abi 7)
// rlimit-fsize(1024 MiB) no_new_privs seccomp"), with the reason of any that
// is off; empty before the first child has started.
func (p *Pool) Isolation() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.isolation
}

// Close kills every child process and waits for the pool's goroutines.
// Units still running end with ReasonCanceled and ErrClosed. Close is
// idempotent and always returns nil.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.closing)
	all := make([]*child, 0, len(p.children))
	for c := range p.children {
		all = append(all, c)
	}
	p.idle = nil
	p.mu.Unlock()
	for _, c := range all {
		p.killChild(c)
	}
	p.wg.Wait()
	return nil
}

// RunUnit runs u in a child process and waits for it to end. It returns a nil
// error iff the unit exited 0; otherwise an *Error whose Reason says why
// (ReasonCanceled wraps ctx.Err() or ErrClosed). The Result is filled in as
// far as the unit got. It blocks while all Slots are busy.
func (p *Pool) RunUnit(ctx context.Context, u Unit) (Result, error) {
	req, lim, err := p.request(u)
	if err != nil {
		return failed(ReasonSetup, err.Error(), nil)
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return failed(ReasonCanceled, "waiting for a slot", ctx.Err())
	case <-p.closing:
		return failed(ReasonCanceled, "", ErrClosed)
	}
	defer func() { <-p.slots }()

	for attempt := 0; ; attempt++ {
		c, err := p.acquire(ctx, u.ModuleKey)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return failed(ReasonCanceled, "starting a child", ctx.Err())
		case errors.Is(err, ErrClosed):
			return failed(ReasonCanceled, "", ErrClosed)
		default:
			return failed(ReasonSetup, "start child: "+err.Error(), nil)
		}
		res, state, cause := p.runOn(ctx, c, req, lim)
		if state == notSent {
			// The child died while idle; the unit never reached it.
			p.release(c, false)
			if attempt == 0 {
				continue
			}
			return failed(ReasonCrash, "two child processes in a row refused the unit", nil)
		}
		p.release(c, state == healthy)
		p.log.Debug("unit ended", "unit", req.ID, "key", u.ModuleKey, "reason", res.Reason,
			"dur", res.Duration, "warm", res.Warm, "pid", c.pid)
		if res.Reason == ReasonNone {
			return res, nil
		}
		return res, &Error{Reason: res.Reason, ExitCode: res.ExitCode, Detail: res.Detail, Err: cause}
	}
}

func failed(reason Reason, detail string, cause error) (Result, error) {
	return Result{Reason: reason, Detail: detail}, &Error{Reason: reason, Detail: detail, Err: cause}
}

// request checks u and builds its run message.
func (p *Pool) request(u Unit) (runMsg, Limits, error) {
	if err := u.Limits.validate(); err != nil {
		return runMsg{}, Limits{}, fmt.Errorf("limits: %w", err)
	}
	lim := u.Limits.within(p.cfg.Limits)
	if u.ModulePath == "" {
		return runMsg{}, lim, errors.New("ModulePath is empty")
	}
	if err := checkUnitStrings(u.Args, u.Env); err != nil {
		return runMsg{}, lim, err
	}
	modulePath, err := filepath.Abs(u.ModulePath)
	if err != nil {
		return runMsg{}, lim, fmt.Errorf("ModulePath: %w", err)
	}
	inputDir := u.InputDir
	if inputDir != "" {
		if inputDir, err = filepath.Abs(inputDir); err != nil {
			return runMsg{}, lim, fmt.Errorf("InputDir: %w", err)
		}
	}
	if !p.inUnitDirs(modulePath) {
		return runMsg{}, lim, fmt.Errorf("ModulePath %s is outside the pool's UnitDirs", modulePath)
	}
	if inputDir != "" && !p.inUnitDirs(inputDir) {
		return runMsg{}, lim, fmt.Errorf("InputDir %s is outside the pool's UnitDirs", inputDir)
	}
	m := runMsg{
		ID:         p.nextID.Add(1),
		ModuleKey:  u.ModuleKey,
		ModulePath: modulePath,
		InputDir:   inputDir,
		Args:       u.Args,
		Env:        u.Env,
		Seed:       u.Seed,
		Limits:     lim,
	}
	if len(m.ModuleKey) > maxKeyLen || len(m.ModulePath) > maxPathLen || len(m.InputDir) > maxPathLen ||
		len(m.Args) > maxArgs || len(m.Env) > maxArgs {
		return runMsg{}, lim, errors.New("unit fields over the protocol's caps")
	}
	for _, s := range append(append([]string(nil), m.Args...), m.Env...) {
		if len(s) > maxArgLen {
			return runMsg{}, lim, fmt.Errorf("an arg or env entry is over %d bytes", maxArgLen)
		}
	}
	if len(encodeRun(m)) > maxRunFrame {
		return runMsg{}, lim, fmt.Errorf("unit description over %d bytes", maxRunFrame)
	}
	return m, lim, nil
}

// inUnitDirs reports whether the absolute path is beneath one of UnitDirs,
// or UnitDirs is empty.
func (p *Pool) inUnitDirs(path string) bool {
	if len(p.cfg.UnitDirs) == 0 {
		return true
	}
	for _, d := range p.cfg.UnitDirs {
		if rel, err := filepath.Rel(d, path); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// childState is how a child came out of a unit.
type childState int

const (
	healthy childState = iota // can take the next unit
	broken                    // killed, or must be
	notSent                   // the unit never reached it
)

// runOn sends req to c and waits for its result, the deadline, ctx, the
// pool's closing or the memory watchdog, whichever comes first. cause is
// the error a ReasonCanceled result wraps.
func (p *Pool) runOn(ctx context.Context, c *child, req runMsg, lim Limits) (res Result, state childState, cause error) {
	budget := p.unitBudget(c.pid, req.ModulePath, lim)
	c.in.SetWriteDeadline(time.Now().Add(p.cfg.StartTimeout))
	if err := writeFrame(c.in, encodeRun(req)); err != nil {
		return Result{}, notSent, nil
	}
	c.in.SetWriteDeadline(time.Time{})
	c.busyUnit.Store(req.ID)
	defer c.busyUnit.Store(0)
	c.touch(req.ModuleKey, p.cfg.MaxCompiled)
	start := time.Now()

	type frame struct {
		b   []byte
		err error
	}
	frames := make(chan frame, 1)
	var wg sync.WaitGroup
	defer wg.Wait() // every path below that returns without a frame kills c first
	maxFrame := resultOverhead + int(lim.MaxOutputBytes) + int(lim.MaxStderrBytes)
	wg.Go(func() {
		b, err := readFrame(c.out, maxFrame)
		frames <- frame{b, err}
	})
	timer := time.NewTimer(lim.Timeout + p.cfg.KillGrace)
	defer timer.Stop()
	ticker := time.NewTicker(watchInterval)
	defer ticker.Stop()
	kill := func(reason Reason, detail string, cause error) (Result, childState, error) {
		p.killChild(c)
		p.log.Warn("child killed", "pid", c.pid, "unit", req.ID, "reason", reason, "detail", detail)
		return Result{Reason: reason, Detail: detail, Duration: time.Since(start)}, broken, cause
	}
	for {
		select {
		case f := <-frames:
			if f.err != nil {
				return p.childLost(c, req.ID, f.err, time.Since(start))
			}
			m, err := decodeResult(f.b, int(lim.MaxOutputBytes), int(lim.MaxStderrBytes)+markerRoom)
			if err == nil {
				err = checkResult(m, req)
			}
			if err != nil {
				return kill(ReasonCrash, "child broke the protocol: "+err.Error(), nil)
			}
			res := Result{
				Stdout:      m.Stdout,
				Stderr:      m.Stderr,
				ExitCode:    m.ExitCode,
				Reason:      m.Reason,
				Detail:      m.Detail,
				Duration:    time.Since(start),
				CompileTime: m.Compile,
				Warm:        m.Warm,
				PeakMemory:  m.PeakMemory,
			}
			if m.Reason == ReasonCrash {
				return res, broken, nil
			}
			return res, healthy, nil
		case <-timer.C:
			return kill(ReasonTimeout, fmt.Sprintf("ran past %v; child killed after %v more", lim.Timeout, p.cfg.KillGrace), nil)
		case <-ctx.Done():
			return kill(ReasonCanceled, "canceled while running", ctx.Err())
		case <-p.closing:
			return kill(ReasonCanceled, "pool closed while running", ErrClosed)
		case <-ticker.C:
			rss, err := residentBytes(c.pid)
			if err == nil && rss > budget {
				return kill(ReasonMemory, fmt.Sprintf("child process resident memory %d MiB over its budget of %d MiB for this unit", rss>>20, budget>>20), nil)
			}
		}
	}
}

// unitBudget returns the resident memory, in bytes, the child pid may
// reach while it runs a unit of module path with limits lim: what it holds
// now, the unit's memory cap, room for its output and for compiling its
// module, and UnitOverheadMiB; at most MaxChildMiB. Tables count against
// the memory cap (see checkTables).
func (p *Pool) unitBudget(pid int, path string, lim Limits) uint64 {
	maxChild := uint64(p.cfg.MaxChildMiB) << 20
	base, err := residentBytes(pid)
	if err != nil {
		return maxChild
	}
	moduleBytes := uint64(lim.MaxModuleBytes)
	if st, err := os.Stat(path); err == nil && st.Size() >= 0 {
		moduleBytes = min(moduleBytes, uint64(st.Size()))
	}
	b := base + uint64(lim.MemoryMiB)<<20 + 3*uint64(lim.MaxOutputBytes) +
		compileFactor*moduleBytes + uint64(p.cfg.UnitOverheadMiB)<<20
	return min(b, maxChild)
}

// checkResult checks what decodeResult cannot: that the result answers req
// and that its reason is one a child may give.
func checkResult(m resultMsg, req runMsg) error {
	switch {
	case m.ID != req.ID:
		return fmt.Errorf("result for unit %d, want %d", m.ID, req.ID)
	case m.Reason == ReasonCanceled:
		return errors.New("child reported a cancellation it was never asked for")
	case m.Reason == ReasonNone && m.ExitCode != 0:
		return fmt.Errorf("success with exit code %d", m.ExitCode)
	case m.Reason == ReasonExit && m.ExitCode == 0:
		return errors.New("non-zero exit with exit code 0")
	case m.Reason != ReasonNone && m.Reason != ReasonExit && m.ExitCode != 0:
		return fmt.Errorf("reason %v with exit code %d", m.Reason, m.ExitCode)
	case m.Reason != ReasonNone && len(m.Stdout) > failedOutputKeep:
		return fmt.Errorf("failed unit with %d bytes of stdout", len(m.Stdout))
	}
	return nil
}

// childLost reports a unit whose child stopped answering: it died, or closed
// its stdout.
func (p *Pool) childLost(c *child, id uint64, readErr error, dur time.Duration) (Result, childState, error) {
	if errors.Is(readErr, io.EOF) || errors.Is(readErr, io.ErrUnexpectedEOF) {
		// The child closed its stdout: it is exiting. Give it a moment to be
		// reaped, for its exit status.
		t := time.NewTimer(time.Second)
		select {
		case <-c.exited:
		case <-t.C:
		}
		t.Stop()
	}
	p.killChild(c)
	detail := "child process died"
	select {
	case <-c.exited:
		if c.waitErr != nil {
			detail += " (" + c.waitErr.Error() + ")"
		}
	default:
		detail = "child process stopped answering: " + readErr.Error()
	}
	p.log.Warn("child lost", "pid", c.pid, "unit", id, "detail", detail, "stderr", lastLines(c.stderr.String(), 5))
	return Result{Reason: ReasonCrash, Detail: detail, Duration: dur}, broken, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// touch records that c was sent a unit of module key.
func (c *child) touch(key string, max int) {
	if key == "" {
		return
	}
	for i, k := range c.recent {
		if k == key {
			copy(c.recent[1:i+1], c.recent[:i])
			c.recent[0] = key
			return
		}
	}
	c.recent = append([]string{key}, c.recent...)
	if len(c.recent) > max {
		c.recent = c.recent[:max]
	}
}

func (c *child) has(key string) bool {
	for _, k := range c.recent {
		if k == key {
			return true
		}
	}
	return false
}

func (c *child) dead() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// acquire takes an idle child, preferring one that has key compiled, or
// starts one.
func (p *Pool) acquire(ctx context.Context, key string) (*child, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	var dead []*child
	live := p.idle[:0]
	for _, c := range p.idle {
		if c.dead() {
			dead = append(dead, c)
		} else {
			live = append(live, c)
		}
	}
	clear(p.idle[len(live):])
	p.idle = live
	pick := -1
	for i := len(p.idle) - 1; i >= 0; i-- {
		if pick < 0 || (key != "" && p.idle[i].has(key) && !p.idle[pick].has(key)) {
			pick = i
		}
	}
	var c *child
	if pick >= 0 {
		c = p.idle[pick]
		p.idle = append(p.idle[:pick], p.idle[pick+1:]...)
	}
	p.mu.Unlock()
	for _, d := range dead {
		p.killChild(d)
	}
	if c == nil {
		var err error
		if c, err = p.startChild(ctx.Done()); err != nil {
			return nil, err
		}
	}
	p.replenish()
	return c, nil
}

// release returns c to the idle list, or kills it.
func (p *Pool) release(c *child, ok bool) {
	p.mu.Lock()
	keep := ok && !p.closed && !c.dead() && len(p.idle) < p.cfg.Slots+p.cfg.Spares
	if keep {
		p.idle = append(p.idle, c)
	}
	p.mu.Unlock()
	if !keep {
		p.killChild(c)
	}
	p.replenish()
}

// replenish starts children in the background until Spares are idle or
// starting, within Slots+Spares children in all.
func (p *Pool) replenish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	need := p.cfg.Spares - len(p.idle) - p.starting
	need = min(need, p.cfg.Slots+p.cfg.Spares-len(p.children)-p.starting)
	for range max(need, 0) {
		p.starting++
		p.wg.Go(func() {
			c, err := p.startChild(nil)
			p.mu.Lock()
			p.starting--
			if err == nil && !p.closed {
				p.idle = append(p.idle, c)
				c = nil
			}
			p.mu.Unlock()
			if err != nil && !errors.Is(err, ErrClosed) {
				p.log.Warn("start spare child", "err", err)
			}
			if c != nil {
				p.killChild(c)
			}
		})
	}
}

// startChild starts a child process and waits for its ready message, until
// StartTimeout, stop or the pool's closing.
func (p *Pool) startChild(stop <-chan struct{}) (*child, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	c := &child{
		in:     inW,
		out:    outR,
		stderr: &syncHeadTail{h: newHeadTail(childStderrKeep)},
		exited: make(chan struct{}),
	}
	c.cmd = exec.Command(p.cfg.Command[0], p.cfg.Command[1:]...)
	c.cmd.Env = p.cfg.Env
	c.cmd.Stdin = inR
	c.cmd.Stdout = outW
	c.cmd.Stderr = c.stderr
	c.cmd.SysProcAttr = childSysProcAttr()
	err = c.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	c.pid = c.cmd.Process.Pid

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.cmd.Process.Kill()
		c.cmd.Wait()
		inW.Close()
		outR.Close()
		return nil, ErrClosed
	}
	p.children[c] = struct{}{}
	p.wg.Go(func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	})
	p.mu.Unlock()

	if err := p.handshake(c, stop); err != nil {
		p.killChild(c)
		if s := lastLines(c.stderr.String(), 3); s != "" {
			err = fmt.Errorf("%w; child stderr: %s", err, s)
		}
		return nil, err
	}
	return c, nil
}

// handshake sends init and waits for ready.
func (p *Pool) handshake(c *child, stop <-chan struct{}) error {
	deadline := time.Now().Add(p.cfg.StartTimeout)
	c.in.SetWriteDeadline(deadline)
	err := writeFrame(c.in, encodeInit(initMsg{
		Version:       protocolVersion,
		CacheDir:      p.cfg.CacheDir,
		MemoryMiB:     uint64(p.cfg.Limits.MemoryMiB),
		MaxCompiled:   uint64(p.cfg.MaxCompiled),
		UnitDirs:      p.cfg.UnitDirs,
		MaxFileBytes:  uint64(p.cfg.MaxFileBytes),
		MaxCacheBytes: uint64(max(p.cfg.MaxCacheBytes, 0)),
	}))
	c.in.SetWriteDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("send init: %w", err)
	}
	c.out.SetReadDeadline(deadline)
	type frame struct {
		b   []byte
		err error
	}
	frames := make(chan frame, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		b, err := readFrame(c.out, maxControlFrame)
		frames <- frame{b, err}
	})
	var f frame
	select {
	case f = <-frames:
	case <-stop:
		c.out.SetReadDeadline(time.Now())
		f = <-frames
		f.err = errors.New("canceled")
	case <-p.closing:
		c.out.SetReadDeadline(time.Now())
		f = <-frames
		f.err = ErrClosed
	}
	wg.Wait()
	if f.err != nil {
		return fmt.Errorf("wait for ready: %w", f.err)
	}
	c.out.SetReadDeadline(time.Time{})
	m, err := decodeReady(f.b)
	if err != nil {
		return err
	}
	if m.Version != protocolVersion {
		return fmt.Errorf("child speaks protocol version %d, want %d", m.Version, protocolVersion)
	}
	p.mu.Lock()
	first := p.isolation == ""
	p.isolation = m.Isolation
	p.mu.Unlock()
	if first {
		p.log.Info("sandbox child isolation", "pid", c.pid, "active", m.Isolation)
	}
	return nil
}

// killChild kills c's process, closes its pipes and forgets it. It does not
// wait for the process to be reaped.
func (p *Pool) killChild(c *child) {
	c.kill.Do(func() {
		c.cmd.Process.Kill()
		c.in.Close()
		c.out.Close()
	})
	p.mu.Lock()
	delete(p.children, c)
	p.mu.Unlock()
}
