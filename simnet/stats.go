package simnet

import (
	"math"
	"slices"
	"time"
)

// Dist summarises a sample of durations.
type Dist struct {
	N   int           `json:"n"`
	Min time.Duration `json:"min_ns"`
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// Summarize returns the distribution of xs (nearest-rank percentiles).
func Summarize(xs []time.Duration) Dist {
	if len(xs) == 0 {
		return Dist{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return Dist{N: len(s), Min: s[0], P50: rank(s, 0.50), P95: rank(s, 0.95), P99: rank(s, 0.99), Max: s[len(s)-1]}
}

// IntDist summarises a sample of counts.
type IntDist struct {
	N    int     `json:"n"`
	Min  int     `json:"min"`
	P50  int     `json:"p50"`
	P95  int     `json:"p95"`
	Max  int     `json:"max"`
	Mean float64 `json:"mean"`
}

// SummarizeInts returns the distribution of xs.
func SummarizeInts(xs []int) IntDist {
	if len(xs) == 0 {
		return IntDist{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	sum := 0
	for _, x := range s {
		sum += x
	}
	return IntDist{N: len(s), Min: s[0], P50: rank(s, 0.50), P95: rank(s, 0.95), Max: s[len(s)-1],
		Mean: math.Round(float64(sum)/float64(len(s))*100) / 100}
}

// rank is the nearest-rank percentile q of sorted s.
func rank[T any](s []T, q float64) T {
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// CDF returns the points (x, fraction of samples <= x) of sorted-ascending
// samples xs, one per sample.
func CDF(xs []time.Duration) []CDFPoint {
	s := slices.Clone(xs)
	slices.Sort(s)
	out := make([]CDFPoint, len(s))
	for i, x := range s {
		out[i] = CDFPoint{X: x, F: float64(i+1) / float64(len(s))}
	}
	return out
}

// CDFPoint is one step of an empirical CDF.
type CDFPoint struct {
	X time.Duration
	F float64
}
