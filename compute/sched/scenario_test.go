package sched

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestSimMakespan: 1000 units on 50 heterogeneous workers finish within 15 %
// of the lower bound max(total work / total capacity, longest unit on the
// fastest worker).
func TestSimMakespan(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		rng := rand.New(rand.NewPCG(seed, 99))
		var workers []*simWorker
		capacity, fastest := 0.0, 0.0
		for i := range 50 {
			w := &simWorker{
				id:    wid(i),
				slots: []int{1, 2, 4, 8}[rng.IntN(4)],
				speed: 0.5 + 3.5*rng.Float64(),
				lat:   time.Duration(1+rng.IntN(20)) * time.Millisecond,
			}
			capacity += w.speed * float64(w.slots)
			fastest = max(fastest, w.speed)
			workers = append(workers, w)
		}
		j := uniformJob("job", 1000, 1, 20, rng)
		total, longest := 0.0, 0.0
		for _, u := range j.units {
			total += u.EstCost
			longest = max(longest, u.EstCost)
		}
		bound := math.Max(total/capacity, longest/fastest)
		m := newSim(t, Config{}, seed, workers, []*simJob{j})
		m.run()
		m.fail()
		got := m.makespan("job").Seconds()
		t.Logf("seed %d: makespan %.2fs, lower bound %.2fs, ratio %.3f, %d scheduler steps", seed, got, bound, got/bound, m.steps)
		if got < 0 || got > 1.15*bound {
			t.Errorf("seed %d: makespan %.2fs, want <= 1.15 × %.2fs", seed, got, bound)
		}
	}
}

// TestSimProportional: workers of equal speed with 1 and 4 slots receive
// units in proportion to their slots, within ±25 %.
func TestSimProportional(t *testing.T) {
	const seed = 7
	var workers []*simWorker
	totalSlots := 0
	for i := range 20 {
		w := &simWorker{id: wid(i), slots: 1, speed: 1, lat: 5 * time.Millisecond}
		if i%2 == 1 {
			w.slots = 4
		}
		totalSlots += w.slots
		workers = append(workers, w)
	}
	j := uniformJob("job", 1000, 1, 1, rand.New(rand.NewPCG(seed, 0)))
	m := newSim(t, Config{}, seed, workers, []*simJob{j})
	m.run()
	m.fail()
	perClass := map[int]int{}
	lo, hi := map[int]int{1: 1 << 30, 4: 1 << 30}, map[int]int{}
	for _, w := range workers {
		perClass[w.slots] += w.assigned
		lo[w.slots] = min(lo[w.slots], w.assigned)
		hi[w.slots] = max(hi[w.slots], w.assigned)
		want := 1000 * float64(w.slots) / float64(totalSlots)
		if got := float64(w.assigned); math.Abs(got-want) > 0.25*want {
			t.Errorf("seed %d: %s (%d slots) got %v units, want %.0f ± 25 %%", seed, w.id, w.slots, got, want)
		}
	}
	t.Logf("seed %d: 1-slot workers got %d units in all (each %d to %d, ideal 20), 4-slot workers %d (each %d to %d, ideal 80)",
		seed, perClass[1], lo[1], hi[1], perClass[4], lo[4], hi[4])
}

// TestSimWorkerLost: a worker vanishing mid-job has its units reassigned and
// the job still completes.
func TestSimWorkerLost(t *testing.T) {
	const seed = 11
	rng := rand.New(rand.NewPCG(seed, 0))
	var workers []*simWorker
	for i := range 10 {
		workers = append(workers, &simWorker{id: wid(i), slots: 2, speed: 1, lat: 5 * time.Millisecond})
	}
	workers[3].lostAt = 10 * time.Second
	j := uniformJob("job", 200, 1, 5, rng)
	m := newSim(t, Config{}, seed, workers, []*simJob{j})
	m.run()
	m.fail()
	if _, ok := m.ended["job"].(FinishJob); !ok {
		t.Fatalf("seed %d: job ended with %#v, want FinishJob", seed, m.ended["job"])
	}
	lost := 0
	for _, ta := range m.actions {
		if a, ok := ta.a.(AssignUnit); ok && a.Worker == wid(3) && ta.at.After(t0.Add(11*time.Second)) {
			t.Errorf("seed %d: %v: %v assigned to lost worker", seed, ta.at.Sub(t0), a.Unit)
		}
	}
	for i := range j.units {
		if st, _ := m.s.Unit(UnitID{"job", i}); len(st.Failures) > 0 {
			lost++
			if f := st.Failures[0]; f.Kind != FailedLost || f.Worker != wid(3) {
				t.Errorf("seed %d: unit %d failure %+v, want worker lost on %s", seed, i, f, wid(3))
			}
		}
	}
	if lost == 0 {
		t.Errorf("seed %d: no unit was running on the lost worker; the scenario tests nothing", seed)
	}
	t.Logf("seed %d: %d units reassigned after the loss, makespan %v", seed, lost, m.makespan("job"))
}

