package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/enxame/enxame/compute/sandbox"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// unitTimeout bounds every unit of the benchmark.
const unitTimeout = 30 * time.Minute

// newPool returns a pool of one child and no spare, so that every unit after
// the first runs in the same, warm, child.
func newPool(child []string, cacheDir string) (*sandbox.Pool, error) {
	return sandbox.New(sandbox.Config{
		Slots: 1, Spares: -1, Command: child, CacheDir: cacheDir,
		Limits: sandbox.Limits{Timeout: unitTimeout},
	}, nil)
}

// timing is a run's wall time and the CPU time of the process that ran it.
type timing struct{ wall, cpu time.Duration }

// runUnit runs u in p and returns its result, the wall time of Run and the
// CPU time of the children of this process (the pool's) meanwhile.
func runUnit(ctx context.Context, p *sandbox.Pool, u sandbox.Unit) (sandbox.Result, timing, error) {
	cpu0, start := childrenCPU(), time.Now()
	res, err := p.RunUnit(ctx, u)
	took := timing{wall: time.Since(start), cpu: childrenCPU() - cpu0}
	if err != nil {
		return res, took, fmt.Errorf("unit %s %q: %w (stderr %q)", u.ModuleKey, u.Args, err, res.Stderr)
	}
	return res, took, nil
}

// benchStartup measures the primes module compiled from nothing, loaded
// from the disk cache by a fresh child, and run in a warm child.
func benchStartup(ctx context.Context, o options, bins examples, cacheDir string, add func(Row)) error {
	mod := bins.wasm["primes"]
	st, err := os.Stat(mod)
	if err != nil {
		return err
	}
	u := sandbox.Unit{ModuleKey: "primes", ModulePath: mod, Args: []string{"0", "1000"}}
	p1, err := newPool(o.child, cacheDir)
	if err != nil {
		return err
	}
	defer p1.Close()
	cold, coldWall, err := runUnit(ctx, p1, u)
	if err != nil {
		return err
	}
	p1.Close() // the next child must not share this one's memory

	p2, err := newPool(o.child, cacheDir)
	if err != nil {
		return err
	}
	defer p2.Close()
	disk, diskWall, err := runUnit(ctx, p2, u)
	if err != nil {
		return err
	}
	warm, _, err := runUnit(ctx, p2, u)
	if err != nil {
		return err
	}
	if cold.Warm || disk.Warm || !warm.Warm {
		return fmt.Errorf("warm flags: cold %v, disk %v, warm %v; want false, false, true", cold.Warm, disk.Warm, warm.Warm)
	}
	mb := float64(st.Size()) / 1e6
	add(Row{Name: "startup cold compile", Value: cold.CompileTime.Seconds(), Unit: "s",
		Note: fmt.Sprintf("compile of primes.wasm (%.1f MB), no cache; whole unit %s, with the child's start %s",
			mb, fmtSeconds(cold.Duration.Seconds()), fmtSeconds(coldWall.wall.Seconds()))})
	add(Row{Name: "startup disk cache", Value: disk.CompileTime.Seconds(), Unit: "s",
		Note: fmt.Sprintf("load from wazero's disk cache in a fresh child; whole unit %s, with the child's start %s",
			fmtSeconds(disk.Duration.Seconds()), fmtSeconds(diskWall.wall.Seconds()))})
	add(Row{Name: "startup warm child", Value: warm.Duration.Seconds(), Unit: "s",
		Note: "whole unit (instantiate + run primes 0 1000) in a child holding the module compiled"})
	return nil
}

// workload is one example run the same way in the three places.
type workload struct {
	name   string // example name
	args   []string
	record string // the wazero/native figure for this kind of work
}

