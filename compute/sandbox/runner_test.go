package sandbox

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newTestRunner(t *testing.T) *runner {
	t.Helper()
	r, err := newRunner(t.Context(), runnerConfig{MemoryMiB: 64})
	if err != nil {
		t.Fatalf("newRunner: %v", err)
	}
	t.Cleanup(func() { r.close(t.Context()) })
	return r
}

// TestRunnerHandBuilt runs tiny hand-built modules in process; they compile
// in microseconds, so this runs under the race detector too.
func TestRunnerHandBuilt(t *testing.T) {
	tests := []struct {
		name       string
		module     []byte
		limits     Limits
		want       Reason
		wantCode   uint32
		wantDetail string
	}{
		{name: "returns", module: modReturn, want: ReasonNone},
		{name: "exit status", module: modExit7, want: ReasonExit, wantCode: 7, wantDetail: "exit status 7"},
		{name: "trap", module: modTrap, want: ReasonTrap, wantDetail: "unreachable"},
		{name: "endless loop", module: modLoop, limits: Limits{Timeout: 200 * time.Millisecond}, want: ReasonTimeout, wantDetail: "ran past 200ms"},
		// Overflowing the stack is slow under -race on a loaded machine:
		// a generous timeout, so that only a real hang ends in one.
		{name: "endless recursion", module: modRecurse, limits: Limits{Timeout: 5 * time.Minute}, want: ReasonTrap, wantDetail: "stack overflow"},
		{name: "grows past cap", module: modGrow, limits: Limits{MemoryMiB: 8}, want: ReasonMemory, wantDetail: "the cap is 8 MiB"},
		{name: "declares memory past cap", module: modBigMemory, limits: Limits{MemoryMiB: 64}, want: ReasonMemory, wantDetail: "declares 125 MiB"},
		{name: "imports env function", module: modImportEnv, want: ReasonMissingImport, wantDetail: "env.nope"},
		{name: "no _start", module: modNoStart, want: ReasonInvalidModule, wantDetail: "no _start"},
		{name: "not wasm", module: []byte("#!/bin/sh\necho hi\n"), want: ReasonInvalidModule, wantDetail: "bad magic"},
		{name: "empty file", module: nil, want: ReasonInvalidModule},
		{name: "component binary", module: []byte("\x00asm\x0d\x00\x01\x00"), want: ReasonInvalidModule, wantDetail: "version"},
		{name: "truncated", module: modTrap[:len(modTrap)-3], want: ReasonInvalidModule, wantDetail: "compile"},
		{name: "too large", module: modReturn, limits: Limits{MaxModuleBytes: 16}, want: ReasonModuleTooLarge, wantDetail: "over 16"},
	}
	r := newTestRunner(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := runMsg{ID: 9, ModulePath: writeFile(t, "m.wasm", tt.module), Limits: tt.limits}
			res := r.run(t.Context(), m)
			if res.ID != 9 || res.Reason != tt.want || res.ExitCode != tt.wantCode || !strings.Contains(res.Detail, tt.wantDetail) {
				t.Errorf("run(%s) = id %d, %v, code %d, %q; want id 9, %v, code %d, detail containing %q",
					tt.name, res.ID, res.Reason, res.ExitCode, res.Detail, tt.want, tt.wantCode, tt.wantDetail)
			}
		})
	}
}

func TestRunnerSetupErrors(t *testing.T) {
	mod := writeFile(t, "m.wasm", modReturn)
	tests := []struct {
		name string
		m    runMsg
	}{
		{name: "missing module", m: runMsg{ModulePath: filepath.Join(t.TempDir(), "absent.wasm")}},
		{name: "module is a directory", m: runMsg{ModulePath: t.TempDir()}},
		{name: "missing input dir", m: runMsg{ModulePath: mod, InputDir: filepath.Join(t.TempDir(), "absent")}},
		{name: "env without =", m: runMsg{ModulePath: mod, Env: []string{"NOEQUALS"}}},
		{name: "NUL in arg", m: runMsg{ModulePath: mod, Args: []string{"a\x00b"}}},
		{name: "negative limit", m: runMsg{ModulePath: mod, Limits: Limits{MaxOutputBytes: -1}}},
	}
	r := newTestRunner(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := r.run(t.Context(), tt.m); res.Reason != ReasonSetup {
				t.Errorf("run(%s) = %v %q, want %v", tt.name, res.Reason, res.Detail, ReasonSetup)
			}
		})
	}
}

func TestRunnerCompiledCache(t *testing.T) {
	r, err := newRunner(t.Context(), runnerConfig{MaxCompiled: 2})
	if err != nil {
		t.Fatalf("newRunner: %v", err)
	}
	defer r.close(t.Context())
	paths := map[string]string{
		"a": writeFile(t, "a.wasm", modReturn),
		"b": writeFile(t, "b.wasm", modReturn),
		"c": writeFile(t, "c.wasm", modReturn),
	}
	steps := []struct {
		key  string
		warm bool
	}{
		{"a", false}, {"a", true}, {"b", false}, {"a", true}, {"c", false}, // evicts b
		{"b", false}, {"a", false}, {"", false}, {"", false},
	}
	for i, s := range steps {
		path := paths[s.key]
		if s.key == "" {
			path = paths["a"]
		}
		res := r.run(t.Context(), runMsg{ModuleKey: s.key, ModulePath: path})
		if res.Reason != ReasonNone || res.Warm != s.warm {
			t.Errorf("step %d: run(key %q) = %v, warm %v; want ok, warm %v", i, s.key, res.Reason, res.Warm, s.warm)
		}
	}
	if len(r.compiled) != 2 {
		t.Errorf("runner keeps %d compiled modules, want 2", len(r.compiled))
	}
}

