package sched

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Errors returned by Scheduler methods when the caller misuses them.
var (
	// ErrDuplicateJob means JobSubmitted named a job the Scheduler holds.
	ErrDuplicateJob = errors.New("sched: duplicate job")
	// ErrUnknownJob means an event or call named a job the Scheduler does not
	// hold (never submitted, or forgotten).
	ErrUnknownJob = errors.New("sched: unknown job")
	// ErrInvalidJob means a JobSubmitted is malformed; the wrapped message
	// names the field.
	ErrInvalidJob = errors.New("sched: invalid job")
)

// maxSlots caps what one bid may claim, so that a worker lying about its
// capacity cannot make the scheduler queue a whole job on it.
const maxSlots = 1024

// maxSeconds caps predicted durations (about 31 years) so that conversions to
// time.Duration never overflow.
const maxSeconds = 1e9

// speedWeight is the weight of the newest observation in a worker's measured
// speed (an exponentially weighted moving average).
const speedWeight = 0.3

// maxSpeedStep bounds one sample of a measured speed to within this factor
// of the current figure, before averaging: with speedWeight 0.3 one run
// moves a worker's speed by at most ×1.3 or ×0.85.
const maxSpeedStep = 2.0

// Scheduler decides where the units of the caller's jobs run. It is a pure
// state machine: feed it events with Observe, take its actions from Next.
//
// A Scheduler is not safe for concurrent use; one goroutine (the shell) owns
// it. It never blocks, starts goroutines, reads the clock or logs.
type Scheduler struct {
	cfg   Config
	rng   *rand.Rand
	clock time.Time // latest time seen, from Next or event times
	seq   uint64    // orders observations and actions

	jobs    map[JobID]*job
	jobList []*job // submission order

	workers map[peer.ID]*worker
	wlist   []*worker // sorted by peer ID

	out []Action // produced since the last Next

	cands []cand // scratch for placement

	// backupAt is when the last placement pass found a straggler not yet
	// worth a backup will be; zero when none.
	backupAt time.Time
	// waitAt is when the last placement pass wants another look at a unit
	// left waiting for a worker whose slots others hold (see
	// worker.startAt); zero when none.
	waitAt time.Time

	// scale is the scale of the last job with two or more completed runs
	// (see learn), used for jobs that have none yet; 1 at first.
	scale float64

	// sizes are the sizes bids gave of inputs the caller did not know the
	// size of (Input.Bytes 0): the smallest claim, at most
	// maxClaimedBytes. The smallest, so that a liar claiming a huge size
	// beside honest holders changes nothing, and one claiming a tiny size
	// only makes placement care less about the input, as with
	// IgnoreLocality.
	sizes map[cid.Cid]int64
}

// maxClaimedBytes caps the size a bid can make an input of unknown size
// look: a worker's default cap on a unit's inputs
// (compute.DefaultMaxInputBytes). A liar alone in claiming an input makes
// the others look at most that far from it.
const maxClaimedBytes = 1 << 30

type jobStatus int

const (
	jobActive jobStatus = iota
	jobDone
	jobFailed
	jobCancelled
)

type job struct {
	id       JobID
	replicas int
	quorum   int
	units    []*unit
	queue    []*unit // units with missing runs, in placement order
	status   jobStatus
	accepted int
	failed   *FailJob
	outputs  []cid.Cid

	started     bool // first bid round issued
	window      bool // placement waits for the bids in awaiting
	windowUntil time.Time
	asked       map[peer.ID]bool
	awaiting    map[peer.ID]bool
	lastRebid   time.Time
	needy       *unit // a unit the last placement pass found nobody for
	needSent    bool
	lastNeed    time.Time
	submittedAt time.Time
	endedAt     time.Time

	// rhos are took × speed / EstCost of the job's completed runs, sorted;
	// scale is their median, 0 before the first (see Scheduler.learn).
	rhos  []float64
	scale float64
}

type unit struct {
	id       UnitID
	spec     UnitSpec
	job      *job
	runs     []*run
	missing  int  // runs to start now
	queued   bool // in job.queue
	retry    bool // placed again after a failure or disagreement
	accepted bool
	output   cid.Cid
	agreeing []peer.ID
	failures []Failure
	rejected []rejection
	replicas int // next replica number
	backups  int // backup runs started
	extra    int // replicas (and votes) added because a run went to a low-score worker
	endedAt  time.Time
}

type rejection struct {
	worker peer.ID
	reason RejectReason
	detail string
}

type runState int

const (
	runAssigned runState = iota
	runRunning
	runDone
	runFailed
	runCancelled
)

