// Command compute measures what issue 4 asks of enxame's compute layer, on
// this machine, and prints each figure beside its goal:
//
//   - startup: a Go-built module (examples/primes) compiled from nothing by
//     a sandbox child (cold), loaded from wazero's on-disk compilation cache
//     by a fresh child, and run again in that now warm child (instantiate +
//     a tiny run);
//   - sandbox: the run time of a unit in a compute/sandbox Pool (one warm
//     child that already holds the module compiled; wall time of Pool.Run),
//     against the same module in bare wazero in this process (a default
//     wazero runtime, the module compiled once, then one InstantiateModule
//     with WASI per run; wall time of the instantiation, which runs _start)
//     and against the same example built for the host with `go build` and
//     run as a process (wall time of the process). Workloads: the prime
//     search (a segmented sieve: integer work and memory traffic) and the
//     Mandelbrot tile (a float loop). The three are run in turn -runs times
//     (native, bare, sandbox, native, ...), so a drift of the machine's
//     speed hits all three alike; medians are reported, and the ratios of
//     the medians. Their outputs must be byte-identical;
//   - speedup: the prime search over [0, -speedup-primes) split into -units
//     range units with the sum reduce, submitted from a node without compute
//     to a loopback swarm of real nodes (node.New: libp2p hosts, DHT, share,
//     worker pools of child processes), with 1 worker of 1 slot and with 2
//     workers of 1 slot each: submit → result wall time, after a warm-up
//     job that has every worker compile the modules. The two swarms run side
//     by side and their jobs alternate, -jobs times each; the speedup is the
//     ratio of the medians.
//
// Sandbox children are this program (its hidden "sandbox-child" argument)
// unless -child names another; the modules are built with `go build` for
// wasip1/wasm and for the host unless -primes-wasm, -mandelbrot-wasm and
// -sum-wasm name prebuilt ones. -cache-dir names a wazero compilation cache
// to use instead of a fresh one (compilation is measured only by the startup
// figures, which use a fresh cache of their own).
//
// Usage, from the repository root:
//
// -what throughput (not part of all) runs jobs of -throughput-units tiny
// range units of the prime search, with and without the sum reduce, on
// -peers worker nodes of 1 slot and a submitter without compute, and reports
// units/s end to end and the median time of each of a unit's phases.
//
//	go run ./bench/compute [-what all|startup|sandbox|speedup|throughput] [-runs 5] [-primes 250000000]
//	    [-mandelbrot 1024x768x2500] [-speedup-primes 250000000] [-units 8] [-jobs 3] [-json]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/enxame/enxame/internal/benchutil"
	"github.com/enxame/enxame/node"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == node.SandboxChildCommand {
		os.Exit(node.SandboxChildMain(os.Stdin, os.Stdout))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/compute: %v\n", err)
		os.Exit(1)
	}
}

// Report is the -json output.
type Report struct {
	CPUs      int       `json:"cpus"`
	GoVersion string    `json:"go_version"`
	Date      time.Time `json:"date"`
	// LoadAvg is /proc/loadavg's first three fields at the start and at
	// the end of the run.
	LoadAvg []string `json:"loadavg,omitempty"`
	Rows    []Row    `json:"rows"`
}

// Row is one figure.
type Row struct {
	// Name identifies the figure, such as "primes sandbox/bare".
	Name string `json:"name"`
	// Value is the figure: seconds of wall time when Unit is "s", a ratio
	// of wall times when "x".
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// CPU is, where measured, the same figure in CPU time (user + system)
	// of the process that ran the work: steadier than the wall time when
	// other work shares the machine.
	CPU float64 `json:"cpu,omitempty"`
	// Runs are the measurements whose median Value is, in seconds; CPURuns
	// those of CPU.
	Runs    []float64 `json:"runs,omitempty"`
	CPURuns []float64 `json:"cpu_runs,omitempty"`
	// Goal is issue 4's goal for the figure, if it has one.
	Goal string `json:"goal,omitempty"`
	// Note says what was measured.
	Note string `json:"note,omitempty"`
}