// TestSimLiarOutvoted: with k=3 a worker returning wrong outputs is outvoted,
// recorded faulty and given nothing more, and every accepted output is right.
func TestSimLiarOutvoted(t *testing.T) {
	const seed = 5
	var workers []*simWorker
	for i := range 6 {
		workers = append(workers, &simWorker{id: wid(i), slots: 2, speed: 1, lat: 5 * time.Millisecond})
	}
	workers[2].liar = true
	workers[2].speed = 3 // fast, so it is sure to be picked
	j := uniformJob("job", 30, 1, 3, rand.New(rand.NewPCG(seed, 0)))
	j.replicas = 3
	m := newSim(t, Config{}, seed, workers, []*simJob{j})
	m.run()
	m.fail()
	if _, ok := m.ended["job"].(FinishJob); !ok {
		t.Fatalf("seed %d: job ended with %#v, want FinishJob", seed, m.ended["job"])
	}
	for u, a := range m.accepted {
		if !a.Output.Equals(honestOutput(u)) {
			t.Errorf("seed %d: unit %v accepted %s, want the honest output", seed, u, a.Output)
		}
		if len(a.Agreeing) < 2 {
			t.Errorf("seed %d: unit %v accepted with %d agreeing, want >= 2", seed, u, len(a.Agreeing))
		}
	}
	if _, ok := m.faulty[wid(2)]; !ok {
		t.Errorf("seed %d: liar %s never recorded faulty", seed, wid(2))
	}
	for id := range m.faulty {
		if id != wid(2) {
			t.Errorf("seed %d: honest %s recorded faulty", seed, id)
		}
	}
	var liar WorkerSnapshot
	for _, w := range m.s.Workers() {
		if w.ID == wid(2) {
			liar = w
		}
	}
	if liar.Outvoted == 0 || liar.AvoidUntil.IsZero() {
		t.Errorf("seed %d: Workers() shows liar as %+v, want outvoted and avoided", seed, liar)
	}
	t.Logf("seed %d: liar ran %d units before it was caught, outvoted %d times", seed, workers[2].assigned, liar.Outvoted)
}

// TestSimStalledWorker: a worker that accepts units and then says nothing has
// them reassigned once StallTimeout passes.
func TestSimStalledWorker(t *testing.T) {
	const seed = 13
	cfg := Config{StallTimeout: 10 * time.Second}
	var workers []*simWorker
	for i := range 5 {
		workers = append(workers, &simWorker{id: wid(i), slots: 2, speed: 1, lat: 5 * time.Millisecond})
	}
	workers[0].stall = true
	workers[0].speed = 4 // looks best, so it gets units
	j := uniformJob("job", 40, 1, 3, rand.New(rand.NewPCG(seed, 0)))
	m := newSim(t, cfg, seed, workers, []*simJob{j})
	m.run()
	m.fail()
	if _, ok := m.ended["job"].(FinishJob); !ok {
		t.Fatalf("seed %d: job ended with %#v, want FinishJob", seed, m.ended["job"])
	}
	assigned := map[UnitID]time.Time{}
	cancelled := 0
	for _, ta := range m.actions {
		switch a := ta.a.(type) {
		case AssignUnit:
			if a.Worker == wid(0) {
				assigned[a.Unit] = ta.at
			}
		case CancelUnit:
			if a.Worker != wid(0) {
				continue
			}
			cancelled++
			if d := ta.at.Sub(assigned[a.Unit]); d < cfg.StallTimeout || d > cfg.StallTimeout+time.Second {
				t.Errorf("seed %d: %v cancelled on staller %v after assignment, want just after %v", seed, a.Unit, d, cfg.StallTimeout)
			}
			if a.Reason != FailedStalled.String() {
				t.Errorf("seed %d: %v cancelled for %q, want %q", seed, a.Unit, a.Reason, FailedStalled)
			}
		}
	}
	if len(assigned) == 0 || cancelled != len(assigned) {
		t.Errorf("seed %d: staller got %d units, %d cancelled; want some, all cancelled", seed, len(assigned), cancelled)
	}
	t.Logf("seed %d: staller got %d units, all reassigned; makespan %v", seed, len(assigned), m.makespan("job"))
}

// TestSimBackups: a worker that turns 20 times slower near the end of a
// job (throttled, swapping) would hold the job's last units for minutes;
// end-game backups on the idle workers finish them instead.
func TestSimBackups(t *testing.T) {
	run := func(backups int) (makespan time.Duration, nBackups int) {
		var workers []*simWorker
		for i := range 10 {
			workers = append(workers, &simWorker{id: wid(i), slots: 2, speed: 1, lat: 5 * time.Millisecond})
		}
		workers[0].slowAt, workers[0].slowBy = 85*time.Second, 20
		j := &simJob{id: "job", replicas: 1}
		for range 200 {
			j.units = append(j.units, UnitSpec{EstCost: 10})
		}
		m := newSim(t, Config{Backups: backups}, 1, workers, []*simJob{j})
		m.run()
		m.fail()
		for _, a := range m.actions {
			if a, ok := a.a.(AssignUnit); ok && a.Backup {
				nBackups++
			}
		}
		return m.makespan("job"), nBackups
	}
	// 200 units of 10 s on 20 slots: 100 s at best. The slow worker's two
	// last runs were due at 100 s; a run overdue by d is expected to need
	// d more, so each is backed up once overdue by more than the 10 s (plus
	// 10 %) a backup takes: at about 111 s, done at about 121 s.
	with, n := run(0)
	without, _ := run(-1)
	t.Logf("makespan %v with backups (%d started), %v without", with, n, without)
	if n == 0 || with > 125*time.Second {
		t.Errorf("with backups: makespan %v, %d backups; want <= 125s", with, n)
	}
	if without < 2*with {
		t.Errorf("without backups: makespan %v, want the straggler to show (>= 2 x %v)", without, with)
	}
}
