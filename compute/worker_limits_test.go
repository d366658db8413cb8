package compute

import (
	"math"
	"testing"

	"github.com/enxame/enxame/compute/wire"
)

// TestWorkerLimitsMemoryRounding pins the rounding of a request's memory to
// MiB: a value near MaxUint64 once wrapped to a tiny cap and was accepted
// (issue 11, finding 6).
func TestWorkerLimitsMemoryRounding(t *testing.T) {
	w := &Worker{cfg: WorkerConfig{MemoryMiB: 256, MaxMemoryMiB: 1024}}
	tests := []struct {
		name     string
		bytes    uint64
		wantMiB  int
		wantOver bool
	}{
		{"zero means the worker's default", 0, 256, false},
		{"one byte rounds up", 1, 1, false},
		{"exactly one MiB", 1 << 20, 1, false},
		{"one MiB and a byte", 1<<20 + 1, 2, false},
		{"exactly the max", 1024 << 20, 1024, false},
		{"a byte over the max", 1024<<20 + 1, 0, true},
		{"max uint64", math.MaxUint64, 0, true},
		{"max uint64 less a MiB", math.MaxUint64 - 1<<20 + 2, 0, true},
		{"max int64", math.MaxInt64, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, over := w.limits(wire.Limits{MemoryBytes: tt.bytes})
			if (over != "") != tt.wantOver {
				t.Fatalf("limits(MemoryBytes %d) over = %q, want over %v", tt.bytes, over, tt.wantOver)
			}
			if !tt.wantOver && got.MemoryMiB != tt.wantMiB {
				t.Errorf("limits(MemoryBytes %d).MemoryMiB = %d, want %d", tt.bytes, got.MemoryMiB, tt.wantMiB)
			}
		})
	}
}
