package sched

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// This file holds a discrete-event simulator that drives a Scheduler in
// virtual time: simulated workers run units at their speed on their slots,
// answer bids, heartbeat, lie, stall, fail or vanish as told. Actions reach
// workers at once; worker messages reach the scheduler after the worker's
// latency, in order. No goroutines, no clocks.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// cidOf returns a CIDv1 (raw, sha2-256) of s.
func cidOf(s string) cid.Cid {
	c, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: -1}.Sum([]byte(s))
	if err != nil {
		panic(err)
	}
	return c
}

func honestOutput(u UnitID) cid.Cid { return cidOf("out " + u.String()) }

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

type simWorker struct {
	id    peer.ID
	slots int
	speed float64
	mem   uint64
	lat   time.Duration
	held  []cid.Cid // inputs held from the start
	// link, when set, is the rate in bytes per second at which the worker
	// fetches a run's inputs it does not hold before running it (then it
	// holds them); moved counts the bytes fetched.
	link  float64
	moved int64
	// quiet leaves the fetch figures out of its reports (a worker before
	// protocol 1.3.0); bidLink states link in its bids.
	quiet   bool
	bidLink bool

	liar bool // returns a wrong output of its own
	// claimAll makes its bids claim every input of the job, 1 PiB of
	// each, whatever it holds.
	claimAll bool
	stall    bool          // accepts units, then says nothing more
	lostAt   time.Duration // vanishes at this time after start; 0 never
	failRate float64       // chance that a run fails
	busyRate float64       // chance that an assignment is rejected as busy
	spare    bool          // unknown until the scheduler asks for workers
	slowAt   time.Duration // runs started from this time after start on take slowBy times longer; 0 never
	slowBy   float64
	// cold is added to the first run's time (a module compiled on first
	// use); cancelLag is how long a cancelled run keeps its slot (the
	// worker killing its child).
	cold      time.Duration
	cancelLag time.Duration
	// foreign keeps one slot taken from the start for this long by another
	// submitter's unit, which the scheduler knows only from bids.
	foreign time.Duration

	dead     bool
	running  []*simRun
	queue    []*simRun
	assigned int // runs ever assigned
	started  int // runs ever started
	done     int // runs completed
	maxHeld  int // most runs held at once
}

type simRun struct {
	u      UnitID
	cost   float64
	trap   bool // fails deterministically
	inputs []Input
	start  time.Time
	gone   bool // cancelled or dropped
	// fetched and fetchTook are the bytes its worker fetched for it and
	// the time that took.
	fetched   int64
	fetchTook time.Duration
}

type simJob struct {
	id       JobID
	units    []UnitSpec
	traps    map[int]bool // units that fail everywhere
	replicas int
	at       time.Duration // submission time after start
	// after, when set, submits the job when that job ends instead, at its
	// end plus at (a reduce, which the compute layer submits as a job of
	// its own once the map units are done).
	after JobID
	// unsized submits the units' inputs with Bytes 0, as the compute layer
	// does for a job of one unit per input: the scheduler learns their
	// sizes from the bids of the workers holding them.
	unsized bool
}

// specs returns the units as submitted to the scheduler.
func (j *simJob) specs() []UnitSpec {
	if !j.unsized {
		return j.units
	}
	us := slices.Clone(j.units)
	for i := range us {
		us[i].Inputs = slices.Clone(us[i].Inputs)
		for k := range us[i].Inputs {
			us[i].Inputs[k].Bytes = 0
		}
	}
	return us
}

// size returns the size of input c of job j, or 0.
func (j *simJob) size(c cid.Cid) int64 {
	for _, u := range j.units {
		for _, in := range u.Inputs {
			if in.CID.Equals(c) {
				return in.Bytes
			}
		}
	}
	return 0
}

type simItem struct {
	at  time.Time
	seq int
	fn  func()
}

