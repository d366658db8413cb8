package compute

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/enxame/enxame/compute/sched"
	"github.com/enxame/enxame/compute/wire"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Defaults of SubmitterConfig.
const (
	DefaultDiscoverCount   = 32
	DefaultDiscoverTimeout = 10 * time.Second
	DefaultMaxSplitBytes   = 1 << 30
	DefaultWatchBuffer     = 4096
	DefaultSaveInterval    = time.Second
)

// Submitter errors.
var (
	// ErrUnknownJob means no job of this submitter has the ID.
	ErrUnknownJob = errors.New("compute: unknown job")
	// ErrJobNotDone means the job has no result yet (or never will: it
	// failed or was cancelled; Status says which).
	ErrJobNotDone = errors.New("compute: job not done")
	// ErrStopped means the submitter's Run has ended.
	ErrStopped = errors.New("compute: submitter stopped")
	// ErrJobEnded is returned by Cancel of a job already done, failed or
	// cancelled.
	ErrJobEnded = errors.New("compute: job already ended")
)

// SubmitterConfig configures a Submitter. A zero field means its default.
type SubmitterConfig struct {
	// Sched tunes the scheduler core (bid timeout, retries, stall timeout,
	// replicas' extra runs, ...); see sched.Config.
	Sched sched.Config
	// UnitTimeout is a unit's wall time when its job states none. Default
	// DefaultUnitTimeout (60s).
	UnitTimeout time.Duration
	// RequestTimeout bounds a bid request and the write of a unit. Default
	// DefaultRequestTimeout (10s).
	RequestTimeout time.Duration
	// DiscoverCount is how many workers one DHT lookup asks for. Default 32.
	DiscoverCount int
	// DiscoverTimeout bounds one lookup of workers. Default 10s.
	DiscoverTimeout time.Duration
	// MaxSplitBytes caps the input a job may split (it is read into
	// memory). Default 1 GiB.
	MaxSplitBytes int64
	// WatchBuffer is how many events a watcher may fall behind before its
	// channel is closed, and how many past events of a job are replayed
	// to a new watcher. Default 4096.
	WatchBuffer int
	// Seed seeds the scheduler's random tie-breaking; 0 picks one at random
	// (logged).
	Seed uint64
	// Replicas is the trust setting of a job that states none (JobSpec.
	// Replicas 0): how many distinct workers run each unit, the output a
	// majority agree on being accepted. 1 accepts one worker's word
	// unverified. Default 1.
	Replicas int
	// SaveInterval is how long a job's record may lag behind its accepted
	// units: a unit's acceptance marks the record stale and it is written
	// at most this long after, once for all the units accepted meanwhile
	// (the record holds every unit, so one write per unit is quadratic in
	// the job's size). Submission, the end of a job and Run's end write it
	// at once. A unit accepted but not yet written when the process dies
	// runs again after the restart. Default DefaultSaveInterval (1s).
	SaveInterval time.Duration
}

func (c *SubmitterConfig) fill() {
	setDefault(&c.UnitTimeout, DefaultUnitTimeout)
	setDefault(&c.RequestTimeout, DefaultRequestTimeout)
	setDefault(&c.DiscoverCount, DefaultDiscoverCount)
	setDefault(&c.DiscoverTimeout, DefaultDiscoverTimeout)
	setDefault(&c.MaxSplitBytes, DefaultMaxSplitBytes)
	setDefault(&c.WatchBuffer, DefaultWatchBuffer)
	setDefault(&c.SaveInterval, DefaultSaveInterval)
	setDefault(&c.Replicas, 1)
}

// DefaultSubmitterConfig returns the default configuration (Seed 0: random).
func DefaultSubmitterConfig() SubmitterConfig {
	c := SubmitterConfig{Sched: sched.DefaultConfig()}
	c.fill()
	return c
}

// SubmitterDeps are a Submitter's collaborators.
type SubmitterDeps struct {
	// Host opens compute streams to workers. Required.
	Host host.Host
	// Content splits inputs (Get, Put). Required.
	Content Content
	// Discovery finds workers under ComputeKey; nil means only connected
	// peers that speak ProtocolID are used.
	Discovery Discovery
	// Datastore keeps jobs and receipts across restarts. Required.
	Datastore datastore.Batching
	// Local, when set, is this peer's own worker: the submitter counts it
	// among the workers and reaches it through an in-process pipe (libp2p
	// cannot open a stream to its own peer). Nil means only other peers
	// run this peer's units.
	Local *Worker
	// Logger receives the submitter's logs; nil discards them.
	Logger *slog.Logger
	// Metrics, if not nil, counts jobs and their latency.
	Metrics *Metrics
}

// EventKind names a progress event.
type EventKind string

// Progress events of a job and its units.
const (
	EventSubmitted    EventKind = "submitted" // the job was accepted
	EventQueued       EventKind = "queued"    // a unit waits for a worker
	EventPlaced       EventKind = "placed"    // a run was sent to Worker
	EventRunning      EventKind = "running"   // Worker started the run
	EventDone         EventKind = "done"      // Worker returned Output (signed)
	EventVerified     EventKind = "verified"  // the unit's Output is accepted
	EventRetried      EventKind = "retried"   // a run failed (Detail); the unit is placed again
	EventRejected     EventKind = "rejected"  // Worker refused the run (Detail)
	EventFaulty       EventKind = "faulty"    // Worker's output lost the vote
	EventJobDone      EventKind = "job-done"  // Output: JobInfo.Output, else ResultDir
	EventJobFailed    EventKind = "job-failed"
	EventJobCancelled EventKind = "job-cancelled"
)

