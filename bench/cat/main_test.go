package main

import (
	"testing"
)

// TestRunSmall runs the benchmark on a small file without Kubo.
func TestRunSmall(t *testing.T) {
	if err := run(t.Context(), 3<<20, "", false); err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{{"1GiB", 1 << 30, false}, {"5MiB", 5 << 20, false}, {"10", 10, false}, {"x", 0, true}, {"-1MiB", 0, true}}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, err %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}
