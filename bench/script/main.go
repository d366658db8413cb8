// Command script measures the script runtimes' overhead (issue 14): a
// word count over -mib MiB of text split into -units parts, run by the Go
// wordcount module (examples/wordcount) and by a Starlark script
// (examples/starlark, the runtime `enxame compute run --script` uses), each
// unit in a compute/sandbox Pool of one child, one after another, on a
// fresh compilation cache: the first unit of each pays its module's
// compilation, the others run in the warm child, as on one worker. The
// units alternate between the two modules, so that a change of the
// machine's load hits both alike.
//
// The text is lowercase ASCII words separated by spaces and newlines, so
// the two agree on what a word is; every unit's outputs must be
// byte-identical. It prints, for each, the first unit (compile included),
// the median of the others, the total, and the ratios Starlark / Go.
//
// Usage, from the repository root (a few minutes at the default size):
//
//	go run ./bench/script [-mib 100] [-units 16] [-json]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/enxame/enxame/compute/sandbox"
	"github.com/enxame/enxame/examples/wasm"
	"github.com/enxame/enxame/internal/benchutil"
)

// childArg makes this program a sandbox child.
const childArg = "sandbox-child"

// wordcountScript is the Starlark word count measured.
const wordcountScript = `
counts = {}
for w in read_input().split():
    counts[w] = counts.get(w, 0) + 1
for w in sorted(counts):
    print(w + "\t" + str(counts[w]))
`

func main() {
	if len(os.Args) == 2 && os.Args[1] == childArg {
		os.Exit(sandbox.ChildMain(os.Stdin, os.Stdout))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/script: %v\n", err)
		os.Exit(1)
	}
}

// Row is one module's figures.
type Row struct {
	Name         string        `json:"name"`
	First        time.Duration `json:"first_ns"`
	FirstCompile time.Duration `json:"first_compile_ns"`
	MedianOther  time.Duration `json:"median_other_ns"`
	Total        time.Duration `json:"total_ns"`
}

// Report is the -json output.
type Report struct {
	MiB         int     `json:"mib"`
	Units       int     `json:"units"`
	Rows        []Row   `json:"rows"`
	RatioTotal  float64 `json:"ratio_total"`
	RatioMedian float64 `json:"ratio_median_other"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("script", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mib := fs.Int("mib", 100, "MiB of text")
	units := fs.Int("units", 16, "parts")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mib < 1 || *units < 1 {
		return fmt.Errorf("-mib and -units must be >= 1")
	}
	dir, err := os.MkdirTemp("", "enxame-bench-script-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}

	fmt.Fprintf(stderr, "building examples/wordcount for wasip1/wasm\n")
	goMod := filepath.Join(dir, "wordcount.wasm")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", goMod, "./examples/wordcount")
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build wordcount: %v\n%s", err, out)
	}
	starMod := filepath.Join(dir, "starlark.wasm")
	rt, scriptArgs, err := wasm.Script("wc.star", []byte(wordcountScript))
	if err != nil {
		return err
	}
	if err := os.WriteFile(starMod, rt, 0o644); err != nil {
		return err
	}

	fmt.Fprintf(stderr, "writing %d MiB of text in %d parts\n", *mib, *units)
	inputs, err := writeInputs(dir, int64(*mib)<<20, *units)
	if err != nil {
		return err
	}

	pool, err := sandbox.New(sandbox.Config{
		Slots: 1, Spares: -1, Command: []string{self, childArg}, CacheDir: filepath.Join(dir, "cache"),
		UnitDirs: []string{dir},
		Limits:   sandbox.Limits{Timeout: 30 * time.Minute, MemoryMiB: 1024},
	}, nil)
	if err != nil {
		return err
	}
	defer pool.Close()

	modules := []struct {
		name, key, path string
		args            []string
	}{
		{"go wordcount", "wordcount", goMod, nil},
		{"starlark script", "starlark", starMod, scriptArgs},
	}
	// Units alternate between the modules (Go unit 0, Starlark unit 0, Go
	// unit 1, ...), so a drift of the machine's load hits both alike.
	rows := make([]Row, len(modules))
	durs := make([][]time.Duration, len(modules))
	outputs := make([][][]byte, len(modules))
	for i, in := range inputs {
		for mi, m := range modules {
			start := time.Now()
			res, err := pool.RunUnit(ctx, sandbox.Unit{ModuleKey: m.key, ModulePath: m.path, InputDir: in, Args: m.args})
			took := time.Since(start)
			if err != nil {
				return fmt.Errorf("%s unit %d: %w (stderr %q)", m.name, i, err, res.Stderr)
			}
			fmt.Fprintf(stderr, "%s unit %d: %v (compile %v)\n", m.name, i, took.Round(time.Millisecond), res.CompileTime.Round(time.Millisecond))
			outputs[mi] = append(outputs[mi], res.Stdout)
			rows[mi].Name = m.name
			rows[mi].Total += took
			if i == 0 {
				rows[mi].First, rows[mi].FirstCompile = took, res.CompileTime
			} else {
				durs[mi] = append(durs[mi], took)
			}
		}
	}
	for mi := range rows {
		rows[mi].MedianOther = benchutil.Median(durs[mi])
	}
	for i := range inputs {
		if !bytes.Equal(outputs[0][i], outputs[1][i]) {
			return fmt.Errorf("unit %d: the Go module and the script disagree (%d and %d bytes)", i, len(outputs[0][i]), len(outputs[1][i]))
		}
	}
	rep := Report{MiB: *mib, Units: *units, Rows: rows,
		RatioTotal: float64(rows[1].Total) / float64(rows[0].Total)}
	if rows[0].MedianOther > 0 {
		rep.RatioMedian = float64(rows[1].MedianOther) / float64(rows[0].MedianOther)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "word count, %d MiB in %d units, one sandbox child, Go and Starlark units alternating\n", *mib, *units)
	fmt.Fprintln(tw, "MODULE\tFIRST UNIT\t(COMPILE)\tMEDIAN OTHER\tTOTAL")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%v\t%v\t%v\t%v\n", r.Name, r.First.Round(time.Millisecond), r.FirstCompile.Round(time.Millisecond),
			r.MedianOther.Round(time.Millisecond), r.Total.Round(time.Millisecond))
	}
	fmt.Fprintf(tw, "starlark / go: total %.1f×, median unit %.1f×\n", rep.RatioTotal, rep.RatioMedian)
	return tw.Flush()
}

// writeInputs writes size bytes of lowercase words, cut at line ends into
// n parts, each in its own directory; it returns the directories.
func writeInputs(dir string, size int64, n int) ([]string, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := make([]string, 5000)
	for i := range vocab {
		b := make([]byte, 2+rng.IntN(9))
		for j := range b {
			b[j] = byte('a' + rng.IntN(26))
		}
		vocab[i] = string(b)
	}
	var dirs []string
	per := size / int64(n)
	for i := range n {
		d := filepath.Join(dir, fmt.Sprintf("in%03d", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		b.Grow(int(per) + 64)
		for int64(b.Len()) < per {
			for w := range 12 {
				if w > 0 {
					b.WriteByte(' ')
				}
				// Zipf-like: a few words are common.
				b.WriteString(vocab[min(rng.IntN(len(vocab)), rng.IntN(len(vocab)))])
			}
			b.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(d, "000000"), b.Bytes(), 0o644); err != nil {
			return nil, err
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}