// options are the parsed flags.
type options struct {
	what          string
	runs          int
	primes        int64
	mandel        [3]int // width, height, iterations
	speedupPrimes int64
	units         int
	jobs          int
	child         []string
	wasm          map[string]string // example name → prebuilt module
	verbose       bool
	// throughput mode
	peers           int
	throughputUnits []int
	cpuProfile      string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compute", flag.ContinueOnError)
	fs.SetOutput(stderr)
	what := fs.String("what", "all", "what to measure: all, startup, sandbox, speedup, or throughput (not part of all)")
	runs := fs.Int("runs", 5, "runs of each workload in each of native, bare wazero and sandbox")
	primes := fs.Int64("primes", 250_000_000, "the sandbox prime search counts the primes below this")
	mandel := fs.String("mandelbrot", "1024x768x2500", "the sandbox Mandelbrot tile: WIDTHxHEIGHTxITERATIONS")
	speedupPrimes := fs.Int64("speedup-primes", 250_000_000, "the split prime search counts the primes below this")
	units := fs.Int("units", 8, "units of the split prime search")
	jobs := fs.Int("jobs", 3, "jobs on each swarm (1 worker, 2 workers), after a warm-up job")
	child := fs.String("child", "", "sandbox child program (default: this program's hidden sandbox-child argument)")
	primesWasm := fs.String("primes-wasm", "", "prebuilt examples/primes module (default: build it)")
	mandelWasm := fs.String("mandelbrot-wasm", "", "prebuilt examples/mandelbrot module (default: build it)")
	sumWasm := fs.String("sum-wasm", "", "prebuilt examples/sum module (default: build it)")
	cacheFlag := fs.String("cache-dir", "", "wazero compilation cache of the sandbox, bare wazero and the nodes (default: a new temporary one; the cold-start figure always uses its own)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	verbose := fs.Bool("v", false, "log the nodes' warnings to stderr")
	peers := fs.Int("peers", 5, "throughput: worker nodes (1 slot each)")
	tUnits := fs.String("throughput-units", "1000", "throughput: comma-separated unit counts of the tiny-unit jobs")
	cpuProfile := fs.String("cpuprofile", "", "throughput: write a CPU profile of the measured jobs (all nodes run in this process) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o := options{
		what: *what, runs: *runs, primes: *primes, speedupPrimes: *speedupPrimes, units: *units, jobs: *jobs,
		wasm:    map[string]string{"primes": *primesWasm, "mandelbrot": *mandelWasm, "sum": *sumWasm},
		verbose: *verbose, peers: *peers, cpuProfile: *cpuProfile,
	}
	for _, f := range strings.Split(*tUnits, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			return fmt.Errorf("-throughput-units: want counts >= 2, not %q", f)
		}
		o.throughputUnits = append(o.throughputUnits, n)
	}
	switch {
	case !slices.Contains([]string{"all", "startup", "sandbox", "speedup", "throughput"}, o.what):
		return fmt.Errorf("-what: want all, startup, sandbox, speedup or throughput, not %q", o.what)
	case o.peers < 1:
		return errors.New("want -peers >= 1")
	case o.runs < 1 || o.jobs < 1 || o.units < 2:
		return errors.New("want -runs >= 1, -jobs >= 1 and -units >= 2")
	case o.primes < 2 || o.speedupPrimes < int64(o.units):
		return errors.New("want -primes >= 2 and -speedup-primes >= -units")
	}
	if _, err := fmt.Sscanf(*mandel, "%dx%dx%d", &o.mandel[0], &o.mandel[1], &o.mandel[2]); err != nil || min(o.mandel[0], o.mandel[1], o.mandel[2]) < 1 {
		return fmt.Errorf("-mandelbrot %q: want WIDTHxHEIGHTxITERATIONS", *mandel)
	}
	if *child != "" {
		o.child = []string{*child}
	} else {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this program for sandbox children: %w", err)
		}
		o.child = []string{exe, node.SandboxChildCommand}
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "bench/compute: "+format+"\n", a...) }

	work, err := os.MkdirTemp("", "enxame-compute-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bins, err := buildExamples(ctx, work, o.wasm, logf)
	if err != nil {
		return err
	}

	rep := Report{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Date: time.Now().UTC().Truncate(time.Second)}
	rep.LoadAvg = append(rep.LoadAvg, benchutil.LoadAvg())
	// One compilation cache for the whole run, as a node's children share
	// one: the startup figures fill it, the other figures load from it.
	cacheDir := *cacheFlag
	if cacheDir == "" {
		cacheDir = filepath.Join(work, "wazero-cache")
	}
	add := func(r Row) {
		rep.Rows = append(rep.Rows, r)
		logf("%-28s %s %s", r.Name, r.value(), r.cpu())
	}
	if o.what == "all" || o.what == "startup" {
		if err := benchStartup(ctx, o, bins, filepath.Join(work, "startup-cache"), add); err != nil {
			return fmt.Errorf("startup: %w", err)
		}
	}
	if o.what == "all" || o.what == "sandbox" {
		if err := benchSandbox(ctx, o, bins, cacheDir, add, logf); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	if o.what == "all" || o.what == "speedup" {
		if err := benchSpeedup(ctx, o, bins, filepath.Join(work, "swarm"), cacheDir, add, logf); err != nil {
			return fmt.Errorf("speedup: %w", err)
		}
	}
	if o.what == "throughput" {
		if err := benchThroughput(ctx, o, bins, filepath.Join(work, "throughput"), cacheDir, add, logf); err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
	}
	rep.LoadAvg = append(rep.LoadAvg, benchutil.LoadAvg())
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printTable(stdout, rep)
	return nil
}

func (r Row) value() string { return r.format(r.Value) }

func (r Row) cpu() string {
	if r.CPU == 0 {
		return ""
	}
	return r.format(r.CPU)
}

func (r Row) format(v float64) string {
	if r.Unit == "units/s" {
		return fmt.Sprintf("%.1f/s", v)
	}
	if r.Unit == "x" {
		return fmt.Sprintf("%.2f×", v)
	}
	return fmtSeconds(v)
}

// timeRow is the row of the runs ts: median wall and CPU times.
func timeRow(ts []timing) Row {
	var wall, cpu []time.Duration
	for _, t := range ts {
		wall, cpu = append(wall, t.wall), append(cpu, t.cpu)
	}
	r := Row{Unit: "s", Value: median(wall).Seconds(), Runs: seconds(wall)}
	if c := median(cpu); c > 0 {
		r.CPU, r.CPURuns = c.Seconds(), seconds(cpu)
	}
	return r
}

// ratioRow is the row of a's figures over b's.
func ratioRow(name string, a, b Row) Row {
	r := Row{Name: name, Unit: "x", Value: a.Value / b.Value}
	if a.CPU > 0 && b.CPU > 0 {
		r.CPU = a.CPU / b.CPU
	}
	return r
}

func fmtSeconds(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.1f ms", s*1000)
	}
	return fmt.Sprintf("%.3f s", s)
}

