package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestMain runs the provider process when the benchmark starts this test
// binary with -serve.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintf(os.Stderr, "provider: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunSmall runs the whole benchmark on a few MiB: raw stream, fetch
// (pebble and memory) and multi-source, and checks the report.
func TestRunSmall(t *testing.T) {
	var out, errs bytes.Buffer
	args := []string{"-size", "8MiB", "-rounds", "2", "-multi-size", "4MiB", "-rate", "16MB", "-dir", t.TempDir()}
	if err := run(t.Context(), args, &out, &errs); err != nil {
		t.Fatalf("run(%q): %v\nstderr:\n%s", args, err, errs.String())
	}
	for _, want := range []string{"raw #1 ", "raw-xproc #2 ", "fetch #2 ", "fetch-inproc #2 ", "fetch-inproc / raw stream", "fetch-mem ", "multi ", "median of 2 rounds", "fetch / raw stream", "peak RSS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run(%q) output lacks %q:\n%s", args, want, out.String())
		}
	}
}

func TestSummarize(t *testing.T) {
	results := []Result{
		{Name: "raw", Round: 1, MBps: 1000},
		{Name: "fetch", Round: 1, MBps: 500},
		{Name: "raw", Round: 2, MBps: 800},
		{Name: "fetch", Round: 2, MBps: 560},
		{Name: "raw", Round: 3, MBps: 1200},
		{Name: "fetch", Round: 3, MBps: 720},
		{Name: "fetch-mem", MBps: 9999},
	}
	got := summarize(results)
	want := summary{rounds: 3, raw: 1000, fetch: 560, ratio: 0.6, ratios: "50, 70, 60 %"}
	if got != want {
		t.Errorf("summarize() = %+v, want %+v", got, want)
	}
	if got := summarize(results[:1]); got.rounds != 0 {
		t.Errorf("summarize(raw only) = %+v, want no rounds", got)
	}
}