type run struct {
	u            *unit
	w            *worker
	replica      int
	state        runState
	assignSeq    uint64
	assignedAt   time.Time
	lastProgress time.Time
	deadline     time.Time
	estEnd       time.Time
	endedAt      time.Time
	output       cid.Cid
	note         string // why it ended, for Why
	busy         bool   // ended by a busy rejection: the worker may get the unit later
	kind         string // "backup" for an end-game backup run, else ""
}

type ask struct {
	job   JobID
	seq   uint64
	until time.Time
}

// popAsk removes the oldest outstanding request for job and returns its
// sequence number.
func (w *worker) popAsk(job JobID) (seq uint64, ok bool) {
	i := slices.IndexFunc(w.asks, func(a ask) bool { return a.job == job })
	if i < 0 {
		return 0, false
	}
	seq = w.asks[i].seq
	w.asks = slices.Delete(w.asks, i, i+1)
	return seq, true
}

func (r *run) active() bool { return r.state == runAssigned || r.state == runRunning }

type worker struct {
	id   peer.ID
	lost bool

	// Latest bid.
	hasBid    bool
	slots     int
	freeSlots int
	queueLen  int
	bidSpeed  float64
	maxMemory uint64
	bidAt     time.Time
	bidErr    string

	// Slot accounting against the latest bid: runs assigned at or after
	// cutoff were unknown to the worker when it bid (post); runs before it
	// were counted busy by the worker, and each one that ends since frees a
	// slot (freed).
	cutoff uint64
	post   int
	freed  int
	busy   bool // rejected a unit as busy since the latest bid

	// Bid requests not answered yet, oldest first. A worker answers in
	// order, so a bid answers the oldest; the worker counted every run
	// assigned before that request.
	asks []ask

	held     map[cid.Cid]int64 // bytes held of each input; 0: all of it
	inflight []*run            // in assignment order

	avoidUntil   time.Time // lost a vote
	backoffUntil time.Time // stalled or missed a deadline

	measured  float64
	nMeasured int

	// Link rate: measured from the worker's input fetches, and as its
	// latest bid stated it.
	link    LinkMeter
	bidLink float64

	lo, hi float64 // range of the speeds measured on all workers; hi 0 when none

	// score is the worker's local reputation in (0, 1]: halved each time
	// its output loses a vote, raised by scoreRecover per agreeing result.
	score float64

	completed, failed, outvoted, stalled, lostCount, rejected int

	// Placement scratch, valid during one pass.
	usable bool
	ends   []float64 // predicted ends of our runs, seconds from now, sorted
	pfree  int       // free slots left for us, negative when queued
	age    float64   // seconds since the latest bid
}

