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
	args := []string{"-size", "8MiB", "-multi-size", "4MiB", "-rate", "16MB", "-dir", t.TempDir()}
	if err := run(t.Context(), args, &out, &errs); err != nil {
		t.Fatalf("run(%q): %v\nstderr:\n%s", args, err, errs.String())
	}
	for _, want := range []string{"raw ", "fetch ", "fetch-mem ", "multi ", "fetch / raw stream", "peak RSS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run(%q) output lacks %q:\n%s", args, want, out.String())
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1GiB", want: 1 << 30},
		{in: "40MB", want: 40_000_000},
		{in: "7", want: 7},
		{in: "0", wantErr: true},
		{in: "lots", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