// Event is one progress event, for the CLI's NDJSON progress. Unit is -1 for
// job events.
type Event struct {
	Job    JobID     `json:"job"`
	Unit   int       `json:"unit"`
	Kind   EventKind `json:"event"`
	Worker peer.ID   `json:"worker,omitempty"`
	Output cid.Cid   `json:"output,omitzero"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// JobState says where a job stands: the vocabulary of compute/sched, shared
// (see the glossary in doc.go).
type JobState = sched.JobState

// States of a job.
const (
	JobActive    = sched.JobActive
	JobDone      = sched.JobDone
	JobFailed    = sched.JobFailed
	JobCancelled = sched.JobCancelled
)

// UnitState says where a unit stands: the vocabulary of compute/sched,
// shared; sched.UnitWaiting is the reduce unit's before its inputs exist.
type UnitState = sched.UnitState

// UnitInfo is a snapshot of one unit.
type UnitInfo struct {
	Index  int       `json:"index"`
	Reduce bool      `json:"reduce,omitempty"`
	Status UnitState `json:"status"`
	Inputs []cid.Cid `json:"inputs"`
	Bytes  int64     `json:"bytes"`
	Args   []string  `json:"args,omitempty"`
	// Output is the accepted output; Receipts are the signed receipts of
	// the workers that agreed on it.
	Output   cid.Cid        `json:"output,omitzero"`
	Receipts []wire.Receipt `json:"receipts,omitempty"`
	// Faulty are workers whose output for this unit lost the vote.
	Faulty []peer.ID `json:"faulty,omitempty"`
	// Failures are the unit's failed runs ("worker: reason").
	Failures []string `json:"failures,omitempty"`
	// Stderr is the first lines of the standard error of the unit's last
	// failed run that wrote any (Submitter.Logs has all of it).
	Stderr string `json:"stderr,omitempty"`
	// File names the unit's output in the job's result directory when it
	// is not InputName(Index): its input's name (SplitEachInput of named
	// inputs). See OutputName.
	File string `json:"file,omitempty"`
}

// OutputName is the name of u's output in its job's result directory (and
// under the reduce unit's /input): File, or InputName(Index).
func (u *UnitInfo) OutputName() string {
	if u.File != "" {
		return u.File
	}
	return InputName(u.Index)
}

// JobInfo is a snapshot of a job.
type JobInfo struct {
	ID        JobID      `json:"id"`
	State     JobState   `json:"state"`
	Spec      JobSpec    `json:"spec"`
	Units     []UnitInfo `json:"units"`
	Submitted time.Time  `json:"submitted"`
	Ended     time.Time  `json:"ended,omitzero"`
	// Error says why a failed job failed.
	Error string `json:"error,omitempty"`
	// ResultDir is the UnixFS directory of every map unit's output, each
	// named by its OutputName, in unit order when named by index: the
	// reduce unit's input, and the job's result as one CID anyone can
	// fetch. It is set when the reduce starts, or when a job without one
	// is done.
	ResultDir cid.Cid `json:"result_dir,omitzero"`
}

// Output returns the job's result: the reduce unit's output, or the single
// unit's; undefined while the job is not done, or when several units have
// no reduce (see Outputs).
func (j *JobInfo) Output() cid.Cid {
	if j.State != JobDone || len(j.Units) == 0 {
		return cid.Undef
	}
	last := j.Units[len(j.Units)-1]
	if last.Reduce || len(j.Units) == 1 {
		return last.Output
	}
	return cid.Undef
}

// Outputs returns every unit's accepted output, by unit index (undefined for
// units without one).
func (j *JobInfo) Outputs() []cid.Cid {
	out := make([]cid.Cid, len(j.Units))
	for i, u := range j.Units {
		out[i] = u.Output
	}
	return out
}

// job is a submitter's record of a job; Info is persisted as a jobRecord
// (record.go).
type job struct {
	Info JobInfo

	phase sched.JobID // the scheduler job running now, if any
	round int         // scheduler jobs started so far
	// dirBuilding: the result directory is being stored; dirErr: storing
	// it failed (why).
	dirBuilding bool
	dirErr      string
	history     []Event
	// submitted is the job's EventSubmitted, replayed first to a new
	// watcher even once history has dropped it (a job of more units
	// than WatchBuffer queues them all at once).
	submitted Event
	logs      map[int]int // runs logged, by unit index
	watchers  []*watcher
	done      chan struct{} // closed when the job ends
	// staleSince is when the job's saved record started to lag behind its
	// units; zero when it is up to date.
	staleSince time.Time
}

type watcher struct {
	ch     chan Event
	closed bool
	stop   func() bool // stops the AfterFunc of the watch's ctx
}

// close closes w's channel once and drops its ctx hook.
func (w *watcher) close() {
	if w.closed {
		return
	}
	w.closed = true
	close(w.ch)
	if w.stop != nil {
		w.stop()
	}
}

// phase maps a scheduler job to the units of a job it runs.
type phase struct {
	job   JobID
	units []int // scheduler unit index → job unit index
}

// runKey names one run: a scheduler unit on a worker.
type runKey struct {
	unit   sched.UnitID
	worker peer.ID
}

// netEvent is what a network goroutine reports to the loop.
type netEvent struct {
	ev       sched.Event
	running  bool          // a Progress said the run has started
	receipt  *wire.Receipt // with a UnitCompleted
	log      *wire.Log     // with a UnitCompleted or a worker's UnitFailed
	release  func()        // with a UnitCompleted: drops the held output
	discover bool          // a discovery lookup ended
	dir      *dirResult    // a result directory was stored (or not)
}

// dirResult is how storing a job's result directory ended.
type dirResult struct {
	job JobID
	dir cid.Cid
	err error
}

// Submitter schedules this peer's jobs on the swarm's workers. It owns one
// sched.Scheduler in the goroutine of Run; every other method hands its
// request to that goroutine and blocks until Run serves it (or ctx ends).
// Its methods are safe for concurrent use.
type Submitter struct {
	cfg  SubmitterConfig
	deps SubmitterDeps
	log  *slog.Logger
	seed uint64

	reqs    chan func(ctx context.Context)
	events  chan netEvent
	stopped chan struct{}
	runOnce sync.Once

	// Owned by the Run goroutine.
	wg       *sync.WaitGroup // Run's: owns the goroutines the loop starts
	sch      *sched.Scheduler
	jobs     map[JobID]*job
	order    []JobID
	phases   map[sched.JobID]*phase
	runs     map[runKey]context.CancelFunc
	receipts map[runKey]*wire.Receipt
	// holds are the releases of the outputs held, unpinned, for units
	// whose vote is not decided (keepOutput).
	holds       map[sched.UnitID][]func()
	started     map[runKey]bool
	discovering bool
	// rediscover asks the loop for a worker lookup: set when a job phase
	// starts, since peers may have connected since the last one.
	rediscover bool
	forget     []sched.JobID // ended phases to Forget after the next Next
	// stale are the jobs whose saved record lags behind (see
	// SubmitterConfig.SaveInterval), in the order they became stale.
	stale []*job
}

// NewSubmitter returns a submitter; it serves nothing until Run.
func NewSubmitter(cfg SubmitterConfig, deps SubmitterDeps) (*Submitter, error) {
	cfg.fill()
	if deps.Host == nil || deps.Content == nil || deps.Datastore == nil {
		return nil, errors.New("compute: submitter deps: Host, Content and Datastore are required")
	}
	if cfg.UnitTimeout < 0 || cfg.RequestTimeout < 0 || cfg.DiscoverCount < 0 || cfg.DiscoverTimeout < 0 || cfg.MaxSplitBytes < 0 || cfg.WatchBuffer < 0 || cfg.SaveInterval < 0 {
		return nil, errors.New("compute: submitter config: negative field")
	}
	if cfg.Replicas < 1 || cfg.Replicas > maxReplicas {
		return nil, fmt.Errorf("compute: submitter config: Replicas %d: want 1 to %d", cfg.Replicas, maxReplicas)
	}
	seed := cfg.Seed
	if seed == 0 {
		var b [8]byte
		rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	sch, err := sched.New(cfg.Sched, mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	if err != nil {
		return nil, fmt.Errorf("compute: submitter config: %w", err)
	}
	cfg.Sched = sch.Config()
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Submitter{
		cfg: cfg, deps: deps, seed: seed,
		log:      log.With("component", "compute-submitter"),
		reqs:     make(chan func(context.Context)),
		events:   make(chan netEvent, 256),
		stopped:  make(chan struct{}),
		sch:      sch,
		jobs:     map[JobID]*job{},
		phases:   map[sched.JobID]*phase{},
		runs:     map[runKey]context.CancelFunc{},
		receipts: map[runKey]*wire.Receipt{},
		holds:    map[sched.UnitID][]func(){},
		started:  map[runKey]bool{},
	}, nil
}

// Config returns the configuration in use, defaults filled in.
func (s *Submitter) Config() SubmitterConfig { return s.cfg }

// Run loads the jobs kept in the datastore (resuming those still active),
// then schedules jobs until ctx ends. It returns once every goroutine it
// started has exited; it returns an error if the datastore cannot be read
// or if Run is called twice.
func (s *Submitter) Run(ctx context.Context) error {
	first := false
	s.runOnce.Do(func() { first = true })
	if !first {
		return errors.New("compute: submitter: Run called twice")
	}
	defer close(s.stopped)
	// After every goroutine has ended: let go of the outputs held for
	// votes that will not be decided now, also those of runs whose
	// results were never read.
	defer func() {
		for drained := false; !drained; {
			select {
			case ne := <-s.events:
				if ne.release != nil {
					ne.release()
				}
			default:
				drained = true
			}
		}
		s.releaseHolds(func(sched.UnitID) bool { return true })
	}()
	s.log.Info("submitter started", "seed", s.seed)

	var wg sync.WaitGroup
	defer wg.Wait()
	s.wg = &wg
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := s.load(ctx); err != nil {
		return err
	}
	s.discover(ctx, &wg)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if s.rediscover {
			s.rediscover = false
			s.discover(ctx, &wg)
		}
		s.execute(ctx, &wg, s.sch.Next(time.Now()))
		s.forgetEnded()
		s.saveStale(ctx, false)
		wait := time.Hour
		if at, ok := s.sch.WakeAt(); ok {
			wait = max(time.Until(at), time.Millisecond)
		}
		if at, ok := s.nextSave(); ok {
			wait = min(wait, max(time.Until(at), time.Millisecond))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			s.saveStale(context.WithoutCancel(ctx), true)
			s.closeWatchers()
			s.log.Info("submitter stopped")
			return nil
		case f := <-s.reqs:
			f(ctx)
		case ne := <-s.events:
			s.observe(ctx, ne)
		case <-timer.C:
		}
	}
}

// do runs f in the Run goroutine and waits for it.
func (s *Submitter) do(ctx context.Context, f func(ctx context.Context)) error {
	done := make(chan struct{})
	select {
	case s.reqs <- func(ctx context.Context) { f(ctx); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopped:
		return ErrStopped
	}
	<-done
	return nil
}

// Submit cuts spec into units (reading and storing split parts through
// Content) and hands the job to the scheduler. It returns the new job's ID.
func (s *Submitter) Submit(ctx context.Context, spec JobSpec) (JobID, error) {
	spec.Inputs = slices.Clone(spec.Inputs)
	spec.Args = slices.Clone(spec.Args)
	spec.ReduceArgs = slices.Clone(spec.ReduceArgs)
	if spec.Replicas == 0 {
		spec.Replicas = s.cfg.Replicas
	}
	if err := spec.validate(); err != nil {
		return "", err
	}
	plans, err := planUnits(ctx, s.deps.Content, &spec, s.cfg.MaxSplitBytes)
	if err != nil {
		return "", err
	}
	var b [8]byte
	rand.Read(b[:])
	id := JobID(hex.EncodeToString(b[:]))
	if err := checkSendable(id, &spec, plans, s.unitTimeout(&spec)); err != nil {
		return "", err
	}
	info := JobInfo{ID: id, State: JobActive, Spec: spec, Submitted: time.Now()}
	for i, p := range plans {
		info.Units = append(info.Units, UnitInfo{Index: i, Status: sched.UnitQueued, Inputs: p.Inputs, Bytes: p.Bytes, Args: p.Args, File: p.File})
	}
	if spec.Reduce.Defined() {
		info.Units = append(info.Units, UnitInfo{Index: len(plans), Reduce: true, Status: sched.UnitWaiting, Args: spec.ReduceArgs})
	}
	var serr error
	err = s.do(ctx, func(ctx context.Context) {
		j := &job{Info: info, done: make(chan struct{})}
		if serr = s.save(ctx, j); serr != nil {
			return
		}
		s.jobs[id] = j
		s.order = append(s.order, id)
		s.emit(j, Event{Unit: -1, Kind: EventSubmitted, Detail: fmt.Sprintf("%d units", len(info.Units))})
		s.deps.Metrics.jobSubmitted()
		s.advance(ctx, j)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return "", err
	}
	s.log.Info("job submitted", "job", id, "units", len(info.Units))
	return id, nil
}

// Status returns a snapshot of a job, or ErrUnknownJob.
func (s *Submitter) Status(ctx context.Context, id JobID) (JobInfo, error) {
	var info JobInfo
	var ok bool
	err := s.do(ctx, func(context.Context) {
		var j *job
		if j, ok = s.jobs[id]; ok {
			info = s.snapshot(j)
		}
	})
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s", ErrUnknownJob, id)
	}
	return info, err
}

// List returns snapshots of every job, in submission order.
func (s *Submitter) List(ctx context.Context) ([]JobInfo, error) {
	var out []JobInfo
	err := s.do(ctx, func(context.Context) {
		for _, id := range s.order {
			out = append(out, s.snapshot(s.jobs[id]))
		}
	})
	return out, err
}

// Result returns a done job's snapshot (JobInfo.Output, JobInfo.Outputs),
// or ErrJobNotDone (with the snapshot) when it is not done.
func (s *Submitter) Result(ctx context.Context, id JobID) (JobInfo, error) {
	info, err := s.Status(ctx, id)
	if err != nil {
		return info, err
	}
	if info.State != JobDone {
		return info, fmt.Errorf("%w: %s is %s %s", ErrJobNotDone, id, info.State, info.Error)
	}
	return info, nil
}

// Wait blocks until the job ends and returns its final snapshot.
func (s *Submitter) Wait(ctx context.Context, id JobID) (JobInfo, error) {
	var done chan struct{}
	err := s.do(ctx, func(context.Context) {
		if j, ok := s.jobs[id]; ok {
			done = j.done
		}
	})
	if err != nil {
		return JobInfo{}, err
	}
	if done == nil {
		return JobInfo{}, fmt.Errorf("%w: %s", ErrUnknownJob, id)
	}
	select {
	case <-done:
	case <-ctx.Done():
		return JobInfo{}, ctx.Err()
	case <-s.stopped:
		return JobInfo{}, ErrStopped
	}
	return s.Status(ctx, id)
}

// Cancel stops an active job; it returns ErrUnknownJob for an unknown job
// and an error wrapping ErrJobEnded, naming its state, for one already
// over.
func (s *Submitter) Cancel(ctx context.Context, id JobID) error {
	var cerr error
	err := s.do(ctx, func(ctx context.Context) {
		j, ok := s.jobs[id]
		if !ok {
			cerr = fmt.Errorf("%w: %s", ErrUnknownJob, id)
			return
		}
		if j.Info.State != JobActive {
			cerr = fmt.Errorf("%w: %s is %s", ErrJobEnded, id, j.Info.State)
			return
		}
		if j.phase != "" {
			if err := s.sch.Observe(sched.JobWithdrawn{Job: j.phase}); err != nil {
				s.log.Error("cancel", "job", id, "err", err)
			}
			s.endPhase(j)
		}
		s.finish(ctx, j, JobCancelled, "cancelled by the user")
	})
	if err != nil {
		return err
	}
	return cerr
}

// Workers returns the scheduler's view of every known worker, by peer ID:
// bids, load, measured speed and track record (completed, failed,
// outvoted, ...).
func (s *Submitter) Workers(ctx context.Context) ([]sched.WorkerSnapshot, error) {
	var out []sched.WorkerSnapshot
	err := s.do(ctx, func(context.Context) { out = s.sch.Workers() })
	return out, err
}

// Why explains, unit by unit, where a job stands and why units that are
// not running are not: Explain's answer as text.
func (s *Submitter) Why(ctx context.Context, id JobID) (string, error) {
	jw, err := s.Explain(ctx, id)
	if err != nil {
		return "", err
	}
	return jw.String(), nil
}

// Explain returns where a job stands, unit by unit, and why each unit
// that is not running is not.
func (s *Submitter) Explain(ctx context.Context, id JobID) (JobWhy, error) {
	var jw JobWhy
	var ok bool
	err := s.do(ctx, func(context.Context) {
		var j *job
		if j, ok = s.jobs[id]; !ok {
			return
		}
		jw = s.explain(j)
	})
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s", ErrUnknownJob, id)
	}
	return jw, err
}

// JobWhy is Submitter.Explain's answer.
type JobWhy struct {
	Job   JobID    `json:"job"`
	State JobState `json:"state"`
	// Error is why the job failed, if it did.
	Error string    `json:"error,omitempty"`
	Units []UnitWhy `json:"units"`
}

// UnitWhy explains one unit.
type UnitWhy struct {
	Unit   int       `json:"unit"`
	Reduce bool      `json:"reduce,omitempty"`
	Status UnitState `json:"status"`
	// Why is the explanation: the scheduler's for a unit of the phase in
	// progress (where it runs, or why it waits: no workers found, all busy,
	// limits above every worker's, failed on N workers), else its outcome.
	Why string `json:"why"`
	// Failures are its failed runs, "WORKER: reason".
	Failures []string `json:"failures,omitempty"`
	// Stderr is the first lines of its last failed run's stderr.
	Stderr string `json:"stderr,omitempty"`

	scheduled bool // Why is the scheduler's, which lists the runs
}

// String renders jw as `enxame compute why` prints it.
func (jw JobWhy) String() string {
	var b []byte
	b = fmt.Appendf(b, "job %s: %s", jw.Job, jw.State)
	if jw.Error != "" {
		b = fmt.Appendf(b, ": %s", jw.Error)
	}
	b = append(b, '\n')
	for _, u := range jw.Units {
		name := fmt.Sprintf("unit %d", u.Unit)
		if u.Reduce {
			name += " (reduce)"
		}
		b = fmt.Appendf(b, "%s: %s\n", name, u.Why)
		if !u.scheduled {
			for _, f := range u.Failures {
				b = fmt.Appendf(b, "  failed: %s\n", f)
			}
		}
		if u.Stderr != "" {
			b = append(b, "  stderr:\n"...)
			for l := range strings.Lines(u.Stderr) {
				b = fmt.Appendf(b, "    %s", l)
			}
			b = append(b, '\n')
		}
	}
	return string(b)
}

// Watch returns a channel of the job's progress events: first those
// already past (up to WatchBuffer), then live ones. The channel is closed
// after the job's final event, when ctx ends, or when the watcher falls
// WatchBuffer events behind.
func (s *Submitter) Watch(ctx context.Context, id JobID) (<-chan Event, error) {
	var w *watcher
	err := s.do(ctx, func(context.Context) {
		j, ok := s.jobs[id]
		if !ok {
			return
		}
		w = &watcher{ch: make(chan Event, s.cfg.WatchBuffer+len(j.history)+1)}
		if len(j.history) > 0 && j.history[0].Kind != EventSubmitted && j.submitted.Kind == EventSubmitted {
			w.ch <- j.submitted
		}
		for _, ev := range j.history {
			w.ch <- ev
		}
		if j.Info.State != JobActive {
			w.close()
			return
		}
		j.watchers = append(j.watchers, w)
		// Unsubscribe through the loop when ctx ends; the hook is dropped
		// when the loop closes w first, and gives up once the loop is gone
		// (it closed every watcher then).
		w.stop = context.AfterFunc(ctx, func() {
			select {
			case s.reqs <- func(context.Context) { s.unwatch(id, w) }:
			case <-s.stopped:
			}
		})
	})
	if err != nil {
		return nil, err
	}
	if w == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownJob, id)
	}
	return w.ch, nil
}

func (s *Submitter) unwatch(id JobID, w *watcher) {
	if j, ok := s.jobs[id]; ok {
		j.watchers = slices.DeleteFunc(j.watchers, func(x *watcher) bool { return x == w })
	}
	w.close()
}

func (s *Submitter) closeWatchers() {
	for _, j := range s.jobs {
		for _, w := range j.watchers {
			w.close()
		}
		j.watchers = nil
	}
}

// emit records ev in j's history and sends it to j's watchers.
func (s *Submitter) emit(j *job, ev Event) {
	ev.Job = j.Info.ID
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	if ev.Kind == EventSubmitted {
		j.submitted = ev
	}
	if len(j.history) >= s.cfg.WatchBuffer {
		j.history = j.history[1:]
	}
	j.history = append(j.history, ev)
	for _, w := range j.watchers {
		if w.closed {
			continue
		}
		select {
		case w.ch <- ev:
		default:
			s.log.Warn("watcher fell behind, closing it", "job", j.Info.ID)
			w.close()
		}
	}
	j.watchers = slices.DeleteFunc(j.watchers, func(w *watcher) bool { return w.closed })
}

// snapshot copies j's info, adding live unit statuses from the scheduler.
func (s *Submitter) snapshot(j *job) JobInfo {
	info := j.Info
	info.Units = slices.Clone(info.Units)
	if p, ok := s.phases[j.phase]; ok {
		for si, ui := range p.units {
			if st, ok := s.sch.Unit(sched.UnitID{Job: j.phase, Index: si}); ok {
				info.Units[ui].Status = st.Status
			}
		}
	}
	return info
}

func (s *Submitter) explain(j *job) JobWhy {
	jw := JobWhy{Job: j.Info.ID, State: j.Info.State, Error: j.Info.Error, Units: []UnitWhy{}}
	p := s.phases[j.phase]
	inPhase := map[int]int{}
	if p != nil {
		for si, ui := range p.units {
			inPhase[ui] = si
		}
	}
	for _, u := range j.Info.Units {
		uw := UnitWhy{Unit: u.Index, Reduce: u.Reduce, Status: u.Status, Failures: slices.Clone(u.Failures), Stderr: u.Stderr}
		switch si, ok := inPhase[u.Index]; {
		case ok:
			uw.Why = strings.TrimRight(unitWhy(s.sch, sched.UnitID{Job: j.phase, Index: si}), "\n")
			uw.scheduled = true
		case u.Output.Defined():
			var ws []string
			for _, r := range u.Receipts {
				ws = append(ws, r.Worker.String())
			}
			uw.Why = fmt.Sprintf("%s, output %s from %v", u.Status, u.Output, ws)
		case u.Reduce && j.Info.State == JobActive:
			uw.Why = "waits for the other units' outputs"
		default:
			uw.Why = u.Status.String()
		}
		jw.Units = append(jw.Units, uw)
	}
	return jw
}

// advance starts j's next scheduler job (the units without an accepted
// output, the reduce unit once the others are done), or ends j.
func (s *Submitter) advance(ctx context.Context, j *job) {
	var units []int
	for _, u := range j.Info.Units {
		if !u.Output.Defined() && !u.Reduce {
			units = append(units, u.Index)
		}
	}
	if len(units) == 0 {
		// Every map unit is done: store their outputs' directory first,
		// off the loop (outputs may still be on their way here).
		if !j.Info.ResultDir.Defined() && j.dirErr == "" {
			s.startResultDir(ctx, j)
			return
		}
		if last := &j.Info.Units[len(j.Info.Units)-1]; last.Reduce && !last.Output.Defined() {
			if !j.Info.ResultDir.Defined() {
				s.finish(ctx, j, JobFailed, fmt.Sprintf("reduce input: %s", j.dirErr))
				return
			}
			last.Inputs = []cid.Cid{j.Info.ResultDir}
			last.Status = sched.UnitQueued
			units = []int{last.Index}
		}
	}
	if len(units) == 0 {
		s.finish(ctx, j, JobDone, "")
		return
	}
	sid := sched.JobID(fmt.Sprintf("%s/%d", j.Info.ID, j.round))
	j.round++
	spec := j.Info.Spec
	limits := sched.Limits{Memory: uint64(spec.MemoryMiB) << 20, WallTime: s.unitTimeout(&spec)}
	var us []sched.UnitSpec
	for _, ui := range units {
		u := j.Info.Units[ui]
		var ins []sched.Input
		for _, c := range u.Inputs {
			ins = append(ins, sched.Input{CID: c, Bytes: u.Bytes / int64(max(1, len(u.Inputs)))})
		}
		us = append(us, sched.UnitSpec{EstCost: UnitCost(u.Bytes), Inputs: ins, Limits: limits})
	}
	if err := s.sch.Observe(sched.JobSubmitted{Job: sid, Units: us, Replicas: spec.Replicas}); err != nil {
		s.finish(ctx, j, JobFailed, fmt.Sprintf("schedule: %v", err))
		return
	}
	j.phase = sid
	s.phases[sid] = &phase{job: j.Info.ID, units: units}
	s.rediscover = true
	for _, ui := range units {
		s.emit(j, Event{Unit: ui, Kind: EventQueued})
	}
}

// startResultDir stores the directory of j's map unit outputs in a
// goroutine of Run, which reports to the loop (resultDirStored), unless
// one is at it already.
func (s *Submitter) startResultDir(ctx context.Context, j *job) {
	if j.dirBuilding {
		return
	}
	j.dirBuilding = true
	var es []DirEntry
	for i := range j.Info.Units {
		if u := &j.Info.Units[i]; !u.Reduce {
			es = append(es, DirEntry{Name: u.OutputName(), CID: u.Output})
		}
	}
	id := j.Info.ID
	s.wg.Go(func() {
		pctx, cancel := context.WithTimeout(ctx, keepTimeout)
		defer cancel()
		d, err := s.deps.Content.PutDir(pctx, es)
		s.post(ctx, netEvent{dir: &dirResult{job: id, dir: d, err: err}})
	})
}

// resultDirStored takes the outcome of startResultDir and moves the job on.
func (s *Submitter) resultDirStored(ctx context.Context, r *dirResult) {
	j, ok := s.jobs[r.job]
	if !ok || j.Info.State != JobActive {
		return
	}
	j.dirBuilding = false
	if r.err != nil {
		s.log.Error("store result directory", "job", r.job, "err", r.err)
		j.dirErr = r.err.Error()
	} else {
		j.Info.ResultDir = r.dir
	}
	s.advance(ctx, j)
}

func (s *Submitter) unitTimeout(spec *JobSpec) time.Duration {
	if spec.Timeout > 0 {
		return spec.Timeout
	}
	return s.cfg.UnitTimeout
}

// endPhase forgets j's scheduler job.
func (s *Submitter) endPhase(j *job) {
	if j.phase == "" {
		return
	}
	phase := j.phase
	s.releaseHolds(func(id sched.UnitID) bool { return id.Job == phase })
	delete(s.phases, j.phase)
	// Forgotten after the next Next: a cancelled job's runs are cancelled
	// by the actions Next returns for it.
	s.forget = append(s.forget, j.phase)
	j.phase = ""
}

// releaseHolds lets go of the held outputs of the units match selects.
func (s *Submitter) releaseHolds(match func(sched.UnitID) bool) {
	for id, rs := range s.holds {
		if !match(id) {
			continue
		}
		for _, release := range rs {
			release()
		}
		delete(s.holds, id)
	}
}

// forgetEnded drops the scheduler jobs of ended phases.
func (s *Submitter) forgetEnded() {
	for _, id := range s.forget {
		if err := s.sch.Forget(id); err != nil {
			s.log.Error("forget", "job", id, "err", err)
		}
	}
	s.forget = s.forget[:0]
}

// finish ends j.
func (s *Submitter) finish(ctx context.Context, j *job, st JobState, reason string) {
	j.Info.State = st
	j.Info.Error = reason
	j.Info.Ended = time.Now()
	s.deps.Metrics.jobEnded(st, j.Info.Ended.Sub(j.Info.Submitted))
	for i := range j.Info.Units {
		if u := &j.Info.Units[i]; !u.Output.Defined() {
			u.Status = sched.UnitAbandoned
		}
	}
	if err := s.save(ctx, j); err != nil {
		s.log.Error("save job", "job", j.Info.ID, "err", err)
	}
	kind := map[JobState]EventKind{JobDone: EventJobDone, JobFailed: EventJobFailed, JobCancelled: EventJobCancelled}[st]
	ev := Event{Unit: -1, Kind: kind, Detail: reason}
	if st == JobDone {
		if ev.Output = j.Info.Output(); !ev.Output.Defined() {
			ev.Output = j.Info.ResultDir
		}
	}
	s.emit(j, ev)
	for _, w := range j.watchers {
		w.close()
	}
	j.watchers = nil
	close(j.done)
	s.log.Info("job ended", "job", j.Info.ID, "state", st, "reason", reason)
}

// lookup returns the job and job unit index of a scheduler unit.
func (s *Submitter) lookup(u sched.UnitID) (*job, int, bool) {
	p, ok := s.phases[u.Job]
	if !ok || u.Index < 0 || u.Index >= len(p.units) {
		return nil, 0, false
	}
	j, ok := s.jobs[p.job]
	return j, p.units[u.Index], ok
}

// seed is the unit's random seed: every replica of a unit gets the same.
func unitSeed(id JobID, unit int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", id, unit)
	return h.Sum64()
}

// execute carries out the scheduler's actions.
func (s *Submitter) execute(ctx context.Context, wg *sync.WaitGroup, acts []sched.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case sched.RequestBids:
			s.requestBids(ctx, wg, a)
		case sched.AssignUnit:
			s.assign(ctx, wg, a)
		case sched.CancelUnit:
			k := runKey{a.Unit, a.Worker}
			if cancel, ok := s.runs[k]; ok {
				cancel()
				delete(s.runs, k)
			}
			s.log.Debug("cancel run", "unit", a.Unit, "peer", a.Worker, "reason", a.Reason)
		case sched.AcceptResult:
			s.accept(ctx, a)
		case sched.RecordFaulty:
			s.log.Warn("worker outvoted", "peer", a.Worker, "unit", a.Unit, "reason", a.Reason)
			if j, ui, ok := s.lookup(a.Unit); ok {
				u := &j.Info.Units[ui]
				u.Faulty = append(u.Faulty, a.Worker)
				s.emit(j, Event{Unit: ui, Kind: EventFaulty, Worker: a.Worker, Detail: a.Reason})
			}
		case sched.FinishJob:
			p, ok := s.phases[a.Job]
			if !ok {
				continue
			}
			j := s.jobs[p.job]
			s.endPhase(j)
			s.advance(ctx, j)
		case sched.FailJob:
			p, ok := s.phases[a.Job]
			if !ok {
				continue
			}
			j := s.jobs[p.job]
			reason := a.Reason
			if _, ui, ok := s.lookup(a.Unit); ok {
				reason = fmt.Sprintf("unit %d: %s", ui, a.Reason)
			}
			s.endPhase(j)
			s.finish(ctx, j, JobFailed, reason)
		case sched.NeedWorkers:
			s.discover(ctx, wg)
		}
	}
}

func (s *Submitter) accept(ctx context.Context, a sched.AcceptResult) {
	j, ui, ok := s.lookup(a.Unit)
	if !ok {
		return
	}
	u := &j.Info.Units[ui]
	u.Output = a.Output
	u.Receipts = nil
	for _, w := range a.Agreeing {
		if r := s.receipts[runKey{a.Unit, w}]; r != nil {
			u.Receipts = append(u.Receipts, *r)
		}
	}
	for k := range s.receipts {
		if k.unit == a.Unit {
			delete(s.receipts, k)
		}
	}
	u.Status = sched.UnitDone
	if j.Info.Spec.Replicas > 1 {
		u.Status = sched.UnitVerified
		// The vote is decided: pin the winner, whose blocks are here
		// already (unannounced when the content can: the job's result
		// directory is announced), and let go of every output held for it.
		err := errors.New("not a LocalContent")
		if lc, ok := s.deps.Content.(LocalContent); ok {
			err = lc.PinLocal(ctx, a.Output)
		}
		if err != nil {
			err = s.deps.Content.Keep(ctx, a.Output, 0)
		}
		if err != nil {
			s.log.Error("pin accepted output", "job", j.Info.ID, "unit", ui, "cid", a.Output, "err", err)
		}
		s.releaseHolds(func(id sched.UnitID) bool { return id == a.Unit })
	}
	s.markStale(j)
	s.emit(j, Event{Unit: ui, Kind: EventVerified, Output: a.Output, Detail: fmt.Sprintf("%d agreeing", len(a.Agreeing))})
}

// observe feeds a network event to the scheduler and emits progress.
func (s *Submitter) observe(ctx context.Context, ne netEvent) {
	if ne.discover {
		s.discovering = false
	}
	if ne.dir != nil {
		s.resultDirStored(ctx, ne.dir)
	}
	if ne.ev == nil {
		return
	}
	now := time.Now()
	switch ev := ne.ev.(type) {
	case sched.UnitProgressed:
		k := runKey{ev.Unit, ev.Worker}
		if j, ui, ok := s.lookup(ev.Unit); ok && ne.running && !s.started[k] && s.runs[k] != nil {
			s.started[k] = true
			s.emit(j, Event{Unit: ui, Kind: EventRunning, Worker: ev.Worker, At: now})
		}
	case sched.UnitRejected:
		if j, ui, ok := s.lookup(ev.Unit); ok {
			s.emit(j, Event{Unit: ui, Kind: EventRejected, Worker: ev.Worker, Detail: ev.Reason.String() + ": " + ev.Detail, At: now})
		}
		s.endRun(runKey{ev.Unit, ev.Worker})
	case sched.UnitCompleted:
		k := runKey{ev.Unit, ev.Worker}
		if ne.release != nil {
			if _, _, ok := s.lookup(ev.Unit); ok && s.runs[k] != nil {
				s.holds[ev.Unit] = append(s.holds[ev.Unit], ne.release)
			} else {
				ne.release()
			}
		}
		if j, ui, ok := s.lookup(ev.Unit); ok && s.runs[k] != nil {
			s.receipts[k] = ne.receipt
			s.keepLog(ctx, j, ui, ev.Worker, "", ne.log, now)
			s.emit(j, Event{Unit: ui, Kind: EventDone, Worker: ev.Worker, Output: ev.Output, Detail: ev.Took.String(), At: now})
		}
		s.endRun(k)
	case sched.UnitFailed:
		k := runKey{ev.Unit, ev.Worker}
		if j, ui, ok := s.lookup(ev.Unit); ok && s.runs[k] != nil {
			s.keepLog(ctx, j, ui, ev.Worker, ev.Reason, ne.log, now)
			s.runFailed(j, ui, ev.Worker, ev.Reason, now)
		}
		s.endRun(k)
	case sched.WorkerLost:
		for k := range s.runs {
			if k.worker != ev.Worker {
				continue
			}
			if j, ui, ok := s.lookup(k.unit); ok {
				s.runFailed(j, ui, ev.Worker, "worker lost", now)
			}
			s.endRun(k)
		}
	}
	if err := s.sch.Observe(ne.ev); err != nil {
		s.log.Error("observe", "err", err)
	}
}

func (s *Submitter) runFailed(j *job, ui int, w peer.ID, reason string, at time.Time) {
	u := &j.Info.Units[ui]
	f := fmt.Sprintf("%s: %s", w, reason)
	if len(u.Failures) < 64 {
		u.Failures = append(u.Failures, f)
	}
	s.emit(j, Event{Unit: ui, Kind: EventRetried, Worker: w, Detail: reason, At: at})
}

func (s *Submitter) endRun(k runKey) {
	if cancel, ok := s.runs[k]; ok {
		cancel()
		delete(s.runs, k)
	}
	delete(s.started, k)
}
