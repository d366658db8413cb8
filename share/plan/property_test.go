package plan

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

var seedFlag = flag.Uint64("plan.seed", 0, "run the property tests for this seed only")

// seeds returns the seeds a property test runs: 1..n (n/6 under -short),
// or only -plan.seed.
func seeds(t *testing.T, n int) []uint64 {
	if *seedFlag != 0 {
		return []uint64{*seedFlag}
	}
	if testing.Short() {
		n /= 6
	}
	s := make([]uint64, n)
	for i := range s {
		s[i] = uint64(i + 1)
	}
	return s
}

// scenario is a random fetch: a DAG and a set of providers. mk returns
// fresh providers each time (a run mutates them).
type scenario struct {
	dag       *dag
	mk        func() []*simProvider
	coverable bool // reliable providers together hold every block
	desc      string
}

// genScenario draws a scenario from seed: 1–6 providers, full or partial,
// of random rate and latency, some flaky, silent, hostile, lying about what
// they have, leaving or joining late. With probability 4/5 the reliable
// providers (honest, staying) together cover the file; otherwise one block
// is held by nobody.
func genScenario(seed uint64) scenario {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := buildDAG(fmt.Sprintf("s%d", seed), 1+rng.IntN(200), 256<<10, 2+rng.IntN(40))
	coverable := rng.IntN(5) != 0
	missing := d.all[rng.IntN(len(d.all))]
	n := 1 + rng.IntN(6)
	provSeed := rng.Uint64()
	mk := func() []*simProvider {
		rng := rand.New(rand.NewPCG(provSeed, 2))
		var ps []*simProvider
		var reliable []*simProvider
		for i := range n {
			p := &simProvider{
				id:     peer.ID(fmt.Sprintf("p%d", i+1)),
				rate:   (0.25 + 16*rng.Float64()) * mbps,
				lat:    time.Duration(1+rng.IntN(80)) * time.Millisecond,
				hasAll: rng.IntN(2) == 0,
				has:    map[cid.Cid]bool{},
				lies:   map[cid.Cid]bool{},
			}
			if !p.hasAll {
				frac := 0.3 + 0.6*rng.Float64()
				for _, k := range d.all {
					if rng.Float64() < frac {
						p.has[k] = true
					}
				}
			}
			if rng.IntN(5) == 0 {
				for range 1 + rng.IntN(5) {
					if k := d.all[rng.IntN(len(d.all))]; !p.has[k] && !p.hasAll {
						p.lies[k] = true
					}
				}
			}
			switch r := rng.IntN(10); {
			case r == 5:
				p.kind = flaky
				p.failProb = 0.05 + 0.45*rng.Float64()
			case r == 6:
				p.kind = blackhole
			case r == 7:
				p.kind = corrupt
				p.goodRun = rng.IntN(20)
			case r == 8:
				p.leaveAt = time.Duration(100+rng.IntN(10000)) * time.Millisecond
			case r == 9:
				p.joinAt = time.Duration(100+rng.IntN(5000)) * time.Millisecond
				reliable = append(reliable, p)
			default:
				reliable = append(reliable, p)
			}
			ps = append(ps, p)
		}
		if len(reliable) == 0 {
			p := ps[0]
			p.kind, p.leaveAt = honest, 0
			reliable = append(reliable, p)
		}
		// Cover every block with some reliable provider.
		for _, k := range d.all {
			covered := false
			for _, p := range reliable {
				covered = covered || p.hasAll || p.has[k]
			}
			if !covered {
				p := reliable[rng.IntN(len(reliable))]
				p.has[k] = true
				delete(p.lies, k)
			}
		}
		if !coverable {
			for _, p := range ps {
				if p.hasAll {
					p.hasAll = false
					for _, k := range d.all {
						p.has[k] = true
					}
				}
				delete(p.has, missing)
			}
		}
		return ps
	}
	var desc []string
	for _, p := range mk() {
		desc = append(desc, fmt.Sprintf("%s{rate %.1fMiB/s lat %v all %v has %d lies %d kind %d join %v leave %v}",
			string(p.id), p.rate/mbps, p.lat, p.hasAll, len(p.has), len(p.lies), p.kind, p.joinAt, p.leaveAt))
	}
	return scenario{
		dag: d, mk: mk, coverable: coverable,
		desc: fmt.Sprintf("%d blocks, coverable %v, providers %v", len(d.all), coverable, desc),
	}
}