func printTable(w io.Writer, rep Report) {
	fmt.Fprintf(w, "enxame compute benchmarks, %s, %d CPUs, %s, load average %s\n\n",
		rep.Date.Format(time.RFC3339), rep.CPUs, rep.GoVersion, strings.Join(rep.LoadAvg, " → "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\twall\tCPU\tgoal\tnote")
	for _, r := range rep.Rows {
		note := r.Note
		if len(r.Runs) > 1 {
			var rs []string
			for _, s := range r.Runs {
				rs = append(rs, strconv.FormatFloat(s, 'f', 2, 64))
			}
			note = strings.TrimPrefix(note+"; wall runs "+strings.Join(rs, " ")+" s", "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.value(), r.cpu(), r.Goal, note)
	}
	tw.Flush()
}

// examples are the built example programs.
type examples struct {
	wasm   map[string]string // name → wasip1/wasm module
	native map[string]string // name → host binary
}

// buildExamples builds primes, mandelbrot and sum for wasip1/wasm (unless
// prebuilt names one) and primes and mandelbrot for the host.
func buildExamples(ctx context.Context, dir string, prebuilt map[string]string, logf func(string, ...any)) (examples, error) {
	b := examples{wasm: map[string]string{}, native: map[string]string{}}
	start := time.Now()
	for _, name := range []string{"primes", "mandelbrot", "sum"} {
		if p := prebuilt[name]; p != "" {
			b.wasm[name] = p
			continue
		}
		out := filepath.Join(dir, name+".wasm")
		if err := goBuild(ctx, out, name, "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"); err != nil {
			return b, err
		}
		b.wasm[name] = out
	}
	for _, name := range []string{"primes", "mandelbrot"} {
		out := filepath.Join(dir, name+"-native")
		if err := goBuild(ctx, out, name); err != nil {
			return b, err
		}
		b.native[name] = out
	}
	logf("examples built in %v", time.Since(start).Round(time.Millisecond))
	return b, nil
}

// goBuild builds examples/name into out, stripped, as examplestest does,
// with the environment plus env and without GOFLAGS (which may hold -race).
func goBuild(ctx context.Context, out, name string, env ...string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out,
		"github.com/enxame/enxame/examples/"+name)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOFLAGS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s %v: %w\n%s", name, env, err, b)
	}
	return nil
}

// median returns the median of ds (the mean of the middle two when even).
func median(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func seconds(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	return out
}
