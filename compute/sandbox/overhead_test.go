package sandbox

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/enxame/enxame/examples/examplestest"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// BenchmarkRunnerOverhead runs the primes example in this process in bare
// wazero with each of the runner's settings added alone, and in the runner
// itself, to find what the sandbox costs a unit (issue 4's goal: ≤ 1.1× of
// bare wazero):
//
//	go test -run '^$' -bench RunnerOverhead ./compute/sandbox
func BenchmarkRunnerOverhead(b *testing.B) {
	mod := examplestest.Build(b, "primes")
	wasm, err := os.ReadFile(mod)
	if err != nil {
		b.Fatal(err)
	}
	args := []string{"0", "20000000"}
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(testCacheDir(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cache.Close(ctx) })

	bare := func(rc wazero.RuntimeConfig, mc func(wazero.ModuleConfig) wazero.ModuleConfig, alloc bool) func(*testing.B) {
		return func(b *testing.B) {
			rt := wazero.NewRuntimeWithConfig(ctx, rc.WithCompilationCache(cache))
			defer rt.Close(ctx)
			wasi_snapshot_preview1.MustInstantiate(ctx, rt)
			compiled, err := rt.CompileModule(ctx, wasm)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				cfg := wazero.NewModuleConfig().WithName("").WithArgs(append([]string{"unit"}, args...)...).WithStdout(io.Discard)
				if mc != nil {
					cfg = mc(cfg)
				}
				ictx := ctx
				var a *cappedMemory
				if alloc {
					a = &cappedMemory{max: DefaultMemoryMiB << 20}
					ictx = experimental.WithMemoryAllocator(ctx, a)
				}
				inst, err := rt.InstantiateModule(ictx, compiled, cfg)
				if exit := (*sys.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 0 {
					err = nil
				}
				if err != nil {
					b.Fatal(err)
				}
				inst.Close(ctx)
				if a != nil {
					a.free()
				}
			}
		}
	}
	clock := func(cfg wazero.ModuleConfig) wazero.ModuleConfig {
		c := &virtualClock{}
		return cfg.WithWalltime(c.walltime, clockTick).WithNanotime(c.nanotime, clockTick).WithNanosleep(c.nanosleep)
	}
	b.Run("bare", bare(wazero.NewRuntimeConfig(), nil, false))
	b.Run("close-on-context-done", bare(wazero.NewRuntimeConfig().WithCloseOnContextDone(true), nil, false))
	b.Run("memory-limit", bare(wazero.NewRuntimeConfig().WithMemoryLimitPages(maxPages), nil, false))
	b.Run("virtual-clock", bare(wazero.NewRuntimeConfig(), clock, false))
	b.Run("allocator", bare(wazero.NewRuntimeConfig(), nil, true))
	runner := func(cfg runnerConfig) func(*testing.B) {
		return func(b *testing.B) {
			cfg.CacheDir = testCacheDir(b)
			r, err := newRunner(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer r.close(ctx)
			m := runMsg{ModuleKey: "primes", ModulePath: mod, Args: args, Limits: DefaultLimits()}
			for b.Loop() {
				if res := r.run(ctx, m); res.Reason != ReasonNone {
					b.Fatalf("run: %v %s", res.Reason, res.Detail)
				}
			}
		}
	}
	b.Run("runner-as-child", runner(runnerConfig{ExternalDeadline: true}))
	b.Run("runner-own-deadline", runner(runnerConfig{}))
}
