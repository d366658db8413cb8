package plan

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

const mbps = 1 << 20 // bytes per second in one MiB/s

// runPlanner builds a planner, runs a fetch of d from provs and returns the
// simulation after it ended.
func runPlanner(t testing.TB, label string, cfg Config, d *dag, provs []*simProvider, seed uint64) (*sim, *Planner) {
	t.Helper()
	pl, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	s := newSim(t, label, pl, d, provs, seed)
	s.checkWindow = windowOf(pl)
	s.blockSize = pl.Config().BlockSize
	if !s.run() {
		t.Fatalf("%s: fetch did not complete: stats %+v", label, pl.Stats())
	}
	return s, pl
}

// speedProviders returns full providers with the given relative rates and
// latencies spread over 5–20 ms.
func speedProviders(unit float64, rates ...float64) []*simProvider {
	var ps []*simProvider
	for i, r := range rates {
		ps = append(ps, &simProvider{
			id:     peer.ID(fmt.Sprintf("p%d", i+1)),
			rate:   r * unit,
			lat:    time.Duration(5+5*i) * time.Millisecond,
			hasAll: true,
		})
	}
	return ps
}

// TestProportionalShare checks that four providers at rates 1:1:2:4 serve
// bytes in proportion to their speed and that the fetch takes close to
// total bytes ÷ total rate.
func TestProportionalShare(t *testing.T) {
	tests := []struct {
		name   string
		leaves int
		rates  []float64
		unit   float64
	}{
		{"1:1:2:4 at 8MiB/s, 256MiB", 1024, []float64{1, 1, 2, 4}, 8 * mbps},
		{"1:1:2:4 at 100MiB/s, 1GiB", 4096, []float64{1, 1, 2, 4}, 100 * mbps},
		{"1:3 at 2MiB/s, 64MiB", 256, []float64{1, 3}, 2 * mbps},
		{"8 equal at 50MiB/s, 512MiB", 2048, []float64{1, 1, 1, 1, 1, 1, 1, 1}, 50 * mbps},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := buildDAG(tt.name, tt.leaves, 256<<10, 174)
			provs := speedProviders(tt.unit, tt.rates...)
			s, pl := runPlanner(t, tt.name, Config{}, d, provs, 1)
			var sum float64
			for _, r := range tt.rates {
				sum += r
			}
			ideal := time.Duration(float64(d.total) / (sum * tt.unit) * float64(time.Second))
			st := pl.Stats()
			for i, p := range provs {
				want := tt.rates[i] / sum
				got := float64(s.served[p.id]) / float64(d.total)
				t.Logf("%s: rate %.0f: share %.3f, want %.3f (%+.1f%%); planner share %.3f, rate estimate %.1f MiB/s",
					string(p.id), tt.rates[i], got, want, 100*(got/want-1), st.Providers[i].Share, st.Providers[i].Rate/mbps)
				if got < want*0.75 || got > want*1.25 {
					t.Errorf("share of %s = %.3f, want %.3f ±25%%", string(p.id), got, want)
				}
			}
			ratio := float64(s.elapsed()) / float64(ideal)
			t.Logf("makespan %v, ideal %v (%.3f×), duplicate bytes %.2f%%, Next calls %d",
				s.elapsed(), ideal, ratio, 100*float64(st.DuplicateBytes)/float64(d.total), s.steps)
			if ratio > 1.15 {
				t.Errorf("makespan %v, want within 15%% of ideal %v", s.elapsed(), ideal)
			}
		})
	}
}

// TestSlowdownShare checks that when the fastest provider slows down
// mid-fetch its share of the rest drops, and the fetch still finishes near
// the ideal for the new rates.
func TestSlowdownShare(t *testing.T) {
	d := buildDAG("slow", 1024, 256<<10, 174)
	provs := speedProviders(8*mbps, 1, 1, 2, 4)
	fast := provs[3]
	fast.slowAt = 1500 * time.Millisecond
	fast.slowRate = 0.25 * 8 * mbps
	pl, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := newSim(t, "slowdown", pl, d, provs, 1)
	s.checkWindow = windowOf(pl)
	var before map[peer.ID]int64
	s.onNext = func(s *sim) {
		if before == nil && s.now.Sub(t0) >= fast.slowAt {
			before = map[peer.ID]int64{}
			for id, b := range s.served {
				before[id] = b
			}
		}
	}
	if !s.run() {
		t.Fatalf("fetch did not complete: %+v", pl.Stats())
	}
	var beforeTotal, afterTotal int64
	for _, p := range provs {
		beforeTotal += before[p.id]
		afterTotal += s.served[p.id] - before[p.id]
	}
	shareBefore := float64(before[fast.id]) / float64(beforeTotal)
	shareAfter := float64(s.served[fast.id]-before[fast.id]) / float64(afterTotal)
	t.Logf("fast provider share: %.3f before slowing (proportional 0.500), %.3f after (proportional %.3f)",
		shareBefore, shareAfter, 0.25/4.25)
	if shareBefore < 0.375 {
		t.Errorf("share before slowdown = %.3f, want >= 0.375", shareBefore)
	}
	if shareAfter > 0.15 {
		t.Errorf("share after slowdown = %.3f, want <= 0.15", shareAfter)
	}
	// Ideal: bytes before the slowdown at 8 units, the rest at 4.25 units.
	rest := float64(d.total) - float64(fast.slowAt.Seconds())*8*8*mbps
	ideal := fast.slowAt + time.Duration(rest/(4.25*8*mbps)*float64(time.Second))
	t.Logf("makespan %v, ideal %v (%.3f×)", s.elapsed(), ideal, float64(s.elapsed())/float64(ideal))
	if s.elapsed() > ideal*5/4 {
		t.Errorf("makespan %v, want within 25%% of ideal %v", s.elapsed(), ideal)
	}
}