// New returns a Scheduler with no jobs and no workers. rng supplies every
// random choice (near-tie breaking); seed it, and log the seed, for
// reproducible runs. New returns an error if cfg is invalid or rng is nil.
func New(cfg Config, rng *rand.Rand) (*Scheduler, error) {
	if rng == nil {
		return nil, errors.New("sched: nil rng")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Scheduler{
		cfg:     c,
		rng:     rng,
		jobs:    make(map[JobID]*job),
		workers: make(map[peer.ID]*worker),
		scale:   1,
		sizes:   make(map[cid.Cid]int64),
	}, nil
}

// Config returns the configuration in use, defaults filled in.
func (s *Scheduler) Config() Config { return s.cfg }

func (s *Scheduler) next() uint64 {
	s.seq++
	return s.seq
}

func (s *Scheduler) see(t time.Time) {
	if t.After(s.clock) {
		s.clock = t
	}
}

func (s *Scheduler) emit(a Action) { s.out = append(s.out, a) }

// Observe feeds one event into the scheduler. Its consequences appear in the
// next call to Next. Events about runs the scheduler no longer tracks (late,
// duplicate, or from a peer it never assigned) are ignored. Observe returns
// an error only for misuse: a malformed or duplicate JobSubmitted
// (ErrInvalidJob, ErrDuplicateJob), a JobWithdrawn for an unknown job
// (ErrUnknownJob), or an unknown event type.
func (s *Scheduler) Observe(ev Event) error {
	s.next()
	switch ev := ev.(type) {
	case JobSubmitted:
		return s.submit(ev)
	case WorkersDiscovered:
		for _, id := range ev.Workers {
			if id == "" {
				continue
			}
			w := s.worker(id)
			if w.lost {
				s.revive(w)
			}
		}
	case BidReceived:
		s.bid(ev)
	case BidFailed:
		if w := s.workers[ev.Worker]; w != nil {
			w.popAsk(ev.Job)
			w.hasBid = false
			w.bidErr = "bid failed"
			if ev.Err != nil {
				w.bidErr = "bid failed: " + ev.Err.Error()
			}
			s.answered(w)
		}
	case UnitAccepted:
		if r := s.findRun(ev.Unit, ev.Worker); r != nil {
			s.see(ev.At)
			r.state = runRunning
			if ev.At.After(r.lastProgress) {
				r.lastProgress = ev.At
			}
		}
	case UnitProgressed:
		if r := s.findRun(ev.Unit, ev.Worker); r != nil {
			s.see(ev.At)
			if ev.At.After(r.lastProgress) {
				r.lastProgress = ev.At
			}
		}
	case UnitRejected:
		if r := s.findRun(ev.Unit, ev.Worker); r != nil {
			s.reject(r, ev)
		}
	case UnitCompleted:
		if r := s.findRun(ev.Unit, ev.Worker); r != nil {
			s.see(ev.At)
			s.complete(r, ev)
		}
	case UnitFailed:
		if r := s.findRun(ev.Unit, ev.Worker); r != nil {
			s.see(ev.At)
			s.fail(r, FailedOnWorker, ev.Reason, ev.Deterministic)
		}
	case WorkerLost:
		if w := s.workers[ev.Worker]; w != nil && !w.lost {
			s.lose(w)
		}
	case JobWithdrawn:
		j := s.jobs[ev.Job]
		if j == nil {
			return fmt.Errorf("cancel job %q: %w", ev.Job, ErrUnknownJob)
		}
		if j.status == jobActive {
			j.status = jobCancelled
			j.endedAt = s.clock
			s.stopJob(j, "job cancelled")
		}
	case nil:
		return errors.New("sched: nil event")
	default:
		return fmt.Errorf("sched: unknown event type %T", ev)
	}
	return nil
}

func (s *Scheduler) submit(ev JobSubmitted) error {
	if ev.Job == "" {
		return fmt.Errorf("%w: empty job ID", ErrInvalidJob)
	}
	if _, ok := s.jobs[ev.Job]; ok {
		return fmt.Errorf("submit job %q: %w", ev.Job, ErrDuplicateJob)
	}
	if len(ev.Units) == 0 {
		return fmt.Errorf("%w: job %q: no units", ErrInvalidJob, ev.Job)
	}
	if ev.Replicas < 0 {
		return fmt.Errorf("%w: job %q: Replicas must be >= 0", ErrInvalidJob, ev.Job)
	}
	k := max(ev.Replicas, 1)
	j := &job{
		id:       ev.Job,
		replicas: k,
		quorum:   k/2 + 1,
		units:    make([]*unit, len(ev.Units)),
		asked:    make(map[peer.ID]bool),
		awaiting: make(map[peer.ID]bool),
	}
	for i, spec := range ev.Units {
		c := spec.EstCost
		if math.IsNaN(c) || math.IsInf(c, 0) || c < 0 {
			return fmt.Errorf("%w: job %q: unit %d: EstCost must be a finite number >= 0", ErrInvalidJob, ev.Job, i)
		}
		for n, in := range spec.Inputs {
			if in.Bytes < 0 {
				return fmt.Errorf("%w: job %q: unit %d: input %d: Bytes must be >= 0", ErrInvalidJob, ev.Job, i, n)
			}
		}
		if spec.Limits.WallTime < 0 {
			return fmt.Errorf("%w: job %q: unit %d: WallTime must be >= 0", ErrInvalidJob, ev.Job, i)
		}
		spec.Inputs = slices.Clone(spec.Inputs)
		j.units[i] = &unit{id: UnitID{ev.Job, i}, spec: spec, job: j, missing: k}
	}
	j.queue = slices.Clone(j.units)
	slices.SortStableFunc(j.queue, cmpQueue)
	for _, u := range j.queue {
		u.queued = true
	}
	s.jobs[j.id] = j
	s.jobList = append(s.jobList, j)
	return nil
}

// cmpQueue orders units for placement: units placed again first (they hold
// back a unit that is otherwise under way), then the largest first (so the
// long ones do not end up last and set the makespan), then by index.
func cmpQueue(a, b *unit) int {
	if a.retry != b.retry {
		if a.retry {
			return -1
		}
		return 1
	}
	if a.spec.EstCost != b.spec.EstCost {
		if a.spec.EstCost > b.spec.EstCost {
			return -1
		}
		return 1
	}
	return a.id.Index - b.id.Index
}

func (s *Scheduler) enqueue(u *unit) {
	if u.queued {
		return
	}
	j := u.job
	i, _ := slices.BinarySearchFunc(j.queue, u, cmpQueue)
	j.queue = slices.Insert(j.queue, i, u)
	u.queued = true
}

// worker returns the worker for id, adding it if needed.
func (s *Scheduler) worker(id peer.ID) *worker {
	if w := s.workers[id]; w != nil {
		return w
	}
	w := &worker{id: id, held: make(map[cid.Cid]int64), score: 1}
	s.workers[id] = w
	i, _ := slices.BinarySearchFunc(s.wlist, id, func(w *worker, id peer.ID) int { return strings.Compare(string(w.id), string(id)) })
	s.wlist = slices.Insert(s.wlist, i, w)
	return w
}

func (s *Scheduler) revive(w *worker) {
	w.lost = false
	w.hasBid = false
	w.bidErr = ""
	for _, j := range s.jobList {
		delete(j.asked, w.id)
	}
}

func (s *Scheduler) bid(ev BidReceived) {
	if ev.Worker == "" {
		return
	}
	s.see(ev.At)
	w := s.worker(ev.Worker)
	if w.lost {
		s.revive(w)
	}
	// An unsolicited bid (or one past its deadline) may have been measured
	// at any time: count all our runs as unknown to it, which can only
	// underestimate its room.
	cutoff, _ := w.popAsk(ev.Job)
	s.answered(w)
	sized := len(ev.HeldBytes) == len(ev.HasInputs)
	for i, c := range ev.HasInputs {
		var n int64
		if sized {
			n = max(ev.HeldBytes[i], 0)
			if n > 0 {
				n := min(n, maxClaimedBytes)
				if old, ok := s.sizes[c]; !ok || n < old {
					s.sizes[c] = n
				}
			}
		}
		if old, ok := w.held[c]; ok && (old == 0 || n != 0 && old > n) {
			n = old // held in full already, or more of it
		}
		w.held[c] = n
	}
	if math.IsNaN(ev.Speed) || math.IsInf(ev.Speed, 0) || ev.Speed <= 0 || ev.FreeSlots < 0 || ev.QueueLen < 0 {
		w.hasBid = false
		w.bidErr = "bid unusable: bad speed or slot counts"
		return
	}
	w.hasBid = true
	w.bidErr = ""
	w.freeSlots = min(ev.FreeSlots, maxSlots)
	w.slots = min(max(ev.Slots, w.freeSlots, 1), maxSlots)
	w.queueLen = ev.QueueLen
	w.bidSpeed = ev.Speed
	w.maxMemory = ev.MaxMemory
	if r := ev.LinkRate; r > 0 && !math.IsInf(r, 0) { // NaN fails r > 0
		w.bidLink = min(max(r, MinLinkRate), MaxLinkRate)
	}
	w.bidAt = ev.At
	if w.bidAt.IsZero() {
		w.bidAt = s.clock
	}
	w.cutoff = cutoff
	w.freed = 0
	w.busy = false
	w.post = 0
	for _, r := range w.inflight {
		if r.assignSeq >= cutoff {
			w.post++
		}
	}
}

// answered takes w off every job's list of awaited bids.
func (s *Scheduler) answered(w *worker) {
	for _, j := range s.jobList {
		delete(j.awaiting, w.id)
	}
}

func (s *Scheduler) findRun(id UnitID, w peer.ID) *run {
	j := s.jobs[id.Job]
	if j == nil || j.status != jobActive || id.Index < 0 || id.Index >= len(j.units) {
		return nil
	}
	for _, r := range j.units[id.Index].runs {
		if r.w.id == w && r.active() {
			return r
		}
	}
	return nil
}

// end takes r off its worker's in-flight list and gives its slot back.
func (s *Scheduler) end(r *run, st runState, note string) {
	r.state = st
	r.endedAt = s.clock
	r.note = note
	w := r.w
	if i := slices.Index(w.inflight, r); i >= 0 {
		w.inflight = slices.Delete(w.inflight, i, i+1)
	}
	if r.assignSeq >= w.cutoff {
		w.post--
	} else {
		w.freed++
	}
}

func (s *Scheduler) reject(r *run, ev UnitRejected) {
	w := r.w
	w.rejected++
	note := "rejected: " + ev.Reason.String()
	if ev.Detail != "" {
		note += ": " + ev.Detail
	}
	s.end(r, runCancelled, note)
	if ev.Reason == RejectBusy {
		r.busy = true
		// The worker is full now: count every run of ours there as known to
		// it, and give it no more until one of them ends or it bids again.
		w.freeSlots = 0
		w.queueLen = 0
		w.cutoff = s.seq
		w.post = 0
		w.freed = 0
		w.busy = true
		w.bidAt = time.Time{} // refresh at the next rebid
	} else {
		r.u.rejected = append(r.u.rejected, rejection{w.id, ev.Reason, ev.Detail})
	}
	s.settle(r.u)
}

func (s *Scheduler) complete(r *run, ev UnitCompleted) {
	w := r.w
	r.output = ev.Output
	s.end(r, runDone, "")
	w.completed++
	if ev.Took > 0 && r.u.spec.EstCost > 0 {
		s.learn(r, ev.Took.Seconds())
	}
	w.link.Add(ev.FetchedBytes, ev.FetchTook)
	s.settle(r.u)
}

// Link rate measurement (see the package doc, Data locality).
const (
	// MinLinkSample is the fewest bytes a fetch must have moved to count
	// as a sample of a worker's link rate. A smaller fetch is mostly
	// latency (the provider lookup, bitswap's want-have and want-block
	// round trips: tens of milliseconds to a second before the first byte
	// comes), and its bytes over its time would understate the rate at
	// which the large inputs, the only ones whose transfer matters to
	// placement, move. At 100 Mbit/s 1 MiB takes 84 ms.
	MinLinkSample = 1 << 20
	// MinLinkRate and MaxLinkRate bound a worker's link rate, as sampled
	// or bid (10 kB/s: a modem; 12.5 GB/s: 100 Gbit/s), so that a report
	// of 0 bytes, a nanosecond or a petabyte never makes a rate 0, NaN or
	// infinite (a held input of unknown size, at most maxClaimedBytes,
	// takes at most 30 h at MinLinkRate; times are capped at maxSeconds).
	MinLinkRate = 1e4
	MaxLinkRate = 12.5e9
	// linkWeight is the weight of the newest fetch in the decayed sums.
	linkWeight = 0.3
)

// LinkMeter measures a link's rate from the fetches made over it: the
// decayed sum of the bytes fetched over the decayed sum of the seconds they
// took, so that each fetch weighs by its bytes (a large fetch says more
// about the rate than a small one) and older ones fade by 1-0.3 per fetch.
// A fetch under MinLinkSample is ignored; a sample weighs at most 1 GiB and
// its rate is held within [MinLinkRate, MaxLinkRate] first, so one absurd
// report moves the figure at most to a bound. The zero value has no
// sample. Workers keep one for the LinkRate of their bids
// (compute.Worker); the scheduler keeps one per worker.
type LinkMeter struct {
	bytes, secs float64
}

// Add adds a fetch of n bytes that took d.
func (m *LinkMeter) Add(n int64, d time.Duration) {
	if n < MinLinkSample || d <= 0 {
		return
	}
	r := min(max(float64(n)/d.Seconds(), MinLinkRate), MaxLinkRate)
	b := float64(min(n, maxClaimedBytes))
	m.bytes = (1-linkWeight)*m.bytes + b
	m.secs = (1-linkWeight)*m.secs + b/r
}

// Rate returns the measured rate in bytes per second, within
// [MinLinkRate, MaxLinkRate], or 0 before the first sample.
func (m *LinkMeter) Rate() float64 {
	if m.secs <= 0 {
		return 0
	}
	return min(max(m.bytes/m.secs, MinLinkRate), MaxLinkRate)
}

// linkRate is the rate in bytes per second at which w is predicted to
// fetch inputs: as measured from its fetches, else as its bid said, else
// def (Config.TransferRate).
func (w *worker) linkRate(def float64) float64 {
	switch {
	case w.link.Rate() > 0:
		return w.link.Rate()
	case w.bidLink > 0:
		return w.bidLink
	}
	return def
}

// learn updates r's worker's speed and r's job's scale from a completed run
// that took took seconds of compute.
//
// A unit's EstCost is only comparable with the EstCosts of its own job (same
// module, same cost model): a reduce, or any job whose costs are off by a
// constant factor, would otherwise make the worker that ran it look that
// factor faster. So each job has its own scale, the seconds one unit of its
// EstCost takes at speed 1, estimated as the median over its completed runs
// of took × speed / EstCost; and a run teaches its worker only its speed
// relative to that job's other runs: EstCost × scale / took. The first run
// of a job has nothing to be compared with and sets the scale only, unless
// no worker has been measured at all yet: then there is no scale to keep
// and EstCost is taken in the bids' units (scale 1, or the last job's).
// A sample may move a measured speed by at most maxSpeedStep either way
// before averaging, so that one odd run (a cached output, a unit whose cost
// estimate is wrong by orders of magnitude) cannot make a worker look many
// times faster or slower.
func (s *Scheduler) learn(r *run, took float64) {
	w, j, est := r.w, r.u.job, r.u.spec.EstCost
	ref := j.scale
	if ref == 0 && !s.anyMeasured() {
		ref = s.scale
	}
	if ref > 0 {
		v := est * ref / took
		if w.nMeasured == 0 {
			w.measured = v
		} else {
			v = min(max(v, w.measured/maxSpeedStep), w.measured*maxSpeedStep)
			w.measured = speedWeight*v + (1-speedWeight)*w.measured
		}
		w.nMeasured++
	}
	rho := took * w.speed() / est
	if math.IsNaN(rho) || math.IsInf(rho, 0) || rho <= 0 {
		return
	}
	i, _ := slices.BinarySearch(j.rhos, rho)
	j.rhos = slices.Insert(j.rhos, i, rho)
	n := len(j.rhos)
	j.scale = j.rhos[n/2]
	if n%2 == 0 {
		j.scale = (j.rhos[n/2-1] + j.rhos[n/2]) / 2
	}
	if n >= 2 {
		s.scale = j.scale
	}
}

// anyMeasured reports whether some worker has a measured speed.
func (s *Scheduler) anyMeasured() bool {
	for _, w := range s.wlist {
		if w.nMeasured > 0 && w.measured > 0 {
			return true
		}
	}
	return false
}

// cost is u's EstCost in seconds at speed 1: scaled by its job's scale (see
// learn), or, before the job has one, by the last job's.
func (s *Scheduler) cost(u *unit) float64 {
	if u.job.scale > 0 {
		return u.spec.EstCost * u.job.scale
	}
	return u.spec.EstCost * s.scale
}

func (s *Scheduler) fail(r *run, kind FailureKind, reason string, deterministic bool) {
	u := r.u
	r.w.failed++
	note := kind.String() + ": " + reason
	if deterministic {
		note += " (deterministic)"
	}
	s.end(r, runFailed, note)
	u.failures = append(u.failures, Failure{
		Unit:          u.id,
		Worker:        r.w.id,
		Kind:          kind,
		Reason:        reason,
		Deterministic: deterministic,
		At:            s.clock,
	})
	u.retry = true
	s.settle(u)
}

func (s *Scheduler) lose(w *worker) {
	w.lost = true
	w.hasBid = false
	w.asks = nil
	w.lostCount++
	s.answered(w)
	for _, r := range slices.Clone(w.inflight) {
		if r.active() {
			s.fail(r, FailedLost, "worker lost", false)
		}
	}
}

// tally groups the outputs of u's finished runs, in the order the runs
// started, and returns the groups and the index of the largest (first wins).
func tally(u *unit) (groups []group, lead int) {
	for _, r := range u.runs {
		if r.state != runDone {
			continue
		}
		i := slices.IndexFunc(groups, func(g group) bool { return g.output.Equals(r.output) })
		if i < 0 {
			groups = append(groups, group{output: r.output})
			i = len(groups) - 1
		}
		groups[i].workers = append(groups[i].workers, r.w.id)
	}
	lead = -1
	for i, g := range groups {
		if lead < 0 || len(g.workers) > len(groups[lead].workers) {
			lead = i
		}
	}
	return groups, lead
}

type group struct {
	output  cid.Cid
	workers []peer.ID
}

// settle decides what u needs after one of its runs changed: accept a
// result, fail the job, or start more runs.
func (s *Scheduler) settle(u *unit) {
	j := u.job
	if j.status != jobActive || u.accepted {
		return
	}
	groups, lead := tally(u)
	leadN := 0
	if lead >= 0 {
		leadN = len(groups[lead].workers)
	}
	quorum, replicas := j.quorum+u.extra, j.replicas+u.extra
	if leadN >= quorum {
		s.accept(u, groups, lead)
		return
	}
	if len(u.failures) >= s.cfg.MaxAttempts {
		s.failJob(j, u, fmt.Sprintf("unit %s failed on %d workers", u.id, len(u.failures)))
		return
	}
	done, active := 0, 0
	for _, r := range u.runs {
		switch {
		case r.state == runDone:
			done++
		case r.active():
			active++
		}
	}
	want := max(replicas-done, quorum-leadN)
	budget := replicas + max(s.cfg.MaxExtraReplicas, 0) - done - active
	u.missing = max(min(want-active, budget), 0)
	if u.missing == 0 && active == 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "unit %s: no majority of %d among %d results:", u.id, quorum, done)
		for _, g := range groups {
			fmt.Fprintf(&b, " %s×%d", g.output, len(g.workers))
		}
		s.failJob(j, u, b.String())
		return
	}
	if u.missing > 0 {
		if done > 0 {
			u.retry = true
		}
		s.enqueue(u)
	}
}

