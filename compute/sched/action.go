package sched

import (
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Action is an output of Scheduler.Next, for the caller to carry out. It is
// one of RequestBids, AssignUnit, CancelUnit, AcceptResult, RecordFaulty,
// FinishJob, FailJob and NeedWorkers.
type Action interface{ isAction() }

// RequestBids asks workers for a bid for a job: their free slots, queue,
// speed, memory cap and which of the job's inputs they hold. Each answer
// comes back as BidReceived or BidFailed; silence past Deadline counts as no
// bid.
type RequestBids struct {
	Job      JobID
	Workers  []peer.ID
	Deadline time.Time
}

// AssignUnit sends one run of a unit to a worker. The worker answers with
// UnitAccepted or UnitRejected, heartbeats with UnitProgressed, and ends with
// UnitCompleted or UnitFailed. The run must end by Deadline.
type AssignUnit struct {
	Unit UnitID
	// Replica numbers the unit's runs from 0 in the order they are started;
	// numbers of failed or cancelled runs are not reused.
	Replica  int
	Worker   peer.ID
	Deadline time.Time
	// Backup marks an end-game backup of a straggling run (Config.Backups).
	Backup bool
}

// CancelUnit tells a worker to drop a run: it stalled, missed its deadline,
// is no longer needed, or its job ended. Whatever the worker reports for it
// afterwards is ignored.
type CancelUnit struct {
	Unit   UnitID
	Worker peer.ID
	Reason string
}

// AcceptResult settles a unit's output: Agreeing are the workers whose runs
// returned it (a majority of the replicas, or the single run when
// Replicas is 1).
type AcceptResult struct {
	Unit     UnitID
	Output   cid.Cid
	Agreeing []peer.ID
}

// RecordFaulty reports a worker whose output lost a vote. The scheduler
// avoids it for Config.AvoidFor; the caller may also score it down.
type RecordFaulty struct {
	Worker peer.ID
	Unit   UnitID
	Reason string
}

// FinishJob tells the caller that every unit of a job has an accepted
// result: collect Outputs (Outputs[i] is unit i's) and end the job.
type FinishJob struct {
	Job     JobID
	Outputs []cid.Cid
}

// FailJob tells the caller to end a job that cannot complete: Unit failed on
// Config.MaxAttempts workers, or its replicas disagreed without a majority
// within Config.MaxExtraReplicas extra runs. Failures are every failed run of
// that unit.
type FailJob struct {
	Job      JobID
	Unit     UnitID
	Reason   string
	Failures []Failure
}

// NeedWorkers reports that a job has units nobody known can take; the
// caller should look for more workers and report them with
// WorkersDiscovered. Wait says why the first such unit waits, as
// UnitSnapshot.Wait would.
type NeedWorkers struct {
	Job  JobID
	Wait Wait
}

func (RequestBids) isAction()  {}
func (AssignUnit) isAction()   {}
func (CancelUnit) isAction()   {}
func (AcceptResult) isAction() {}
func (RecordFaulty) isAction() {}
func (FinishJob) isAction()    {}
func (FailJob) isAction()      {}
func (NeedWorkers) isAction()  {}

// FailureKind classifies a failed run.
type FailureKind int

const (
	// FailedOnWorker: the worker reported UnitFailed.
	FailedOnWorker FailureKind = iota
	// FailedLost: the worker was lost while holding the run.
	FailedLost
	// FailedStalled: no sign of life within Config.StallTimeout.
	FailedStalled
	// FailedDeadline: the run was still going at its deadline.
	FailedDeadline
)

// String returns a lowercase word for k.
func (k FailureKind) String() string {
	switch k {
	case FailedOnWorker:
		return "failed"
	case FailedLost:
		return "worker lost"
	case FailedStalled:
		return "stalled"
	case FailedDeadline:
		return "deadline missed"
	default:
		return "unknown"
	}
}

// Failure is one failed run of a unit.
type Failure struct {
	Unit          UnitID
	Worker        peer.ID
	Kind          FailureKind
	Reason        string
	Deterministic bool
	At            time.Time
}
