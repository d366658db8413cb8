package sched

import (
	"fmt"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// JobState is where a job stands.
type JobState int

const (
	// JobActive: units are still being placed, run or verified.
	JobActive JobState = iota
	// JobDone: every unit has an accepted result (FinishJob was emitted).
	JobDone
	// JobFailed: a unit could not be completed (FailJob was emitted).
	JobFailed
	// JobCancelled: the caller cancelled the job.
	JobCancelled
)

// String returns a lowercase word for st.
func (st JobState) String() string {
	switch st {
	case JobActive:
		return "active"
	case JobDone:
		return "done"
	case JobFailed:
		return "failed"
	case JobCancelled:
		return "cancelled"
	default:
		return "unknown"
	}
}

// UnitState is where a unit stands.
type UnitState int

const (
	// UnitQueued: waiting for a worker; see UnitSnapshot.Waiting.
	UnitQueued UnitState = iota
	// UnitPlaced: assigned, no worker has acknowledged yet.
	UnitPlaced
	// UnitRunning: at least one worker has acknowledged a run.
	UnitRunning
	// UnitVoting: some results are in; more are needed for a majority.
	UnitVoting
	// UnitDone: its single result is accepted (Replicas 1).
	UnitDone
	// UnitVerified: its result is accepted by a majority of replicas.
	UnitVerified
	// UnitAbandoned: its job ended (failed or cancelled) before a result was
	// accepted.
	UnitAbandoned
	// UnitWaiting: its inputs are not known yet (a reduce unit, whose
	// inputs are the other units' outputs). The Scheduler never holds such
	// a unit: the caller gives it the state until it submits the unit.
	UnitWaiting
)

// String returns a lowercase word for st.
func (st UnitState) String() string {
	switch st {
	case UnitQueued:
		return "queued"
	case UnitPlaced:
		return "placed"
	case UnitRunning:
		return "running"
	case UnitVoting:
		return "voting"
	case UnitDone:
		return "done"
	case UnitVerified:
		return "verified"
	case UnitAbandoned:
		return "abandoned"
	case UnitWaiting:
		return "waiting"
	default:
		return "unknown"
	}
}

// MarshalText encodes st as its String word.
func (st UnitState) MarshalText() ([]byte, error) { return []byte(st.String()), nil }

// UnmarshalText decodes a String word.
func (st *UnitState) UnmarshalText(b []byte) error {
	for x := UnitQueued; x <= UnitWaiting; x++ {
		if x.String() == string(b) {
			*st = x
			return nil
		}
	}
	return fmt.Errorf("sched: unknown unit state %q", b)
}

// MarshalText encodes st as its String word.
func (st JobState) MarshalText() ([]byte, error) { return []byte(st.String()), nil }

// UnmarshalText decodes a String word.
func (st *JobState) UnmarshalText(b []byte) error {
	for x := JobActive; x <= JobCancelled; x++ {
		if x.String() == string(b) {
			*st = x
			return nil
		}
	}
	return fmt.Errorf("sched: unknown job state %q", b)
}

// RunState is where one run of a unit stands.
type RunState int

const (
	// RunAssigned: sent to the worker, not acknowledged yet.
	RunAssigned RunState = iota
	// RunRunning: acknowledged by the worker (queued or running there).
	RunRunning
	// RunDone: returned an output.
	RunDone
	// RunFailed: failed, lost, stalled or missed its deadline.
	RunFailed
	// RunCancelled: rejected by the worker or cancelled by the scheduler.
	RunCancelled
)

// String returns a lowercase word for st.
func (st RunState) String() string {
	switch st {
	case RunAssigned:
		return "assigned"
	case RunRunning:
		return "running"
	case RunDone:
		return "done"
	case RunFailed:
		return "failed"
	case RunCancelled:
		return "cancelled"
	default:
		return "unknown"
	}
}

// WaitReason says why a queued unit is not running.
type WaitReason int

const (
	// WaitNone: the unit is not waiting for a worker.
	WaitNone WaitReason = iota
	// WaitBids: the job's first bids are still coming in.
	WaitBids
	// WaitNoWorkers: no workers are known.
	WaitNoWorkers
	// WaitNoBids: workers are known but none has a usable bid.
	WaitNoBids
	// WaitLimits: the unit's limits are above those of every worker that bid.
	WaitLimits
	// WaitExcluded: every worker that could take it has already run, failed
	// or refused it, or is avoided.
	WaitExcluded
	// WaitBusy: every worker that could take it is full.
	WaitBusy
	// WaitHeld: workers have room, but a busy one is predicted to finish the
	// unit sooner, so it waits for that one.
	WaitHeld
)

// String returns a short phrase for r.
func (r WaitReason) String() string {
	switch r {
	case WaitNone:
		return "not waiting"
	case WaitBids:
		return "waiting for bids"
	case WaitNoWorkers:
		return "no workers found"
	case WaitNoBids:
		return "no worker bid"
	case WaitLimits:
		return "limits above every worker's"
	case WaitExcluded:
		return "no eligible worker left"
	case WaitBusy:
		return "all workers busy"
	case WaitHeld:
		return "held for a faster worker"
	default:
		return "unknown"
	}
}

// JobSnapshot is a snapshot of a job for progress display.
type JobSnapshot struct {
	ID       JobID
	Status   JobState
	Replicas int
	Units    int
	Accepted int // units with an accepted result
	Queued   int // units waiting for at least one run to be placed
	Running  int // runs in flight
	// SubmittedAt is when the job's first bids were requested; EndedAt is
	// when it ended (zero while active).
	SubmittedAt time.Time
	EndedAt     time.Time
	// Failure is set when Status is JobFailed.
	Failure *FailJob
}

// UnitSnapshot is a snapshot of a unit for progress display and for
// explaining where it stands.
type UnitSnapshot struct {
	ID       UnitID
	Status   UnitState
	EstCost  float64
	Runs     []RunSnapshot
	Output   cid.Cid   // accepted output, if any
	Agreeing []peer.ID // workers whose runs returned Output
	Failures []Failure // failed runs, oldest first
	Rejected []Rejection
	// Wait says why a UnitQueued unit is not running, or why a unit short
	// of replicas gets no more; its Reason is WaitNone otherwise.
	Wait Wait
}

// RunSnapshot is a snapshot of one run of a unit.
type RunSnapshot struct {
	Worker       peer.ID
	Replica      int
	Status       RunState
	AssignedAt   time.Time
	LastProgress time.Time
	Deadline     time.Time
	EndedAt      time.Time
	Output       cid.Cid
	Note         string // why it ended, if it failed or was cancelled
	Backup       bool   // an end-game backup of a straggling run
}

// Rejection is a worker's refusal of a unit for its limits.
type Rejection struct {
	Worker peer.ID
	Reason RejectReason
	Detail string
}

// WorkerSnapshot is a snapshot of a worker as the scheduler sees it.
type WorkerSnapshot struct {
	ID     peer.ID
	Lost   bool
	HasBid bool
	// BidErr says why the worker has no usable bid, if it has none.
	BidErr    string
	BidAt     time.Time
	Slots     int
	FreeSlots int // as bid
	QueueLen  int // as bid
	// Speed is the speed placement uses: measured from completed runs when
	// there are any (relative to the other runs of their jobs, in the
	// bids' units; see the package doc), else BidSpeed held within the
	// range measured on the others.
	Speed    float64
	BidSpeed float64
	// LinkRate is the rate, in bytes per second, at which placement
	// predicts the worker fetches inputs: measured from its fetches, else
	// as bid, else Config.TransferRate (which placement uses for every
	// worker under Config.IgnoreLinkRates). LinkMeasured says it was
	// measured.
	LinkRate     float64
	LinkMeasured bool
	MaxMemory    uint64
	InFlight     int // runs of ours there
	Room         int // more runs it may get now
	// AvoidUntil is set after the worker lost a vote, BackoffUntil after it
	// stalled or missed a deadline; it gets no units before then.
	AvoidUntil   time.Time
	BackoffUntil time.Time
	// Score is the worker's local reputation in (0, 1]: halved when its
	// output loses a vote, raised slowly by results that agree with
	// another's. Below 0.75 the worker gets fewer units and each unit placed
	// on it gets one more replica.
	Score float64
	// Track record.
	Completed, Failed, Outvoted, Stalled, LostCount, Rejected int
}

// Jobs returns a snapshot of every job held, in submission order.
func (s *Scheduler) Jobs() []JobSnapshot {
	out := make([]JobSnapshot, 0, len(s.jobList))
	for _, j := range s.jobList {
		out = append(out, j.state())
	}
	return out
}

// Job returns a snapshot of one job.
func (s *Scheduler) Job(id JobID) (JobSnapshot, bool) {
	j := s.jobs[id]
	if j == nil {
		return JobSnapshot{}, false
	}
	return j.state(), true
}

func (j *job) state() JobSnapshot {
	st := JobSnapshot{
		ID:          j.id,
		Status:      j.status.public(),
		Replicas:    j.replicas,
		Units:       len(j.units),
		Accepted:    j.accepted,
		Queued:      len(j.queue),
		SubmittedAt: j.submittedAt,
		EndedAt:     j.endedAt,
	}
	if j.failed != nil {
		f := *j.failed
		f.Failures = slices.Clone(f.Failures)
		st.Failure = &f
	}
	for _, u := range j.units {
		for _, r := range u.runs {
			if r.active() {
				st.Running++
			}
		}
	}
	return st
}

func (st jobStatus) public() JobState {
	switch st {
	case jobDone:
		return JobDone
	case jobFailed:
		return JobFailed
	case jobCancelled:
		return JobCancelled
	default:
		return JobActive
	}
}

// Units returns a snapshot of every unit of a job, by index. It returns
// ErrUnknownJob for a job the Scheduler does not hold.
func (s *Scheduler) Units(id JobID) ([]UnitSnapshot, error) {
	j := s.jobs[id]
	if j == nil {
		return nil, fmt.Errorf("units of job %q: %w", id, ErrUnknownJob)
	}
	out := make([]UnitSnapshot, len(j.units))
	for i, u := range j.units {
		out[i] = s.unitState(u)
	}
	return out, nil
}

// Unit returns a snapshot of one unit.
func (s *Scheduler) Unit(id UnitID) (UnitSnapshot, bool) {
	j := s.jobs[id.Job]
	if j == nil || id.Index < 0 || id.Index >= len(j.units) {
		return UnitSnapshot{}, false
	}
	return s.unitState(j.units[id.Index]), true
}

func (s *Scheduler) unitState(u *unit) UnitSnapshot {
	st := UnitSnapshot{
		ID:       u.id,
		EstCost:  u.spec.EstCost,
		Output:   u.output,
		Agreeing: slices.Clone(u.agreeing),
		Failures: slices.Clone(u.failures),
	}
	for _, x := range u.rejected {
		st.Rejected = append(st.Rejected, Rejection{x.worker, x.reason, x.detail})
	}
	active, running, done := 0, 0, 0
	for _, r := range u.runs {
		st.Runs = append(st.Runs, RunSnapshot{
			Worker:       r.w.id,
			Replica:      r.replica,
			Status:       RunState(r.state),
			AssignedAt:   r.assignedAt,
			LastProgress: r.lastProgress,
			Deadline:     r.deadline,
			EndedAt:      r.endedAt,
			Output:       r.output,
			Note:         r.note,
			Backup:       r.kind == "backup",
		})
		switch r.state {
		case runAssigned:
			active++
		case runRunning:
			active++
			running++
		case runDone:
			done++
		}
	}
	switch {
	case u.accepted && u.job.replicas > 1:
		st.Status = UnitVerified
	case u.accepted:
		st.Status = UnitDone
	case u.job.status != jobActive:
		st.Status = UnitAbandoned
	case u.missing > 0 && active == 0:
		st.Status = UnitQueued
	case done > 0:
		st.Status = UnitVoting
	case running > 0:
		st.Status = UnitRunning
	case active > 0:
		st.Status = UnitPlaced
	default:
		st.Status = UnitQueued
	}
	if u.missing > 0 && u.job.status == jobActive {
		st.Wait = s.classify(u, s.clock)
	}
	return st
}

// Workers returns a snapshot of every known worker, ordered by peer ID.
func (s *Scheduler) Workers() []WorkerSnapshot {
	out := make([]WorkerSnapshot, 0, len(s.wlist))
	for _, w := range s.wlist {
		room := 0
		if w.usableAt(s.clock) {
			room = max(w.available(s.cfg.QueueAllowance), 0)
		}
		out = append(out, WorkerSnapshot{
			ID:           w.id,
			Lost:         w.lost,
			HasBid:       w.hasBid,
			BidErr:       w.bidErr,
			BidAt:        w.bidAt,
			Slots:        w.slots,
			FreeSlots:    w.freeSlots,
			QueueLen:     w.queueLen,
			Speed:        w.speed(),
			BidSpeed:     w.bidSpeed,
			LinkRate:     w.linkRate(s.cfg.TransferRate),
			LinkMeasured: w.link.Rate() > 0,
			MaxMemory:    w.maxMemory,
			InFlight:     len(w.inflight),
			Room:         room,
			AvoidUntil:   w.avoidUntil,
			BackoffUntil: w.backoffUntil,
			Score:        w.score,
			Completed:    w.completed,
			Failed:       w.failed,
			Outvoted:     w.outvoted,
			Stalled:      w.stalled,
			LostCount:    w.lostCount,
			Rejected:     w.rejected,
		})
	}
	return out
}

// Wait says why a queued unit is not running: the reason, and the known
// workers counted by why each can or cannot take the unit. It is a value
// for the caller to word (the compute package writes `enxame compute why`
// from it); the scheduler keeps no prose.
type Wait struct {
	Reason WaitReason
	// Known is every worker the scheduler knows; each of them is counted
	// in exactly one of the counts below.
	Known int
	// Lost workers, workers without a usable bid, workers avoided after a
	// fault, workers that already ran, failed or refused the unit,
	// workers whose memory cap is below the unit's, workers with room
	// (predicted slower than a busy one, WaitHeld) and full workers.
	Lost, NoBid, Avoided, Excluded, Small, Free, Busy int
	// NeedMemory is the unit's memory limit in bytes; MaxMemory the
	// largest memory cap, in bytes, among the Small workers.
	NeedMemory, MaxMemory uint64
	// BidErr is one worker's reason for having no bid (WorkerSnapshot.BidErr).
	BidErr string
	// window is set while the job's first bids are coming in.
	window bool
}

func (s *Scheduler) classify(u *unit, now time.Time) Wait {
	c := Wait{window: u.job.window || !u.job.started, Known: len(s.wlist), NeedMemory: u.spec.Limits.Memory}
	for _, w := range s.wlist {
		switch {
		case w.lost:
			c.Lost++
		case !w.hasBid:
			c.NoBid++
			if c.BidErr == "" {
				c.BidErr = w.bidErr
			}
		case now.Before(w.avoidUntil) || now.Before(w.backoffUntil):
			c.Avoided++
		case u.excluded(w):
			c.Excluded++
		case !w.fits(u):
			c.Small++
			c.MaxMemory = max(c.MaxMemory, w.maxMemory)
		case w.available(s.cfg.QueueAllowance) > 0:
			c.Free++
		default:
			c.Busy++
		}
	}
	c.Reason = c.reason()
	return c
}

func (c Wait) reason() WaitReason {
	switch {
	case c.window:
		return WaitBids
	case c.Known == 0:
		return WaitNoWorkers
	case c.Free > 0:
		return WaitHeld
	case c.Busy > 0:
		return WaitBusy
	case c.Small > 0 && c.Excluded+c.Avoided == 0:
		return WaitLimits
	case c.Excluded+c.Avoided+c.Small > 0:
		return WaitExcluded
	default:
		return WaitNoBids
	}
}