func (s *Scheduler) accept(u *unit, groups []group, lead int) {
	j := u.job
	win := groups[lead]
	u.accepted = true
	u.missing = 0
	u.output = win.output
	u.agreeing = slices.Clone(win.workers)
	u.endedAt = s.clock
	s.emit(AcceptResult{Unit: u.id, Output: win.output, Agreeing: slices.Clone(win.workers)})
	if len(groups) > 1 || len(win.workers) > 1 {
		// Only a result checked against another one earns trust back.
		for _, id := range win.workers {
			w := s.workers[id]
			w.score = min(1, w.score+scoreRecover)
		}
	}
	for i, g := range groups {
		if i == lead {
			continue
		}
		for _, id := range g.workers {
			w := s.workers[id]
			w.outvoted++
			w.score = max(w.score/2, minScore)
			w.avoidUntil = s.clock.Add(s.cfg.AvoidFor)
			s.emit(RecordFaulty{
				Worker: id,
				Unit:   u.id,
				Reason: fmt.Sprintf("output %s outvoted by %s from %d workers", g.output, win.output, len(win.workers)),
			})
		}
	}
	s.cancelRuns(u, "result accepted")
	j.accepted++
	if j.accepted == len(j.units) {
		j.status = jobDone
		j.endedAt = s.clock
		j.queue = nil
		j.outputs = make([]cid.Cid, len(j.units))
		for i, u := range j.units {
			j.outputs[i] = u.output
		}
		s.emit(FinishJob{Job: j.id, Outputs: slices.Clone(j.outputs)})
	}
}

