package sched

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// randomScenario draws a configuration, a swarm and some jobs from seed:
// heterogeneous workers, some of them lying, stalling, failing or vanishing;
// spare honest workers that turn up when the scheduler asks for workers;
// jobs with replicas, memory limits, inputs, and now and then a unit that
// traps everywhere.
func randomScenario(seed uint64) (Config, []*simWorker, []*simJob) {
	r := rand.New(rand.NewPCG(seed, 3))
	cfg := Config{
		QueueAllowance:   r.IntN(3),
		NearTie:          []float64{-1, 0, 0.05, 0.3}[r.IntN(4)],
		StallTimeout:     time.Duration(5+r.IntN(30)) * time.Second,
		MaxAttempts:      2 + r.IntN(3),
		MaxExtraReplicas: []int{-1, 0, 1, 3}[r.IntN(4)],
		AvoidFor:         time.Duration(1+r.IntN(60)) * time.Minute,
		BackoffFor:       time.Duration(1+r.IntN(10)) * time.Minute,
		RebidInterval:    time.Duration(5+r.IntN(60)) * time.Second,
	}
	var pool []Input
	for i := range 20 {
		pool = append(pool, Input{CID: cidOf(fmt.Sprint("input ", i)), Bytes: r.Int64N(200_000_000)})
	}
	gib := func() uint64 { return []uint64{0, 1 << 30, 2 << 30, 4 << 30, 8 << 30}[r.IntN(5)] }
	var workers []*simWorker
	n := 4 + r.IntN(16)
	for i := range n + 10 {
		w := &simWorker{
			id:    wid(i),
			slots: 1 + r.IntN(4),
			speed: 0.3 + 4.7*r.Float64(),
			mem:   gib(),
			lat:   time.Duration(1+r.IntN(50)) * time.Millisecond,
		}
		for _, in := range pool {
			if r.IntN(4) == 0 {
				w.held = append(w.held, in.CID)
			}
		}
		if i >= n {
			w.spare = true
			w.mem = 16 << 30
		} else {
			w.liar = r.IntN(10) == 0
			w.stall = r.IntN(20) == 0
			if r.IntN(10) == 0 {
				w.lostAt = time.Duration(1+r.IntN(60)) * time.Second
			}
			if r.IntN(5) == 0 {
				w.failRate = 0.05 + 0.25*r.Float64()
			}
			if r.IntN(8) == 0 {
				w.busyRate = 0.1 + 0.4*r.Float64()
			}
		}
		workers = append(workers, w)
	}
	var jobs []*simJob
	for i := range 1 + r.IntN(3) {
		j := &simJob{
			id:       JobID(fmt.Sprint("job", i)),
			replicas: 1 + r.IntN(3),
			at:       time.Duration(r.IntN(10_000)) * time.Millisecond,
			traps:    map[int]bool{},
		}
		trappy := r.IntN(4) == 0
		for u := range 1 + r.IntN(60) {
			spec := UnitSpec{EstCost: 0.1 + 20*r.Float64(), Limits: Limits{Memory: gib()}}
			for range r.IntN(3) {
				spec.Inputs = append(spec.Inputs, pool[r.IntN(len(pool))])
			}
			if r.IntN(10) == 0 {
				spec.Limits.WallTime = time.Duration(10+r.IntN(100)) * time.Second
			}
			if trappy && r.IntN(20) == 0 {
				j.traps[u] = true
			}
			j.units = append(j.units, spec)
		}
		jobs = append(jobs, j)
	}
	return cfg, workers, jobs
}

func propertySeeds(t *testing.T) int {
	if testing.Short() {
		return 30
	}
	return 200
}

// TestPropertyInvariants runs random scenarios and checks, for each: the
// replicas of a unit never share a worker; a worker never holds more runs
// than its slots plus the queue allowance; a worker recorded faulty gets no
// unit while avoided; WakeAt is always after the Next just called; every job
// ends done (with every unit accepted) or failed with reasons.
//
// It also checks that the scenarios exercise what they are meant to: some
// jobs succeed, some fail, liars get caught, runs are retried, workers are
// asked for. A generator that silently stopped producing these would make
// the invariants vacuous.
func TestPropertyInvariants(t *testing.T) {
	t.Parallel()
	var done, failed, faulty, retried, need int
	for seed := range uint64(propertySeeds(t)) {
		cfg, workers, jobs := randomScenario(seed)
		m := newSim(t, cfg, seed, workers, jobs)
		m.horizon = 4 * time.Hour
		m.run()
		if probs := m.check(); len(probs) > 0 {
			t.Fatalf("seed %d (cfg %+v): %d invariant(s) broken:\n%s", seed, cfg, len(probs), joinLines(probs))
		}
		for _, e := range m.ended {
			if _, ok := e.(FinishJob); ok {
				done++
			} else {
				failed++
			}
		}
		faulty += len(m.faulty)
		for _, ta := range m.actions {
			switch a := ta.a.(type) {
			case AssignUnit:
				if a.Replica > 0 {
					retried++
				}
			case NeedWorkers:
				need++
			}
		}
	}
	t.Logf("jobs done %d, failed %d; workers recorded faulty %d; runs beyond the first %d; NeedWorkers %d", done, failed, faulty, retried, need)
	for _, c := range []struct {
		name string
		n    int
	}{{"done jobs", done}, {"failed jobs", failed}, {"faulty workers", faulty}, {"extra runs", retried}, {"NeedWorkers", need}} {
		if c.n == 0 {
			t.Errorf("random scenarios produced no %s", c.name)
		}
	}
}

// TestPropertyDeterministic: the same seed and the same events give the same
// actions, at the same times.
func TestPropertyDeterministic(t *testing.T) {
	t.Parallel()
	for seed := range uint64(propertySeeds(t) / 4) {
		var logs [2][]string
		for i := range logs {
			cfg, workers, jobs := randomScenario(seed)
			m := newSim(t, cfg, seed, workers, jobs)
			m.horizon = 4 * time.Hour
			m.run()
			logs[i] = m.log
		}
		if diff := cmp.Diff(logs[0], logs[1]); diff != "" {
			t.Fatalf("seed %d: two runs differ (-first +second):\n%s", seed, diff)
		}
	}
}

func joinLines(s []string) string {
	if len(s) > 20 {
		s = append(slices.Clone(s[:20]), fmt.Sprintf("... and %d more", len(s)-20))
	}
	out := ""
	for _, l := range s {
		out += l + "\n"
	}
	return out
}