type simQueue []simItem

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simItem)) }
func (q *simQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type sim struct {
	t        testing.TB
	s        *Scheduler
	cfg      Config
	rng      *rand.Rand // the simulation's own randomness (failures)
	now      time.Time
	q        simQueue
	seq      int
	workers  map[peer.ID]*simWorker
	wlist    []*simWorker
	jobs     map[JobID]*simJob
	hb       time.Duration // heartbeat period
	horizon  time.Duration
	wakes    map[time.Time]bool
	log      []string // every action, with its time
	actions  []timedAction
	ended    map[JobID]Action // FinishJob or FailJob
	accepted map[UnitID]AcceptResult
	faulty   map[peer.ID]time.Time // when first recorded faulty
	replicas map[UnitID][]peer.ID  // every worker a unit was assigned to
	// rejectedBusy marks the workers that rejected a unit as busy, which may
	// get it again.
	rejectedBusy map[UnitID]map[peer.ID]bool
	problems     []string
	steps        int
}

type timedAction struct {
	at time.Time
	a  Action
}

// newSim builds a simulation. seed drives both the scheduler's rng and the
// simulation's own randomness.
func newSim(t testing.TB, cfg Config, seed uint64, workers []*simWorker, jobs []*simJob) *sim {
	t.Helper()
	s, err := New(cfg, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	m := &sim{
		t:        t,
		s:        s,
		cfg:      s.Config(),
		rng:      rand.New(rand.NewPCG(seed, 2)),
		now:      t0,
		workers:  make(map[peer.ID]*simWorker),
		jobs:     make(map[JobID]*simJob),
		hb:       s.Config().StallTimeout / 3,
		horizon:  24 * time.Hour,
		wakes:    make(map[time.Time]bool),
		ended:    make(map[JobID]Action),
		accepted: make(map[UnitID]AcceptResult),
		faulty:   make(map[peer.ID]time.Time),
		replicas: make(map[UnitID][]peer.ID),

		rejectedBusy: make(map[UnitID]map[peer.ID]bool),
	}
	var known []peer.ID
	for _, w := range workers {
		m.workers[w.id] = w
		m.wlist = append(m.wlist, w)
		if !w.spare {
			known = append(known, w.id)
		}
		if w.lostAt > 0 {
			m.at(t0.Add(w.lostAt), func() { m.lose(w) })
		}
		m.heartbeat(w, t0.Add(m.hb))
		if w.foreign > 0 {
			z := &simRun{u: UnitID{"foreign", 0}, gone: true}
			w.running = append(w.running, z)
			m.at(t0.Add(w.foreign), func() {
				w.running = slices.DeleteFunc(w.running, func(x *simRun) bool { return x == z })
				m.startRuns(w)
			})
		}
	}
	m.at(t0, func() { m.observe(WorkersDiscovered{Workers: known}) })
	for _, j := range jobs {
		m.jobs[j.id] = j
		if j.after != "" {
			continue
		}
		m.at(t0.Add(j.at), func() {
			m.observe(JobSubmitted{Job: j.id, Units: j.specs(), Replicas: j.replicas})
		})
	}
	return m
}

func (m *sim) at(t time.Time, fn func()) {
	m.seq++
	heap.Push(&m.q, simItem{at: t, seq: m.seq, fn: fn})
}

func (m *sim) observe(ev Event) {
	if err := m.s.Observe(ev); err != nil {
		m.t.Fatalf("Observe(%#v): %v", ev, err)
	}
}

// send delivers ev from w to the scheduler after w's latency.
func (m *sim) send(w *simWorker, ev Event) {
	m.at(m.now.Add(w.lat), func() { m.observe(ev) })
}

func (m *sim) problem(format string, args ...any) {
	m.problems = append(m.problems, fmt.Sprintf("%s: ", m.now.Sub(t0))+fmt.Sprintf(format, args...))
}

// run drives the simulation until every job has ended, nothing is left to
// happen, or the horizon passes.
func (m *sim) run() {
	for m.q.Len() > 0 && len(m.ended) < len(m.jobs) {
		m.now = m.q[0].at
		if m.now.Sub(t0) > m.horizon {
			break
		}
		for m.q.Len() > 0 && m.q[0].at.Equal(m.now) {
			it := heap.Pop(&m.q).(simItem)
			it.fn()
		}
		m.steps++
		for _, a := range m.s.Next(m.now) {
			m.do(a)
		}
		if wt, ok := m.s.WakeAt(); ok {
			if !wt.After(m.now) {
				m.problem("WakeAt() = %v, not after Next(%v)", wt.Sub(t0), m.now.Sub(t0))
				wt = m.now.Add(time.Millisecond)
			}
			if !m.wakes[wt] {
				m.wakes[wt] = true
				m.at(wt, func() { delete(m.wakes, wt) })
			}
		}
	}
}

func (m *sim) do(a Action) {
	m.actions = append(m.actions, timedAction{m.now, a})
	m.log = append(m.log, fmt.Sprintf("%v %#v", m.now.Sub(t0), a))
	switch a := a.(type) {
	case RequestBids:
		for _, id := range a.Workers {
			w := m.workers[id]
			if w.dead {
				continue // silence; the scheduler times out
			}
			free := max(w.slots-len(w.running), 0)
			var has []cid.Cid
			var heldBytes []int64
			has = append(has, w.held...)
			j := m.jobs[a.Job]
			if j != nil {
				for _, c := range has {
					heldBytes = append(heldBytes, j.size(c))
				}
			}
			if w.claimAll && j != nil {
				has = nil
				for _, u := range j.units {
					for _, in := range u.Inputs {
						has = append(has, in.CID)
						heldBytes = append(heldBytes, 1<<50)
					}
				}
			}
			var link float64
			if w.bidLink {
				link = w.link
			}
			m.send(w, BidReceived{
				Worker: id, Job: a.Job, Slots: w.slots, FreeSlots: free, QueueLen: len(w.queue),
				Speed: w.speed, MaxMemory: w.mem, HasInputs: has, HeldBytes: heldBytes, LinkRate: link, At: m.now.Add(w.lat),
			})
		}
	case AssignUnit:
		w := m.workers[a.Worker]
		if m.holds(w, a.Unit) {
			m.problem("unit %s assigned to %s, which holds it already", a.Unit, a.Worker)
		}
		if slices.Contains(m.replicas[a.Unit], a.Worker) && !m.rejectedBusy[a.Unit][a.Worker] {
			m.problem("unit %s assigned twice to %s", a.Unit, a.Worker)
		}
		m.replicas[a.Unit] = append(m.replicas[a.Unit], a.Worker)
		if ft, ok := m.faulty[a.Worker]; ok && m.now.Before(ft.Add(m.cfg.AvoidFor)) {
			m.problem("unit %s assigned to %s, recorded faulty at %v", a.Unit, a.Worker, ft.Sub(t0))
		}
		if w.dead {
			return
		}
		if w.busyRate > 0 && m.rng.Float64() < w.busyRate {
			m.send(w, UnitRejected{Unit: a.Unit, Worker: w.id, Reason: RejectBusy})
			if m.rejectedBusy[a.Unit] == nil {
				m.rejectedBusy[a.Unit] = make(map[peer.ID]bool)
			}
			m.rejectedBusy[a.Unit][w.id] = true
			return
		}
		j := m.jobs[a.Unit.Job]
		r := &simRun{u: a.Unit, cost: j.units[a.Unit.Index].EstCost, trap: j.traps[a.Unit.Index], inputs: j.units[a.Unit.Index].Inputs}
		w.assigned++
		w.queue = append(w.queue, r)
		held := 0
		for _, r := range slices.Concat(w.running, w.queue) {
			if !r.gone {
				held++
			}
		}
		if held > w.slots+m.cfg.QueueAllowance {
			m.problem("%s holds %d runs, has %d slots + %d allowance", w.id, held, w.slots, m.cfg.QueueAllowance)
		} else {
			w.maxHeld = max(w.maxHeld, held)
		}
		m.send(w, UnitAccepted{Unit: a.Unit, Worker: w.id, At: m.now.Add(w.lat)})
		m.startRuns(w)
	case CancelUnit:
		w := m.workers[a.Worker]
		drop := func(rs []*simRun) []*simRun {
			return slices.DeleteFunc(rs, func(r *simRun) bool {
				if r.u == a.Unit {
					r.gone = true
					return true
				}
				return false
			})
		}
		n := len(w.running)
		w.running = drop(w.running)
		w.queue = drop(w.queue)
		if killed := n - len(w.running); killed > 0 && w.cancelLag > 0 {
			// The slot stays taken until the child is dead.
			for range killed {
				z := &simRun{u: a.Unit, gone: true}
				w.running = append(w.running, z)
				m.at(m.now.Add(w.cancelLag), func() {
					w.running = slices.DeleteFunc(w.running, func(x *simRun) bool { return x == z })
					m.startRuns(w)
				})
			}
		}
		m.startRuns(w)
	case AcceptResult:
		if _, ok := m.accepted[a.Unit]; ok {
			m.problem("unit %s accepted twice", a.Unit)
		}
		m.accepted[a.Unit] = a
	case RecordFaulty:
		if _, ok := m.faulty[a.Worker]; !ok {
			m.faulty[a.Worker] = m.now
		}
	case FinishJob, FailJob:
		var id JobID
		if d, ok := a.(FinishJob); ok {
			id = d.Job
		} else {
			id = a.(FailJob).Job
		}
		if _, ok := m.ended[id]; ok {
			m.problem("job %s ended twice", id)
		}
		m.ended[id] = a
		for _, j := range m.jobs {
			if j.after == id {
				m.at(m.now.Add(j.at), func() {
					m.observe(JobSubmitted{Job: j.id, Units: j.specs(), Replicas: j.replicas})
				})
			}
		}
	case NeedWorkers:
		var found []peer.ID
		for _, w := range m.wlist {
			if w.spare {
				w.spare = false
				found = append(found, w.id)
				if len(found) == 3 {
					break
				}
			}
		}
		if len(found) > 0 {
			m.at(m.now.Add(50*time.Millisecond), func() { m.observe(WorkersDiscovered{Workers: found}) })
		}
	default:
		m.problem("unknown action %T", a)
	}
}

// holds reports whether w holds a run of u.
func (m *sim) holds(w *simWorker, u UnitID) bool {
	return slices.ContainsFunc(slices.Concat(w.running, w.queue), func(r *simRun) bool { return r.u == u && !r.gone })
}

// startRuns starts queued runs on free slots.
func (m *sim) startRuns(w *simWorker) {
	for len(w.running) < w.slots && len(w.queue) > 0 {
		r := w.queue[0]
		w.queue = w.queue[1:]
		w.running = append(w.running, r)
		r.start = m.now
		if w.stall {
			continue
		}
		took := secs(r.cost / w.speed)
		if w.slowAt > 0 && m.now.Sub(t0) >= w.slowAt {
			took = secs(r.cost / w.speed * w.slowBy)
		}
		if w.started == 0 {
			took += w.cold
		}
		w.started++
		var fetch time.Duration
		if w.link > 0 {
			for _, in := range r.inputs {
				if !slices.ContainsFunc(w.held, in.CID.Equals) {
					w.moved += in.Bytes
					r.fetched += in.Bytes
					fetch += secs(float64(in.Bytes) / w.link)
					w.held = append(w.held, in.CID)
				}
			}
		}
		r.fetchTook = fetch
		m.at(m.now.Add(fetch+took), func() { m.finish(w, r, took) })
	}
}

func (m *sim) finish(w *simWorker, r *simRun, took time.Duration) {
	if r.gone || w.dead {
		return
	}
	w.running = slices.DeleteFunc(w.running, func(x *simRun) bool { return x == r })
	switch {
	case r.trap:
		m.send(w, UnitFailed{Unit: r.u, Worker: w.id, Reason: "wasm trap: unreachable", Deterministic: true, At: m.now.Add(w.lat)})
	case w.failRate > 0 && m.rng.Float64() < w.failRate:
		m.send(w, UnitFailed{Unit: r.u, Worker: w.id, Reason: "out of disk", At: m.now.Add(w.lat)})
	default:
		out := honestOutput(r.u)
		if w.liar {
			out = cidOf("lie " + r.u.String() + " " + string(w.id))
		}
		w.done++
		ev := UnitCompleted{Unit: r.u, Worker: w.id, Output: out, At: m.now.Add(w.lat), Took: took}
		if !w.quiet {
			ev.FetchedBytes, ev.FetchTook = r.fetched, r.fetchTook
		}
		m.send(w, ev)
	}
	m.startRuns(w)
}

func (m *sim) heartbeat(w *simWorker, at time.Time) {
	m.at(at, func() {
		if w.dead || len(m.ended) == len(m.jobs) {
			return
		}
		if !w.stall {
			for _, r := range slices.Concat(w.running, w.queue) {
				if r.gone {
					continue
				}
				m.send(w, UnitProgressed{Unit: r.u, Worker: w.id, At: m.now.Add(w.lat)})
			}
		}
		m.heartbeat(w, at.Add(m.hb))
	})
}

func (m *sim) lose(w *simWorker) {
	w.dead = true
	for _, r := range slices.Concat(w.running, w.queue) {
		r.gone = true
	}
	w.running, w.queue = nil, nil
	// The shell notices the dropped connection a second later.
	m.at(m.now.Add(time.Second), func() { m.observe(WorkerLost{Worker: w.id}) })
}

// check reports every invariant broken during the run: those the actions
// broke as they happened, and the end state of every job.
func (m *sim) check() []string {
	probs := slices.Clone(m.problems)
	for id, j := range m.jobs {
		end, ok := m.ended[id]
		if !ok {
			st, _ := m.s.Job(id)
			probs = append(probs, fmt.Sprintf("job %s neither done nor failed after %v: %+v", id, m.now.Sub(t0), st))
			for i := range j.units {
				if _, ok := m.accepted[UnitID{id, i}]; !ok {
					u, _ := m.s.Unit(UnitID{id, i})
					probs = append(probs, fmt.Sprintf("unit %s: %v, waits: %+v, runs: %+v", u.ID, u.Status, u.Wait, u.Runs))
					break
				}
			}
			continue
		}
		switch e := end.(type) {
		case FinishJob:
			for i, out := range e.Outputs {
				a, ok := m.accepted[UnitID{id, i}]
				if !ok || !a.Output.Equals(out) {
					probs = append(probs, fmt.Sprintf("job %s done, unit %d output %s, accepted %v", id, i, out, a))
				}
			}
		case FailJob:
			if e.Reason == "" || (len(e.Failures) == 0 && !strings.Contains(e.Reason, "no majority")) {
				probs = append(probs, fmt.Sprintf("job %s failed without reasons: %+v", id, e))
			}
		}
	}
	return probs
}

// makespan returns the time from the first action to the end of job id.
func (m *sim) makespan(id JobID) time.Duration {
	for _, ta := range m.actions {
		if d, ok := ta.a.(FinishJob); ok && d.Job == id {
			return ta.at.Sub(t0)
		}
	}
	return -1
}

func wid(i int) peer.ID { return peer.ID(fmt.Sprintf("w%03d", i)) }

// uniformJob returns a job of n units with costs drawn from [lo, hi).
func uniformJob(id JobID, n int, lo, hi float64, rng *rand.Rand) *simJob {
	j := &simJob{id: id, replicas: 1}
	for range n {
		j.units = append(j.units, UnitSpec{EstCost: lo + (hi-lo)*rng.Float64()})
	}
	return j
}

func (m *sim) fail() {
	m.t.Helper()
	if probs := m.check(); len(probs) > 0 {
		m.t.Errorf("simulation broke %d invariant(s):\n%s", len(probs), strings.Join(probs, "\n"))
	}
}