func (s *Scheduler) cancelRuns(u *unit, reason string) {
	for _, r := range u.runs {
		if r.active() {
			s.end(r, runCancelled, reason)
			s.emit(CancelUnit{Unit: u.id, Worker: r.w.id, Reason: reason})
		}
	}
}

func (s *Scheduler) failJob(j *job, u *unit, reason string) {
	j.status = jobFailed
	j.endedAt = s.clock
	j.failed = &FailJob{Job: j.id, Unit: u.id, Reason: reason, Failures: slices.Clone(u.failures)}
	s.emit(*j.failed)
	s.stopJob(j, "job failed")
}

func (s *Scheduler) stopJob(j *job, reason string) {
	for _, u := range j.units {
		s.cancelRuns(u, reason)
		u.queued = false
		u.missing = 0
	}
	j.queue = nil
	j.window = false
	clear(j.awaiting)
}

// Forget drops a finished job (done, failed or cancelled) and everything
// kept about it for Why and Units. It returns ErrUnknownJob for a job the
// Scheduler does not hold, and an error for a job still active: cancel it
// first.
func (s *Scheduler) Forget(id JobID) error {
	j := s.jobs[id]
	if j == nil {
		return fmt.Errorf("forget job %q: %w", id, ErrUnknownJob)
	}
	if j.status == jobActive {
		return fmt.Errorf("sched: forget job %q: still active", id)
	}
	delete(s.jobs, id)
	s.jobList = slices.DeleteFunc(s.jobList, func(x *job) bool { return x == j })
	return nil
}

