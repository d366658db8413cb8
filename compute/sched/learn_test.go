package sched

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// twin drives a Scheduler against workers of one slot each whose runs take
// a fixed time per job, answering bid requests at once, and counts the units
// each worker ran.
type twin struct {
	t       *testing.T
	s       *Scheduler
	now     time.Time
	speed   map[peer.ID]float64 // bid speed
	running map[peer.ID][]twinRun
	ran     map[JobID]map[peer.ID]int
	took    map[JobID]func(w peer.ID, unit int) time.Duration
}

type twinRun struct {
	u   UnitID
	end time.Time
	dur time.Duration
}

func newTwin(t *testing.T, speeds map[peer.ID]float64) *twin {
	s, err := New(Config{NearTie: -1}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	tw := &twin{t: t, s: s, now: t0, speed: speeds, running: map[peer.ID][]twinRun{},
		ran: map[JobID]map[peer.ID]int{}, took: map[JobID]func(peer.ID, int) time.Duration{}}
	var ids []peer.ID
	for id := range speeds {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	tw.observe(WorkersDiscovered{Workers: ids})
	return tw
}

func (tw *twin) observe(ev Event) {
	tw.t.Helper()
	if err := tw.s.Observe(ev); err != nil {
		tw.t.Fatalf("Observe(%#v): %v", ev, err)
	}
}

// job runs one job of n units of cost 1 whose runs take took, to its end.
func (tw *twin) job(id JobID, n int, took func(w peer.ID, unit int) time.Duration) {
	tw.t.Helper()
	units := make([]UnitSpec, n)
	for i := range units {
		units[i] = UnitSpec{EstCost: 1}
	}
	tw.took[id] = took
	tw.ran[id] = map[peer.ID]int{}
	tw.observe(JobSubmitted{Job: id, Units: units})
	for range 10 * n {
		for _, a := range tw.s.Next(tw.now) {
			switch a := a.(type) {
			case RequestBids:
				for _, w := range a.Workers {
					free := 1 - len(tw.running[w])
					tw.observe(BidReceived{Worker: w, Job: a.Job, Slots: 1, FreeSlots: max(free, 0), Speed: tw.speed[w], At: tw.now})
				}
			case AssignUnit:
				d := tw.took[a.Unit.Job](a.Worker, a.Unit.Index)
				start := tw.now
				if rs := tw.running[a.Worker]; len(rs) > 0 {
					start = rs[len(rs)-1].end
				}
				tw.running[a.Worker] = append(tw.running[a.Worker], twinRun{a.Unit, start.Add(d), d})
				tw.ran[a.Unit.Job][a.Worker]++
				tw.observe(UnitAccepted{Unit: a.Unit, Worker: a.Worker, At: tw.now})
			case CancelUnit:
				tw.running[a.Worker] = slices.DeleteFunc(tw.running[a.Worker], func(r twinRun) bool { return r.u == a.Unit })
			case FinishJob:
				if a.Job == id {
					return
				}
			case FailJob:
				tw.t.Fatalf("job %s failed: %s", a.Job, a.Reason)
			}
		}
		// Advance to the next end of a run.
		var next peer.ID
		for w, rs := range tw.running {
			if len(rs) > 0 && (next == "" || rs[0].end.Before(tw.running[next][0].end) ||
				rs[0].end.Equal(tw.running[next][0].end) && w < next) {
				next = w
			}
		}
		if next == "" {
			tw.now = tw.now.Add(DefaultBidTimeout)
			continue
		}
		r := tw.running[next][0]
		tw.running[next] = tw.running[next][1:]
		tw.now = r.end
		tw.observe(UnitCompleted{Unit: r.u, Worker: next, Output: cidOf(fmt.Sprint(r.u)), At: tw.now, Took: r.dur})
	}
	tw.t.Fatalf("job %s did not end", id)
}

func fixed(d time.Duration) func(peer.ID, int) time.Duration {
	return func(peer.ID, int) time.Duration { return d }
}

// TestReduceDoesNotSkewSpeed: two equal workers run jobs of 8 equal map
// units, each followed by a reduce job of one unit with the same EstCost
// that takes 1/100 of the time (as the compute layer submits a reduce: a
// scheduler job of its own). The reduce tells nothing about the worker's
// speed relative to the other, so every later map job still splits 4+4
// (±1). Before speeds were learnt relative to each job's own runs, the
// worker that ran the first reduce was measured ~30× faster and got all 8
// units of every later job.
func TestReduceDoesNotSkewSpeed(t *testing.T) {
	tests := []struct {
		name   string
		speeds map[peer.ID]float64
		unit   time.Duration
	}{
		{"bids right", map[peer.ID]float64{wa: 0.1, wb: 0.1}, 10 * time.Second},
		{"bids a hint 10x off", map[peer.ID]float64{wa: 1, wb: 1}, 10 * time.Second},
		{"short units", map[peer.ID]float64{wa: 1, wb: 1}, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tw := newTwin(t, tt.speeds)
			for k := range 4 {
				m, r := JobID(fmt.Sprint("map", k)), JobID(fmt.Sprint("reduce", k))
				tw.job(m, 8, fixed(tt.unit))
				tw.job(r, 1, fixed(tt.unit/100))
				if k == 0 {
					continue // the first job has nothing measured yet
				}
				if a, b := tw.ran[m][wa], tw.ran[m][wb]; a+b != 8 || a < 3 || b < 3 {
					t.Errorf("job %s: units per worker %d+%d, want 4+4 (±1)", m, a, b)
				}
			}
			ws := tw.s.Workers()
			if lo, hi := min(ws[0].Speed, ws[1].Speed), max(ws[0].Speed, ws[1].Speed); hi > 1.5*lo {
				t.Errorf("speeds %v and %v, want within 1.5× of each other", ws[0].Speed, ws[1].Speed)
			}
		})
	}
}

// TestOddRunBoundedEffect: one run whose cost estimate is wrong by orders of
// magnitude (here a cached unit that took 1/1000 of the others' time) moves
// its worker's speed by at most maxSpeedStep before averaging, in the same
// job and in every later one.
func TestOddRunBoundedEffect(t *testing.T) {
	tw := newTwin(t, map[peer.ID]float64{wa: 1, wb: 1})
	tw.job("warm", 8, fixed(time.Second))
	before := tw.s.Workers()
	odd := func(w peer.ID, unit int) time.Duration {
		if unit == 7 {
			return time.Millisecond
		}
		return time.Second
	}
	tw.job("odd", 8, odd)
	after := tw.s.Workers()
	limit := speedWeight*maxSpeedStep + (1 - speedWeight) + 1e-9
	for i := range after {
		if r := after[i].Speed / before[i].Speed; r > limit || r < 1/limit {
			t.Errorf("worker %s: speed %v -> %v (×%.2f), want within ×%.2f", after[i].ID, before[i].Speed, after[i].Speed, r, limit)
		}
	}
	tw.job("next", 8, fixed(time.Second))
	if a, b := tw.ran["next"][wa], tw.ran["next"][wb]; a+b != 8 || a < 3 || b < 3 {
		t.Errorf("job next: units per worker %d+%d, want 4+4 (±1)", a, b)
	}
}

// TestJobScaleOwnRuns: a job whose EstCosts are 100× too low against the
// last one gets predictions in seconds from its own first result, and its
// runs do not change the workers' relative speeds.
func TestJobScaleOwnRuns(t *testing.T) {
	tw := newTwin(t, map[peer.ID]float64{wa: 1, wb: 1, wc: 1})
	fast := func(w peer.ID, _ int) time.Duration {
		if w == wc {
			return 2 * time.Second
		}
		return time.Second
	}
	tw.job("first", 12, fast)
	slow := func(w peer.ID, i int) time.Duration { return 100 * fast(w, i) }
	tw.job("second", 12, slow)
	sp := map[peer.ID]float64{}
	for _, w := range tw.s.Workers() {
		sp[w.ID] = w.Speed
	}
	if r := sp[wa] / sp[wc]; r < 1.6 || r > 2.5 {
		t.Errorf("speed a / speed c = %.2f, want about 2", r)
	}
	if r := sp[wa] / sp[wb]; r < 0.8 || r > 1.25 {
		t.Errorf("speed a / speed b = %.2f, want about 1", r)
	}
	j := tw.s.jobs["second"]
	if got := tw.s.cost(j.units[0]) / sp[wa]; got < 70 || got > 140 {
		t.Errorf("predicted run on a = %.1f s, want about 100", got)
	}
}

// TestSlowFigureCorrected: a worker that ran 3× slower than the other for
// four jobs (a load spike), long enough for its figure to drop to a third, and then as fast still gets units in the next
// jobs, whose runs correct its figure: within a few jobs they split 4+4
// (±1) again.
func TestSlowFigureCorrected(t *testing.T) {
	tw := newTwin(t, map[peer.ID]float64{wa: 1, wb: 1})
	tw.job("warm", 8, fixed(time.Second))
	for k := range 4 {
		tw.job(JobID(fmt.Sprint("spike", k)), 8, func(w peer.ID, _ int) time.Duration {
			if w == wb {
				return 3 * time.Second
			}
			return time.Second
		})
	}
	if ws := tw.s.Workers(); ws[1].Speed > ws[0].Speed/2.5 {
		t.Fatalf("after the spike: speeds %v and %v, want b's figure about a third of a's", ws[0].Speed, ws[1].Speed)
	}
	var split []string
	for k := range 5 {
		id := JobID(fmt.Sprint("after", k))
		tw.job(id, 8, fixed(time.Second))
		split = append(split, fmt.Sprintf("%d+%d", tw.ran[id][wa], tw.ran[id][wb]))
		if k == 0 && tw.ran[id][wb] == 0 {
			t.Errorf("job %s: the worker believed slow got no unit", id)
		}
	}
	last := JobID("after4")
	if a, b := tw.ran[last][wa], tw.ran[last][wb]; a < 3 || b < 3 {
		t.Errorf("units per worker after the spike: %v, want 4+4 (±1) by the last", split)
	}
	t.Logf("units per worker after the spike: %v", split)
}

// TestSimReduceAfterBackups replays the shape of a word count through the
// CLI (e2e TestComputeWordCount) in virtual time, over many draws: workers
// of 1, 2 and 1 slots whose first run pays a cold compile of seconds and
// whose later runs take tens of milliseconds, so that the end of the map
// job starts backups; cancelled runs keep their slot a while (the worker
// kills its child); then the reduce, a job of its own of one unit whose
// inputs are the maps' outputs. Every job must end. A run of CI once left
// the reduce queued for a minute after backups had been cancelled.
func TestSimReduceAfterBackups(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		var workers []*simWorker
		for i, slots := range []int{1, 2, 1} {
			workers = append(workers, &simWorker{
				id:        wid(i),
				slots:     slots,
				speed:     5 + 40*r.Float64(),
				lat:       time.Duration(1+r.IntN(20)) * time.Millisecond,
				cold:      time.Duration(500+r.IntN(5000)) * time.Millisecond,
				cancelLag: time.Duration(r.IntN(600)) * time.Millisecond,
			})
		}
		maps := &simJob{id: "wc/0", replicas: 1}
		red := &simJob{id: "wc/1", replicas: 1, after: "wc/0", at: time.Duration(r.IntN(5)) * time.Millisecond}
		var ins []Input
		for i := range 8 {
			maps.units = append(maps.units, UnitSpec{EstCost: 1.1})
			ins = append(ins, Input{CID: honestOutput(UnitID{maps.id, i}), Bytes: 100})
		}
		red.units = []UnitSpec{{EstCost: 1, Inputs: ins}}
		m := newSim(t, Config{}, seed, workers, []*simJob{maps, red})
		m.horizon = 10 * time.Minute
		m.run()
		if probs := m.check(); len(probs) > 0 {
			t.Fatalf("seed %d: %d problem(s):\n%s\nlast actions:\n%s", seed, len(probs), strings.Join(probs, "\n"),
				strings.Join(m.log[max(0, len(m.log)-30):], "\n"))
		}
		// Some worker is idle once the maps are done (at most one slot
		// is still freeing), so the reduce starts within a bid round.
		var mapsDone, placed time.Duration
		for _, ta := range m.actions {
			switch a := ta.a.(type) {
			case FinishJob:
				if a.Job == maps.id {
					mapsDone = ta.at.Sub(t0)
				}
			case AssignUnit:
				if a.Unit.Job == red.id && placed == 0 {
					placed = ta.at.Sub(t0)
				}
			}
		}
		if wait := placed - mapsDone; wait > DefaultBidTimeout+time.Second {
			t.Errorf("seed %d: reduce placed %v after the maps ended, want within %v", seed, wait, DefaultBidTimeout+time.Second)
		}
	}
}

