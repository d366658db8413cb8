package sched

import (
	"strconv"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// JobID names a job. The submitter chooses it (for example the CID of the job
// manifest plus a nonce); it must be unique among the jobs a Scheduler holds.
type JobID string

// UnitID names a work unit: the Index-th entry of its job's
// JobSubmitted.Units. A unit never runs twice on one worker, so a unit and a
// worker together name one run.
type UnitID struct {
	Job   JobID
	Index int
}

// String returns "job/index".
func (u UnitID) String() string { return string(u.Job) + "/" + strconv.Itoa(u.Index) }

// Input is one content-addressed input of a unit.
type Input struct {
	CID cid.Cid
	// Bytes is the size of the input, used to estimate transfer time to a
	// worker that does not hold it yet. 0 means unknown: the size the
	// bids of its holders give (BidReceived.HeldBytes), the smallest.
	Bytes int64
}

// Limits are the resources one run of a unit may use.
type Limits struct {
	// Memory is the memory cap in bytes; only workers whose bid offers at
	// least this much get the unit. 0 means no stated need.
	Memory uint64
	// WallTime is the time a run may take once started. 0 means
	// Config.UnitDeadline.
	WallTime time.Duration
}

// UnitSpec describes one work unit of a job.
type UnitSpec struct {
	// EstCost is the estimated work of the unit, in abstract work units. A
	// worker's Speed is in work units per second per slot, so the unit is
	// predicted to take EstCost/Speed seconds there.
	EstCost float64
	// Inputs are the content-addressed inputs the worker needs.
	Inputs []Input
	// Limits are the unit's resource limits.
	Limits Limits
}

// RejectReason says why a worker refused an assigned unit.
type RejectReason int

const (
	// RejectBusy means the worker had no room: it gets no more units until
	// one of ours ends there or it bids again. Not a failed attempt.
	RejectBusy RejectReason = iota
	// RejectLimits means the unit's limits are above what the worker allows:
	// the unit never goes there again. Not a failed attempt.
	RejectLimits
	// RejectOther is any other refusal; treated like RejectLimits.
	RejectOther
)

// String returns a lowercase word for r.
func (r RejectReason) String() string {
	switch r {
	case RejectBusy:
		return "busy"
	case RejectLimits:
		return "limits too high"
	default:
		return "refused"
	}
}

// Event is an input to Scheduler.Observe. It is one of JobSubmitted,
// WorkersDiscovered, BidReceived, BidFailed, UnitAccepted, UnitRejected,
// UnitProgressed, UnitCompleted, UnitFailed, WorkerLost and JobWithdrawn.
//
// Times in events (At) are stamped by the caller with its own clock when the
// event reaches it, never copied from a remote peer.
type Event interface{ isEvent() }

// JobSubmitted adds a job. The scheduler asks known workers for bids at the
// next Next and places the units once the bids are in.
type JobSubmitted struct {
	Job   JobID
	Units []UnitSpec
	// Replicas is how many distinct workers run each unit (k). A result is
	// accepted when ⌊k/2⌋+1 runs return the same output CID. 0 means 1.
	Replicas int
}

// WorkersDiscovered reports workers found, typically by a DHT lookup after
// NeedWorkers. Known workers are ignored; lost ones are revived.
type WorkersDiscovered struct {
	Workers []peer.ID
}

// BidReceived reports a worker's answer to RequestBids (or an unsolicited
// capacity advert). Only the latest bid of a worker counts.
type BidReceived struct {
	Worker peer.ID
	// Job is the job the bid answers, or empty for an unsolicited advert.
	Job JobID
	// Slots is how many units the worker runs at once; 0 means FreeSlots
	// (at least 1).
	Slots int
	// FreeSlots is how many of them were idle when the worker answered.
	FreeSlots int
	// QueueLen is how many units were waiting at the worker.
	QueueLen int
	// Speed is the worker's measured speed in work units per second per
	// slot. A bid with Speed <= 0 is treated as a refusal.
	Speed float64
	// MaxMemory is the most memory, in bytes, the worker gives one unit;
	// 0 means it states no cap.
	MaxMemory uint64
	// HasInputs lists input CIDs the worker already holds.
	HasInputs []cid.Cid
	// HeldBytes, when it has one entry per HasInputs, says how many bytes
	// of each the worker holds; 0 (or no entries) means all of it. It also
	// gives the size of an input submitted with Bytes 0 (the smallest
	// claim of any bid, at most 1 GiB). A held input's bytes count only up
	// to its Input.Bytes when the caller knows it: a bid lying about its
	// holdings can make a worker look closer to the data than it is, never
	// make known data bigger or a transfer negative, and the liar then
	// fetches the data within the run's time (TestSimLocalityLiar).
	HeldBytes []int64
	// LinkRate is the worker's own estimate of the rate, in bytes per
	// second, at which it fetches inputs it does not hold (wire.Bid's
	// LinkRate); 0 means unknown. It stands for the worker's link rate
	// until the scheduler has measured that itself from UnitCompleted's
	// fetch figures. Held within [MinLinkRate, MaxLinkRate]; a value that
	// is not a positive finite number is ignored.
	LinkRate float64
	// At is when the bid arrived.
	At time.Time
}

// BidFailed reports that a worker did not bid: unreachable, refused or busy.
type BidFailed struct {
	Worker peer.ID
	Job    JobID
	Err    error
}

// UnitAccepted reports that a worker took an assigned unit (queued or
// started). It counts as a sign of life.
type UnitAccepted struct {
	Unit   UnitID
	Worker peer.ID
	At     time.Time
}

// UnitRejected reports that a worker refused an assigned unit. The unit is
// placed again elsewhere; a rejection is not a failed attempt.
type UnitRejected struct {
	Unit   UnitID
	Worker peer.ID
	Reason RejectReason
	// Detail is the worker's own explanation, shown by Why.
	Detail string
}

// UnitProgressed is a heartbeat for a run: the worker still holds it.
type UnitProgressed struct {
	Unit   UnitID
	Worker peer.ID
	At     time.Time
}

// UnitCompleted reports a run's output. The caller has fetched or at least
// located the output by its CID; the scheduler only compares CIDs.
type UnitCompleted struct {
	Unit   UnitID
	Worker peer.ID
	Output cid.Cid
	At     time.Time
	// Took is the compute time the worker reports, used to correct its
	// advertised speed; 0 means unknown.
	Took time.Duration
	// FetchedBytes and FetchTook are the bytes of the unit's inputs the
	// worker fetched over the network for the run (not those it held) and
	// the wall time that took, as it reports them; 0 means nothing
	// fetched. A fetch of at least MinLinkSample bytes is a sample of the
	// worker's link rate (see the package doc, Data locality).
	FetchedBytes int64
	FetchTook    time.Duration
}

// UnitFailed reports that a run failed on its worker. The unit is retried on
// another worker until it has failed Config.MaxAttempts times.
type UnitFailed struct {
	Unit   UnitID
	Worker peer.ID
	Reason string
	// Deterministic marks failures that will repeat anywhere (the module
	// trapped, ran out of memory under its limit). The unit is still retried
	// to rule out a faulty worker, and the flag is reported.
	Deterministic bool
	// At is when the report arrived.
	At time.Time
}

// WorkerLost reports that a worker is gone (disconnected, or stopped
// answering). Its runs fail and are reassigned; it gets nothing until it is
// discovered again or bids again.
type WorkerLost struct {
	Worker peer.ID
}

// JobWithdrawn reports that the caller withdrew a job (its user cancelled
// it): its runs are cancelled and it ends as JobCancelled, without
// FinishJob or FailJob.
type JobWithdrawn struct {
	Job JobID
}

func (JobSubmitted) isEvent()      {}
func (WorkersDiscovered) isEvent() {}
func (BidReceived) isEvent()       {}
func (BidFailed) isEvent()         {}
func (UnitAccepted) isEvent()      {}
func (UnitRejected) isEvent()      {}
func (UnitProgressed) isEvent()    {}
func (UnitCompleted) isEvent()     {}
func (UnitFailed) isEvent()        {}
func (WorkerLost) isEvent()        {}
func (JobWithdrawn) isEvent()      {}