// Next returns what to do now: the consequences of the events observed since
// the last call, then whatever the passage of time calls for (bid rounds
// closing, stalled or late runs, re-bids), then new placements. The caller
// carries the actions out in order. now earlier than a time already seen is
// taken as that time. The returned slice belongs to the caller.
func (s *Scheduler) Next(now time.Time) []Action {
	s.see(now)
	now = s.clock
	s.timers(now)
	s.requestBids(now)
	s.place(now)
	s.needWorkers(now)
	out := s.out
	s.out = nil
	return out
}

// timers handles bid timeouts, stalled runs and missed deadlines.
func (s *Scheduler) timers(now time.Time) {
	for _, w := range s.wlist {
		if len(w.asks) > 0 && !now.Before(w.asks[0].until) {
			for len(w.asks) > 0 && !now.Before(w.asks[0].until) {
				w.asks = w.asks[1:]
			}
			if !w.hasBid {
				w.bidErr = "no bid within " + s.cfg.BidTimeout.String()
			}
			s.answered(w)
		}
	}
	for _, j := range s.jobList {
		if j.window && (len(j.awaiting) == 0 || !now.Before(j.windowUntil)) {
			j.window = false
		}
	}
	type expiry struct {
		r    *run
		kind FailureKind
		why  string
	}
	var late []expiry
	for _, w := range s.wlist {
		for _, r := range w.inflight {
			switch {
			case now.After(r.deadline):
				late = append(late, expiry{r, FailedDeadline, "still running at deadline " + r.deadline.Format(time.RFC3339)})
			case now.Sub(r.lastProgress) > s.cfg.StallTimeout:
				late = append(late, expiry{r, FailedStalled, "no progress for " + now.Sub(r.lastProgress).String()})
			}
		}
	}
	for _, e := range late {
		if !e.r.active() {
			continue // its job ended meanwhile
		}
		w := e.r.w
		w.stalled++
		w.backoffUntil = now.Add(s.cfg.BackoffFor)
		s.emit(CancelUnit{Unit: e.r.u.id, Worker: w.id, Reason: e.kind.String()})
		s.fail(e.r, e.kind, e.why, false)
	}
}