// TestSimFullFastWorker: the fastest worker bid full (another submitter's
// unit holds its only slot for a minute) while a slower one is idle. A
// unit must not wait for the fast one on the strength of a guess made at
// its bid: the longer the wait, the later it expects the slot, and the unit
// goes to the idle worker within about the time it takes there. The full
// worker is asked again within the rebid interval, not two.
func TestSimFullFastWorker(t *testing.T) {
	workers := []*simWorker{
		{id: wid(0), slots: 1, speed: 100, lat: time.Millisecond, foreign: time.Minute},
		{id: wid(1), slots: 1, speed: 1, lat: time.Millisecond},
	}
	job := &simJob{id: "j", replicas: 1, units: []UnitSpec{{EstCost: 1}}}
	cfg := Config{RebidInterval: 10 * time.Second}
	m := newSim(t, cfg, 1, workers, []*simJob{job})
	m.horizon = 5 * time.Minute
	m.run()
	m.fail()
	var placed time.Duration = -1
	var asks []time.Duration // bid requests to the full worker
	for _, ta := range m.actions {
		switch a := ta.a.(type) {
		case AssignUnit:
			if placed < 0 {
				placed = ta.at.Sub(t0)
				if a.Worker != wid(1) {
					t.Errorf("unit placed on %s at %v, want the idle %s", a.Worker, placed, wid(1))
				}
			}
		case RequestBids:
			if slices.Contains(a.Workers, wid(0)) {
				asks = append(asks, ta.at.Sub(t0))
			}
		}
	}
	if placed < 0 || placed > 2*time.Second {
		t.Errorf("unit placed at %v, want within 2s (the idle worker takes 1s)\n%s", placed, strings.Join(m.log, "\n"))
	}
	if len(asks) > 3 {
		t.Errorf("%d bid requests to the full worker (%v): asked too often", len(asks), asks)
	}
}

// TestRebidFullWorker: a unit that waits because every worker bid full
// asks them again after one rebid interval, not two.
func TestRebidFullWorker(t *testing.T) {
	workers := []*simWorker{
		{id: wid(0), slots: 1, speed: 1, lat: 5 * time.Millisecond, foreign: 5 * time.Second},
	}
	job := &simJob{id: "j", replicas: 1, units: []UnitSpec{{EstCost: 1}}}
	cfg := Config{RebidInterval: 10 * time.Second}
	m := newSim(t, cfg, 1, workers, []*simJob{job})
	m.horizon = 5 * time.Minute
	m.run()
	m.fail()
	var asks []time.Duration
	placed := time.Duration(-1)
	for _, ta := range m.actions {
		switch a := ta.a.(type) {
		case RequestBids:
			asks = append(asks, ta.at.Sub(t0))
		case AssignUnit:
			if placed < 0 {
				placed = ta.at.Sub(t0)
			}
			_ = a
		}
	}
	// The bid at 0 shows it full; the one at 10s finds it free.
	if placed < 5*time.Second || placed > 11*time.Second {
		t.Errorf("unit placed at %v, want at the first rebid after the slot frees at 5s (10s); bid requests at %v", placed, asks)
	}
}