// benchSandbox measures each workload natively, in bare wazero and in the
// sandbox, one after the other, o.runs times.
func benchSandbox(ctx context.Context, o options, bins examples, cacheDir string, add func(Row), logf func(string, ...any)) error {
	loads := []workload{
		{name: "primes", args: []string{"0", strconv.FormatInt(o.primes, 10)}, record: "3.8× (sieve)"},
		{name: "mandelbrot", args: []string{"-w", strconv.Itoa(o.mandel[0]), "-h", strconv.Itoa(o.mandel[1]),
			"-iter", strconv.Itoa(o.mandel[2])}, record: "1.2× (float loop)"},
	}
	pool, err := newPool(o.child, cacheDir)
	if err != nil {
		return err
	}
	defer pool.Close()
	// Bare wazero shares the compilation cache only so that it need not
	// compile the modules again (compilation is not measured).
	cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		return fmt.Errorf("open compilation cache: %w", err)
	}
	defer cache.Close(ctx)
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	defer rt.Close(ctx)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return fmt.Errorf("instantiate wasi: %w", err)
	}

	for _, w := range loads {
		u := sandbox.Unit{ModuleKey: w.name, ModulePath: bins.wasm[w.name], Args: w.args}
		// Warm-ups: the child compiles the module (into the cache), bare
		// wazero loads it, the native binary is read into the page cache.
		first, _, err := runUnit(ctx, pool, u)
		if err != nil {
			return err
		}
		want := first.Stdout
		b, err := os.ReadFile(bins.wasm[w.name])
		if err != nil {
			return err
		}
		compiled, err := rt.CompileModule(ctx, b)
		if err != nil {
			return fmt.Errorf("compile %s: %w", w.name, err)
		}
		check := func(where string, got []byte) error {
			if !bytes.Equal(got, want) {
				return fmt.Errorf("%s %q: %s output (%d bytes) differs from the sandbox's (%d bytes)", w.name, w.args, where, len(got), len(want))
			}
			return nil
		}
		if _, out, err := runNative(ctx, bins.native[w.name], w.args); err != nil {
			return err
		} else if err := check("native", out); err != nil {
			return err
		}
		if _, out, err := runBare(ctx, rt, compiled, w.args); err != nil {
			return err
		} else if err := check("bare wazero", out); err != nil {
			return err
		}

		var native, bare, sand []timing
		for i := range o.runs {
			t, out, err := runNative(ctx, bins.native[w.name], w.args)
			if err != nil {
				return err
			}
			if err := check("native", out); err != nil {
				return err
			}
			native = append(native, t)
			t, out, err = runBare(ctx, rt, compiled, w.args)
			if err != nil {
				return err
			}
			if err := check("bare wazero", out); err != nil {
				return err
			}
			bare = append(bare, t)
			res, t, err := runUnit(ctx, pool, u)
			if err != nil {
				return err
			}
			if !res.Warm {
				return fmt.Errorf("%s: sandbox run %d was not in a warm child", w.name, i+1)
			}
			if err := check("sandbox", res.Stdout); err != nil {
				return err
			}
			sand = append(sand, t)
			logf("%s run %d: native %v (cpu %v), bare %v (cpu %v), sandbox %v (cpu %v)", w.name, i+1,
				native[i].wall.Round(time.Millisecond), native[i].cpu.Round(time.Millisecond),
				bare[i].wall.Round(time.Millisecond), bare[i].cpu.Round(time.Millisecond),
				sand[i].wall.Round(time.Millisecond), sand[i].cpu.Round(time.Millisecond))
		}
		compiled.Close(ctx)
		rn, rb, rs := timeRow(native), timeRow(bare), timeRow(sand)
		rn.Name, rn.Note = w.name+" native", fmt.Sprintf("%s %v, go build for the host, one process per run", w.name, w.args)
		rb.Name, rb.Note = w.name+" bare wazero", "default runtime, module compiled, InstantiateModule with WASI"
		rs.Name, rs.Note = w.name+" sandbox", "sandbox.Pool.Run, warm child, module compiled; CPU: the child's"
		add(rn)
		add(rb)
		add(rs)
		sb := ratioRow(w.name+" sandbox/bare", rs, rb)
		sb.Goal = "≤ 1.1×"
		add(sb)
		add(ratioRow(w.name+" sandbox/native", rs, rn))
		bn := ratioRow(w.name+" bare/native", rb, rn)
		bn.Note = "for the record, issue 4 measured " + w.record
		add(bn)
	}
	return nil
}

// runNative runs bin with args and returns its wall and CPU time and stdout.
func runNative(ctx context.Context, bin string, args []string) (timing, []byte, error) {
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	t := timing{wall: time.Since(start)}
	if err != nil {
		return t, nil, fmt.Errorf("%s %q: %w: %s", bin, args, err, errOut.Bytes())
	}
	t.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return t, out.Bytes(), nil
}

// runBare instantiates compiled with WASI and args (which runs _start) and
// returns the wall time, this process's CPU time and stdout.
func runBare(ctx context.Context, rt wazero.Runtime, compiled wazero.CompiledModule, args []string) (timing, []byte, error) {
	var out, errOut bytes.Buffer
	cfg := wazero.NewModuleConfig().WithName("").WithArgs(append([]string{"unit"}, args...)...).
		WithStdout(&out).WithStderr(&errOut)
	cpu0, start := selfCPU(), time.Now()
	inst, err := rt.InstantiateModule(ctx, compiled, cfg)
	if inst != nil {
		inst.Close(ctx)
	}
	took := timing{wall: time.Since(start), cpu: selfCPU() - cpu0}
	if exit := (*sys.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	if err != nil {
		return took, nil, fmt.Errorf("bare wazero %q: %w: %s", args, err, errOut.Bytes())
	}
	return took, out.Bytes(), nil
}