// askable reports whether w may be sent a bid request.
func (s *Scheduler) askable(w *worker, now time.Time) bool {
	return !w.lost && !now.Before(w.avoidUntil) && !now.Before(w.backoffUntil)
}

func (s *Scheduler) requestBids(now time.Time) {
	for _, j := range s.jobList {
		if j.status != jobActive {
			continue
		}
		var fresh []peer.ID
		for _, w := range s.wlist {
			if !j.asked[w.id] && s.askable(w, now) {
				fresh = append(fresh, w.id)
			}
		}
		first := !j.started
		if first {
			j.started = true
			j.submittedAt = now
			j.lastRebid = now
		}
		if len(fresh) > 0 {
			s.ask(j, fresh, now)
			// Wait for these bids before placing only if nothing of the job
			// is placed yet; otherwise they are welcome whenever they come.
			if first || (!j.window && !j.hasRuns()) {
				j.window = true
				j.windowUntil = now.Add(s.cfg.BidTimeout)
				for _, id := range fresh {
					j.awaiting[id] = true
				}
			}
		}
		if len(j.queue) > 0 && !now.Before(j.lastRebid.Add(s.cfg.RebidInterval)) {
			j.lastRebid = now
			var stale []peer.ID
			for _, w := range s.wlist {
				if j.asked[w.id] && len(w.asks) == 0 && s.askable(w, now) &&
					(!w.hasBid || w.busy || !now.Before(w.bidAt.Add(s.cfg.RebidInterval/2))) {
					stale = append(stale, w.id)
				}
			}
			if len(stale) > 0 {
				s.ask(j, stale, now)
			}
		}
	}
}

