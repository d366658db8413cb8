package main

import (
	"os"
	"testing"
	"time"
)

// TestRunSmall runs the benchmark on a small file without Kubo.
func TestRunSmall(t *testing.T) {
	if err := run(t.Context(), 3<<20, "", false, 2); err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []time.Duration
		want time.Duration
	}{{[]time.Duration{3}, 3}, {[]time.Duration{5, 1, 3}, 3}, {[]time.Duration{4, 1, 3, 2}, 3}}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCPUSeconds(t *testing.T) {
	// Burn some CPU time first: /proc counts it in 10 ms ticks.
	deadline := time.Now().Add(5 * time.Second)
	for cpuSeconds(os.Getpid()) == 0 && time.Now().Before(deadline) {
	}
	if got := cpuSeconds(os.Getpid()); got <= 0 {
		t.Errorf("cpuSeconds(self) = %v, want > 0", got)
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
