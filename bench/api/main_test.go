package main

import (
	"testing"
	"time"
)

// TestRunSmall runs the benchmark with a few submits against the real
// binary.
func TestRunSmall(t *testing.T) {
	res, err := run(t.Context(), "", 3)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(res.open) != 3 || len(res.first) != 3 {
		t.Fatalf("run measured %d opens and %d first events, want 3 each", len(res.open), len(res.first))
	}
	for i := range res.open {
		if res.open[i] <= 0 || res.first[i] < res.open[i] {
			t.Errorf("submit %d: open %v, first event %v; want 0 < open <= first", i, res.open[i], res.first[i])
		}
	}
}

func TestQuantile(t *testing.T) {
	tests := []struct {
		in   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{[]time.Duration{3}, 0.5, 3},
		{[]time.Duration{5, 1, 3}, 0.5, 3},
		{[]time.Duration{4, 1, 3, 2}, 0.5, 2},
		{[]time.Duration{4, 1, 3, 2}, 1, 4},
		{[]time.Duration{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 0.95, 10},
	}
	for _, tt := range tests {
		if got := quantile(tt.in, tt.q); got != tt.want {
			t.Errorf("quantile(%v, %v) = %v, want %v", tt.in, tt.q, got, tt.want)
		}
	}
}