// skipGoModulesUnderRace skips tests that compile Go-built modules in the
// test process, which takes half a minute each under the race detector.
func skipGoModulesUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("compiling a Go-built module in process is too slow under the race detector; pool tests cover it in a child")
	}
}

func TestRunnerGoModule(t *testing.T) {
	skipGoModulesUnderRace(t)
	h := hostileModule(t)
	input := t.TempDir()
	if err := os.WriteFile(filepath.Join(input, "a.txt"), []byte("secret-free input"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(input, "link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		env        []string
		limits     Limits
		want       Reason
		wantCode   uint32
		wantOut    string
		wantStderr string
	}{
		{name: "ok", args: []string{"ok"}, wantOut: "ok\n"},
		{name: "virtual sleep", args: []string{"sleep"}, wantOut: "slept true\n"},
		{name: "args and env", args: []string{"entropy"}, env: []string{"B=2", "A=1"}, wantOut: "[unit entropy] [A=1 B=2]"},
		{name: "panic", args: []string{"panic"}, want: ReasonExit, wantCode: 2, wantStderr: "panic: boom"},
		{name: "allocates past cap", args: []string{"oom"}, limits: Limits{MemoryMiB: 32}, want: ReasonMemory, wantStderr: "out of memory"},
		{name: "one huge allocation", args: []string{"bigalloc"}, want: ReasonMemory},
		{name: "endless recursion", args: []string{"recurse"}, limits: Limits{MemoryMiB: 32}, want: ReasonMemory},
		{name: "endless output", args: []string{"output"}, limits: Limits{MaxOutputBytes: 1000}, want: ReasonOutput},
		{name: "output past cap, then exit 0", args: []string{"overflow"}, limits: Limits{MaxOutputBytes: 1000}, want: ReasonOutput},
		{name: "stderr flood", args: []string{"stderr"}, limits: Limits{MaxStderrBytes: 100}, want: ReasonExit, wantCode: 3, wantStderr: "bytes dropped"},
		{name: "spins", args: []string{"spin"}, limits: Limits{Timeout: 300 * time.Millisecond}, want: ReasonTimeout},
		{name: "escape attempts", args: []string{"escape"},
			wantOut: "read /etc/passwd: false\nread /input/../etc/passwd: false\nread ../etc/passwd: false\nread /input/link: false\n" +
				"read /input/sub/../../etc/passwd: false\nread /: false\nwrite /input/new: false\nremove /input/a.txt: false\n" +
				"read /input/a.txt: \"secret-free input\" true\n"},
	}
	r := newTestRunner(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := runMsg{ModuleKey: "hostile", ModulePath: h, InputDir: input, Args: tt.args, Env: tt.env, Limits: tt.limits}
			res := r.run(t.Context(), m)
			if res.Reason != tt.want || res.ExitCode != tt.wantCode {
				t.Fatalf("run(hostile %v) = %v code %d %q; want %v code %d\nstderr: %s", tt.args, res.Reason, res.ExitCode, res.Detail, tt.want, tt.wantCode, clipBytes(res.Stderr, 500))
			}
			if !bytes.Contains(res.Stdout, []byte(tt.wantOut)) {
				t.Errorf("run(hostile %v) stdout = %q, want it to contain %q", tt.args, clipBytes(res.Stdout, 500), tt.wantOut)
			}
			if !bytes.Contains(res.Stderr, []byte(tt.wantStderr)) {
				t.Errorf("run(hostile %v) stderr = %q, want it to contain %q", tt.args, clipBytes(res.Stderr, 500), tt.wantStderr)
			}
			if max := tt.limits.MaxOutputBytes; max > 0 && int64(len(res.Stdout)) > max {
				t.Errorf("run(hostile %v) kept %d bytes of stdout, over the cap of %d", tt.args, len(res.Stdout), max)
			}
			if max := tt.limits.MaxStderrBytes; max > 0 && int64(len(res.Stderr)) > max+64 {
				t.Errorf("run(hostile %v) kept %d bytes of stderr, over the cap of %d", tt.args, len(res.Stderr), max)
			}
			if mib := tt.limits.MemoryMiB; mib > 0 && res.PeakMemory > uint64(mib)<<20 {
				t.Errorf("run(hostile %v) peak memory %d, over the cap of %d MiB", tt.args, res.PeakMemory, mib)
			}
		})
	}
}

func TestRunnerDeterministic(t *testing.T) {
	skipGoModulesUnderRace(t)
	h := hostileModule(t)
	r := newTestRunner(t)
	run := func(seed uint64) []byte {
		res := r.run(t.Context(), runMsg{ModuleKey: "hostile", ModulePath: h, Args: []string{"entropy"}, Seed: seed})
		if res.Reason != ReasonNone {
			t.Fatalf("run(entropy) = %v %q", res.Reason, res.Detail)
		}
		return res.Stdout
	}
	a, b, other := run(1), run(1), run(2)
	if !bytes.Equal(a, b) {
		t.Errorf("two runs with seed 1 differ:\n%s\n%s", a, b)
	}
	if bytes.Equal(a, other) {
		t.Errorf("runs with seeds 1 and 2 agree: %s", a)
	}
	if !bytes.HasPrefix(a, []byte("2000-01-01T00:00:00")) {
		t.Errorf("entropy output %q: want the virtual clock's epoch 2000-01-01", a)
	}
}
