package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/internal/nodetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRunTiny runs every benchmark on tiny sizes and checks that the report
// has every figure, as a table and as JSON.
func TestRunTiny(t *testing.T) {
	args := []string{
		"-runs", "1", "-primes", "100000", "-mandelbrot", "64x48x50", "-speedup-primes", "100000", "-units", "2", "-jobs", "1",
		"-child", nodetest.SandboxCommand(t)[0], "-cache-dir", nodetest.WasmCacheDir(t),
		"-primes-wasm", examplestest.Build(t, "primes"), "-mandelbrot-wasm", examplestest.Build(t, "mandelbrot"),
		"-sum-wasm", examplestest.Build(t, "sum"),
	}
	var out, errs bytes.Buffer
	if err := run(t.Context(), append(args, "-json"), &out, &errs); err != nil {
		t.Fatalf("run(%q): %v\nstderr:\n%s", args, err, errs.String())
	}
	t.Logf("stderr:\n%s", errs.String())
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("run(%q) -json: %v\n%s", args, err, out.String())
	}
	got := map[string]Row{}
	for _, r := range rep.Rows {
		got[r.Name] = r
	}
	want := []string{"startup cold compile", "startup disk cache", "startup warm child", "speedup 1 worker", "speedup 2 workers", "speedup 2 vs 1",
		"speedup 1 worker, no reduce", "speedup 2 workers, no reduce", "speedup 2 vs 1, no reduce"}
	for _, w := range []string{"primes", "mandelbrot"} {
		for _, f := range []string{"native", "bare wazero", "sandbox", "sandbox/bare", "sandbox/native", "bare/native"} {
			want = append(want, w+" "+f)
		}
	}
	for _, name := range want {
		if r, ok := got[name]; !ok || !(r.Value > 0) {
			t.Errorf("run(%q) report: row %q = %+v, %v; want a positive value", args, name, r, ok)
		}
	}
	// The cores the workers got may round to 0 on units this tiny.
	for _, name := range []string{"speedup 2 workers: cores used", "speedup 2 workers: cores used, no reduce"} {
		if r, ok := got[name]; !ok || r.Value < 0 {
			t.Errorf("run(%q) report: row %q = %+v, %v; want a value >= 0", args, name, r, ok)
		}
	}
	if len(rep.Rows) != len(want)+2 {
		t.Errorf("run(%q) report has %d rows, want %d", args, len(rep.Rows), len(want)+2)
	}

	var table bytes.Buffer
	printTable(&table, rep)
	for _, name := range want {
		if !strings.Contains(table.String(), name+" ") {
			t.Errorf("printTable lacks row %q:\n%s", name, table.String())
		}
	}
	for _, goal := range []string{"≤ 1.1×", "≥ 1.8×"} {
		if !strings.Contains(table.String(), goal) {
			t.Errorf("printTable lacks goal %q:\n%s", goal, table.String())
		}
	}
}

// TestRunThroughputTiny: the throughput mode reports units/s of a job with
// and without the reduce, with the phases of a unit.
func TestRunThroughputTiny(t *testing.T) {
	args := []string{"-what", "throughput", "-peers", "2", "-throughput-units", "6",
		"-child", nodetest.SandboxCommand(t)[0], "-cache-dir", nodetest.WasmCacheDir(t),
		"-primes-wasm", examplestest.Build(t, "primes"), "-mandelbrot-wasm", examplestest.Build(t, "mandelbrot"),
		"-sum-wasm", examplestest.Build(t, "sum"), "-json",
	}
	var out, errs bytes.Buffer
	if err := run(t.Context(), args, &out, &errs); err != nil {
		t.Fatalf("run(%q): %v\nstderr:\n%s", args, err, errs.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("run(%q): %v\n%s", args, err, out.String())
	}
	want := []string{"throughput 6 units + reduce", "throughput 6 units, no reduce"}
	if len(rep.Rows) != len(want) {
		t.Fatalf("run(%q) rows %+v, want %q", args, rep.Rows, want)
	}
	for i, r := range rep.Rows {
		if r.Name != want[i] || !(r.Value > 0) || r.Unit != "units/s" || !strings.Contains(r.Note, "running→done") {
			t.Errorf("row %d = %+v; want %q with a positive units/s and the phases", i, r, want[i])
		}
	}
}

func TestRunBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "unknown what", args: []string{"-what", "everything"}},
		{name: "no runs", args: []string{"-runs", "0"}},
		{name: "one unit", args: []string{"-units", "1"}},
		{name: "bad mandelbrot", args: []string{"-mandelbrot", "64x48"}},
		{name: "no peers", args: []string{"-what", "throughput", "-peers", "0"}},
		{name: "one throughput unit", args: []string{"-what", "throughput", "-throughput-units", "1"}},
		{name: "bad throughput units", args: []string{"-what", "throughput", "-throughput-units", "10,x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			if err := run(t.Context(), tt.args, &out, &errs); err == nil {
				t.Errorf("run(%q) = nil, want an error", tt.args)
			}
		})
	}
}