// configFor returns one of several configurations for a seed, so that the
// property tests cover the endgame off, tiny batches and windows, and
// hair-trigger timeouts as well as the defaults.
func configFor(seed uint64) Config {
	switch seed % 4 {
	case 1:
		return Config{EndgameCopies: 1, MaxBatch: 3, FailureThreshold: 2,
			MinRequestTimeout: 500 * time.Millisecond, MaxRequestTimeout: 3 * time.Second}
	case 2:
		return Config{InitialWindow: 100 << 10, MinWindow: 64 << 10, MaxWindow: 1 << 20, EndgameCopies: 4, MaxBatch: 1}
	case 3:
		return Config{MinRequestTimeout: 100 * time.Millisecond, MaxRequestTimeout: 200 * time.Millisecond,
			FailureThreshold: 100, QueueTime: time.Millisecond}
	}
	return Config{}
}

// TestPropertyRandomScenarios drives the planner through random scenarios
// and checks, on every Next, that it requests only advertised blocks, never
// from dropped or departed peers, never a block already in flight at that
// peer or already received, and never beyond the provider's window; and
// at the end that the fetch completed exactly when the reliable providers
// cover the file, and Stuck otherwise.
func TestPropertyRandomScenarios(t *testing.T) {
	for _, seed := range seeds(t, 300) {
		sc := genScenario(seed)
		cfg := configFor(seed)
		label := fmt.Sprintf("seed %d (%s; config %+v)", seed, sc.desc, cfg)
		pl, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s := newSim(t, label, pl, sc.dag, sc.mk(), seed)
		s.checkWindow = windowOf(pl)
		s.blockSize = pl.Config().BlockSize
		done := s.run()
		st := pl.Stats()
		switch {
		case done != sc.coverable:
			t.Errorf("%s: completed = %v, want %v; stats %+v", label, done, sc.coverable, st)
		case done:
			if st.BlocksReceived != len(sc.dag.all) || st.BytesReceived != sc.dag.total {
				t.Errorf("%s: stats received %d blocks %d bytes, want %d, %d", label,
					st.BlocksReceived, st.BytesReceived, len(sc.dag.all), sc.dag.total)
			}
			if st.InFlight != 0 {
				t.Errorf("%s: %d blocks in flight after Done", label, st.InFlight)
			}
		case s.stuck == 0 || st.Stuck == 0:
			t.Errorf("%s: not completed and not stuck (Stuck actions %d, stats %+v)", label, s.stuck, st)
		}
		if t.Failed() {
			t.Logf("rerun with -plan.seed=%d", seed)
			return
		}
	}
}

// TestDifferentialReference runs random scenarios through the planner and
// through a naive round-robin reference planner: both must complete, or
// both stop, and both must have received the same blocks.
func TestDifferentialReference(t *testing.T) {
	var ratios []float64
	for _, seed := range seeds(t, 200) {
		sc := genScenario(seed)
		cfg := configFor(seed)
		label := fmt.Sprintf("seed %d (%s; config %+v)", seed, sc.desc, cfg)
		pl, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ours := newSim(t, label+" planner", pl, sc.dag, sc.mk(), seed)
		gotDone := ours.run()
		ref := newSim(t, label+" reference", newRefPlanner(), sc.dag, sc.mk(), seed)
		wantDone := ref.run()
		if gotDone != wantDone {
			t.Errorf("%s: planner completed = %v, reference completed = %v", label, gotDone, wantDone)
		}
		got := slices.Sorted(mapKeys(ours.received))
		want := slices.Sorted(mapKeys(ref.received))
		if !slices.Equal(got, want) {
			t.Errorf("%s: planner received %d blocks, reference %d", label, len(got), len(want))
		}
		if gotDone && wantDone {
			ratios = append(ratios, float64(ours.elapsed())/float64(ref.elapsed()))
			if r := ratios[len(ratios)-1]; r > 1 {
				t.Logf("seed %d: planner %v, reference %v (%.2f×): %s", seed, ours.elapsed(), ref.elapsed(), r, label)
			}
		}
		if t.Failed() {
			t.Logf("rerun with -plan.seed=%d", seed)
			return
		}
	}
	if len(ratios) > 0 {
		slices.Sort(ratios)
		t.Logf("planner makespan / reference makespan over %d completed runs: median %.2f, worst %.2f",
			len(ratios), ratios[len(ratios)/2], ratios[len(ratios)-1])
	}
}

func mapKeys(m map[cid.Cid]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k.KeyString()) {
				return
			}
		}
	}
}