// TestProviderLeaves checks that the blocks of a provider that leaves
// mid-fetch are reassigned and the fetch completes.
func TestProviderLeaves(t *testing.T) {
	d := buildDAG("leave", 512, 256<<10, 174)
	provs := speedProviders(8*mbps, 1, 1, 2, 4)
	provs[3].leaveAt = time.Second
	s, pl := runPlanner(t, "leave", Config{}, d, provs, 1)
	st := pl.Stats()
	if got := st.Providers[3].State; got != StateLeft {
		t.Errorf("state of p4 = %v, want left", got)
	}
	rest := float64(d.total) - 8*8*mbps
	ideal := time.Second + time.Duration(rest/(4*8*mbps)*float64(time.Second))
	t.Logf("makespan %v, ideal %v (%.3f×); p4 served %d bytes before leaving",
		s.elapsed(), ideal, float64(s.elapsed())/float64(ideal), s.served["p4"])
	if s.elapsed() > ideal*5/4 {
		t.Errorf("makespan %v, want within 25%% of ideal %v", s.elapsed(), ideal)
	}
}

// TestHostileProviderDropped checks that a provider sending a bad block is
// dropped at once, never asked again, and the fetch completes.
func TestHostileProviderDropped(t *testing.T) {
	d := buildDAG("hostile", 256, 256<<10, 174)
	provs := speedProviders(8*mbps, 1, 1, 4)
	provs[2].kind = corrupt
	provs[2].goodRun = 10
	s, pl := runPlanner(t, "hostile", Config{}, d, provs, 1)
	if got := s.dropped["p3"]; got != DropInvalid {
		t.Errorf("p3 drop reason = %v, want invalid", got)
	}
	if got := pl.Stats().Providers[2].State; got != StateDropped {
		t.Errorf("p3 state = %v, want dropped", got)
	}
}

// TestBlackholeProvider checks that blocks held by a provider that accepts
// requests and never answers are fetched elsewhere without waiting for the
// fetch's end or the timeout, so the fetch takes about as long as without
// that provider.
func TestBlackholeProvider(t *testing.T) {
	d := buildDAG("blackhole", 1024, 256<<10, 174)
	provs := speedProviders(8*mbps, 1, 2, 4)
	provs[0].kind = blackhole
	s, _ := runPlanner(t, "blackhole", Config{}, d, provs, 1)
	ideal := time.Duration(float64(d.total) / (6 * 8 * mbps) * float64(time.Second))
	t.Logf("makespan %v, ideal without p1 %v (%.3f×)", s.elapsed(), ideal, float64(s.elapsed())/float64(ideal))
	if s.elapsed() > ideal*5/4 {
		t.Errorf("makespan %v, want within 25%% of ideal %v", s.elapsed(), ideal)
	}
}

// TestBlackholeDropped checks that a provider that never answers stalls,
// has its blocks reassigned, and is dropped after FailureThreshold stalls
// in a row.
func TestBlackholeDropped(t *testing.T) {
	d := buildDAG("blackhole-drop", 512, 256<<10, 174)
	provs := speedProviders(1*mbps, 1, 1)
	provs[0].kind = blackhole
	cfg := Config{MinRequestTimeout: 500 * time.Millisecond, MaxRequestTimeout: time.Second, FailureThreshold: 3}
	s, pl := runPlanner(t, "blackhole-drop", cfg, d, provs, 1)
	if got := s.dropped["p1"]; got != DropFailures {
		t.Errorf("p1 drop reason = %v, want failures", got)
	}
	if got := pl.Stats().Providers[0].Failures; got != 3 {
		t.Errorf("p1 failures = %d, want 3", got)
	}
}