func (s *Scheduler) ask(j *job, ids []peer.ID, now time.Time) {
	deadline := now.Add(s.cfg.BidTimeout)
	seq := s.next()
	for _, id := range ids {
		w := s.workers[id]
		j.asked[id] = true
		w.asks = append(w.asks, ask{job: j.id, seq: seq, until: deadline})
	}
	s.emit(RequestBids{Job: j.id, Workers: ids, Deadline: deadline})
}

func (j *job) hasRuns() bool {
	for _, u := range j.units {
		for _, r := range u.runs {
			if r.active() {
				return true
			}
		}
	}
	return false
}

// needWorkers emits NeedWorkers for jobs in which the placement pass found
// a unit nobody known can take.
func (s *Scheduler) needWorkers(now time.Time) {
	for _, j := range s.jobList {
		if j.status != jobActive || j.needy == nil {
			continue
		}
		if j.needSent && now.Before(j.lastNeed.Add(s.cfg.RebidInterval)) {
			continue
		}
		j.needSent = true
		j.lastNeed = now
		s.emit(NeedWorkers{Job: j.id, Wait: s.classify(j.needy, now)})
	}
}

// WakeAt returns the earliest time at which Next has work to do even if no
// event arrives: a bid round closing, a run's stall timeout or deadline, a
// re-bid, or a worker's avoidance ending. ok is false when nothing is timed.
// When Observe has produced actions, WakeAt returns the latest time seen.
func (s *Scheduler) WakeAt() (t time.Time, ok bool) {
	consider := func(x time.Time) {
		if !ok || x.Before(t) {
			t, ok = x, true
		}
	}
	if len(s.out) > 0 {
		consider(s.clock)
	}
	waiting := false
	for _, j := range s.jobList {
		if j.status != jobActive {
			continue
		}
		if !j.started {
			consider(s.clock)
		}
		if j.window {
			consider(j.windowUntil)
		}
		if len(j.queue) > 0 {
			waiting = true
			consider(j.lastRebid.Add(s.cfg.RebidInterval))
			if j.needSent && j.needy != nil {
				consider(j.lastNeed.Add(s.cfg.RebidInterval))
			}
		}
	}
	if !s.waitAt.IsZero() && waiting {
		consider(s.waitAt)
	}
	if !s.backupAt.IsZero() {
		consider(s.backupAt)
	}
	for _, w := range s.wlist {
		if len(w.asks) > 0 {
			consider(w.asks[0].until)
		}
		for _, r := range w.inflight {
			consider(r.deadline.Add(time.Nanosecond))
			consider(r.lastProgress.Add(s.cfg.StallTimeout + time.Nanosecond))
		}
		if waiting {
			if w.avoidUntil.After(s.clock) {
				consider(w.avoidUntil)
			}
			if w.backoffUntil.After(s.clock) {
				consider(w.backoffUntil)
			}
		}
	}
	return t, ok
}
