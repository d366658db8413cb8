package benchutil

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []time.Duration
		want time.Duration
	}{{nil, 0}, {[]time.Duration{3}, 3}, {[]time.Duration{5, 1, 3}, 3}, {[]time.Duration{4, 1, 3, 2}, 3}}
	for _, tt := range tests {
		if got := Median(tt.in); got != tt.want {
			t.Errorf("Median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRates(t *testing.T) {
	if got := Rates(100, []time.Duration{time.Second}); got != "" {
		t.Errorf("Rates of one run = %q, want empty", got)
	}
	if got, want := Rates(100, []time.Duration{time.Second, 2 * time.Second}), " [runs MB/s: 100 50]"; got != want {
		t.Errorf("Rates = %q, want %q", got, want)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1073741824", want: 1 << 30},
		{in: "1GiB", want: 1 << 30},
		{in: "5MiB", want: 5 << 20},
		{in: "512 MiB", want: 512 << 20},
		{in: "10MB", want: 10_000_000},
		{in: "1.5KiB", want: 1536},
		{in: "7B", want: 7},
		{in: "10", want: 10},
		{in: "0", wantErr: true},
		{in: "-1GiB", wantErr: true},
		{in: "-1MiB", wantErr: true},
		{in: "x", wantErr: true},
		{in: "lots", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestWriteRandom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	h := sha256.New()
	const size = 5<<20 + 7
	if err := WriteRandom(path, size, h); err != nil {
		t.Fatalf("WriteRandom: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != size {
		t.Errorf("wrote %d bytes, want %d", len(data), size)
	}
	if sum := sha256.Sum256(data); string(sum[:]) != string(h.Sum(nil)) {
		t.Error("the hash written to also differs from the file's")
	}
}

func TestCPUSeconds(t *testing.T) {
	// Burn some CPU time first: /proc counts it in 10 ms ticks.
	deadline := time.Now().Add(5 * time.Second)
	for CPUSeconds(os.Getpid()) == 0 && time.Now().Before(deadline) {
	}
	if got := CPUSeconds(os.Getpid()); got <= 0 {
		t.Errorf("CPUSeconds(self) = %v, want > 0", got)
	}
	if rss, hwm := RSS(os.Getpid()); rss <= 0 || hwm < rss {
		t.Errorf("RSS(self) = %v, %v; want 0 < rss <= hwm", rss, hwm)
	}
}
