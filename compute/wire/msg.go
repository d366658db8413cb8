package wire

import (
	"math"
	"time"

	"github.com/ipfs/go-cid"
)

// Limits are the resources one run of a unit may use. Zero fields mean the
// worker's defaults.
type Limits struct {
	// MemoryBytes caps the unit's linear memory.
	MemoryBytes uint64
	// WallTime caps the run's wall time, compilation included.
	WallTime time.Duration
	// MaxOutputBytes caps the unit's stdout.
	MaxOutputBytes uint64
}

func (l *Limits) encode(e *encoder) {
	e.uvarint(l.MemoryBytes)
	e.duration("limits.wall_time", l.WallTime)
	e.uvarint(l.MaxOutputBytes)
}

func (l *Limits) decode(d *decoder) {
	l.MemoryBytes = d.uvarint("limits.memory")
	l.WallTime = d.duration("limits.wall_time")
	l.MaxOutputBytes = d.uvarint("limits.max_output")
}

// BidRequest asks a worker what it would offer for a job's units: the
// submitter opens a stream, writes a BidRequest and reads one Bid (or an
// Error).
type BidRequest struct {
	Job    string
	Module cid.Cid
	// Inputs are the job's input CIDs; the bid says which the worker holds.
	Inputs []cid.Cid
	Limits Limits
}

// Kind returns KindBidRequest.
func (*BidRequest) Kind() Kind { return KindBidRequest }

func (m *BidRequest) encode(e *encoder) {
	e.string("job", m.Job, MaxJobLen)
	e.cid("module", m.Module)
	e.cids("inputs", m.Inputs)
	m.Limits.encode(e)
}

func (m *BidRequest) decode(d *decoder) {
	m.Job = d.string("job", MaxJobLen)
	m.Module = d.cid("module")
	m.Inputs = d.cids("inputs")
	m.Limits.decode(d)
}

// Bid is a worker's answer to a BidRequest.
type Bid struct {
	// Busy means the worker takes no unit from this submitter now.
	Busy bool
	// Slots is how many units the worker runs at once.
	Slots uint32
	// FreeSlots is how many of them are idle.
	FreeSlots uint32
	// QueueLen is how many accepted units wait for a slot.
	QueueLen uint32
	// Speed is the worker's measured speed in cost units per second per
	// slot (compute.UnitCost defines a unit's cost).
	Speed float64
	// MaxMemory is the most linear memory, in bytes, the worker gives a
	// unit.
	MaxMemory uint64
	// HasInputs lists the requested module and inputs the worker holds.
	HasInputs []cid.Cid
	// HeldBytes, when not empty, has one entry per HasInputs: the bytes of
	// that content the worker holds (the DAG's size under a root it has),
	// at most MaxHeldBytes; 0 means unknown. A submitter trusts it only as
	// far as the sizes it knows: it can only make the worker look closer
	// to the data, and a worker that lied then fetches the data itself.
	HeldBytes []uint64
	// LinkRate is the worker's own estimate, in bytes per second, of the
	// rate at which it fetches unit inputs it does not hold: a decayed
	// average over its recent fetches for any submitter. 0 means unknown.
	// A submitter that has measured the worker itself (Result's
	// FetchedBytes and FetchTook) prefers its own figure.
	LinkRate float64
}

// Kind returns KindBid.
func (*Bid) Kind() Kind { return KindBid }

func (m *Bid) encode(e *encoder) {
	e.bool(m.Busy)
	e.bounded("slots", uint64(m.Slots), MaxSlots)
	e.bounded("free_slots", uint64(m.FreeSlots), MaxSlots)
	e.bounded("queue_len", uint64(m.QueueLen), MaxSlots)
	e.float("speed", m.Speed)
	e.float("link_rate", m.LinkRate)
	e.uvarint(m.MaxMemory)
	e.cids("has_inputs", m.HasInputs)
	if len(m.HeldBytes) > 0 && len(m.HeldBytes) != len(m.HasInputs) {
		e.fail("held_bytes: %d sizes for %d CIDs", len(m.HeldBytes), len(m.HasInputs))
	}
	e.bool(len(m.HeldBytes) > 0)
	for _, n := range m.HeldBytes {
		e.bounded("held_bytes", n, MaxHeldBytes)
	}
}

func (m *Bid) decode(d *decoder) {
	m.Busy = d.bool("busy")
	m.Slots = uint32(d.bounded("slots", MaxSlots))
	m.FreeSlots = uint32(d.bounded("free_slots", MaxSlots))
	m.QueueLen = uint32(d.bounded("queue_len", MaxSlots))
	m.Speed = d.float("speed")
	m.LinkRate = d.float("link_rate")
	m.MaxMemory = d.uvarint("max_memory")
	m.HasInputs = d.cids("has_inputs")
	if d.bool("held_bytes") {
		if len(m.HasInputs) == 0 {
			d.fail("held_bytes: sizes without CIDs")
			return
		}
		m.HeldBytes = make([]uint64, len(m.HasInputs))
		for i := range m.HeldBytes {
			m.HeldBytes[i] = d.bounded("held_bytes", MaxHeldBytes)
		}
		if d.err != nil {
			m.HeldBytes = nil
		}
	}
}

// RunUnit assigns one run of a unit to a worker: the submitter opens a
// stream and writes it; the worker answers Accepted or Rejected, then
// Progress heartbeats, then one Result or Failed. The submitter may write a
// Cancel (or close or reset the stream) at any time to drop the run.
type RunUnit struct {
	Job    string
	Unit   uint32
	Module cid.Cid
	// Inputs are mounted read-only under /input, the i-th as a file named
	// by its index (compute.InputName).
	Inputs []cid.Cid
	Args   []string
	// Seed seeds the unit's random source; replicas use the same seed.
	Seed   uint64
	Limits Limits
}

// Kind returns KindRunUnit.
func (*RunUnit) Kind() Kind { return KindRunUnit }

func (m *RunUnit) encode(e *encoder) {
	e.string("job", m.Job, MaxJobLen)
	e.bounded("unit", uint64(m.Unit), MaxUnit)
	e.cid("module", m.Module)
	e.cids("inputs", m.Inputs)
	e.strings("args", m.Args, MaxArgs, MaxArgLen)
	e.uvarint(m.Seed)
	m.Limits.encode(e)
}

func (m *RunUnit) decode(d *decoder) {
	m.Job = d.string("job", MaxJobLen)
	m.Unit = uint32(d.bounded("unit", MaxUnit))
	m.Module = d.cid("module")
	m.Inputs = d.cids("inputs")
	m.Args = d.strings("args", MaxArgs, MaxArgLen)
	m.Seed = d.uvarint("seed")
	m.Limits.decode(d)
}

// Accepted tells the submitter that the worker holds the run, queued or
// running.
type Accepted struct {
	// QueueLen is how many units wait ahead of this one.
	QueueLen uint32
}

// Kind returns KindAccepted.
func (*Accepted) Kind() Kind { return KindAccepted }

func (m *Accepted) encode(e *encoder) { e.bounded("queue_len", uint64(m.QueueLen), MaxSlots) }
func (m *Accepted) decode(d *decoder) { m.QueueLen = uint32(d.bounded("queue_len", MaxSlots)) }

// RejectReason says why a worker refused a run.
type RejectReason uint8

// Reasons of Rejected.
const (
	// RejectBusy: no room for this submitter now (capacity or fair share).
	RejectBusy RejectReason = 1
	// RejectLimits: the unit's limits are above the worker's maxima.
	RejectLimits RejectReason = 2
	// RejectOther: any other refusal (a malformed request).
	RejectOther RejectReason = 3
)

// String returns a lowercase word for r.
func (r RejectReason) String() string {
	switch r {
	case RejectBusy:
		return "busy"
	case RejectLimits:
		return "limits"
	case RejectOther:
		return "other"
	}
	return "unknown"
}

// Rejected tells the submitter that the worker refused a run; the stream
// ends after it.
type Rejected struct {
	Reason RejectReason
	Detail string
}

// Kind returns KindRejected.
func (*Rejected) Kind() Kind { return KindRejected }

func (m *Rejected) encode(e *encoder) {
	if m.Reason < RejectBusy || m.Reason > RejectOther {
		e.fail("reason: %d out of range", m.Reason)
	}
	e.uvarint(uint64(m.Reason))
	e.string("detail", m.Detail, MaxDetailLen)
}

func (m *Rejected) decode(d *decoder) {
	r := d.bounded("reason", uint64(RejectOther))
	if d.err == nil && r < uint64(RejectBusy) {
		d.fail("reason: %d out of range", r)
	}
	m.Reason = RejectReason(r)
	m.Detail = d.string("detail", MaxDetailLen)
}

// Progress is a heartbeat of an accepted run.
type Progress struct {
	// Running is false while the run waits in the worker's queue.
	Running bool
}

// Kind returns KindProgress.
func (*Progress) Kind() Kind { return KindProgress }

func (m *Progress) encode(e *encoder) { e.bool(m.Running) }
func (m *Progress) decode(d *decoder) { m.Running = d.bool("running") }

// Log is what a run wrote to its standard error and how it exited: it
// travels with a Result or Failed, outside the signed receipt.
type Log struct {
	// ExitCode is the module's exit status (0 with a Result; 0 also when
	// it did not exit by itself: a timeout, a trap, ...).
	ExitCode uint32
	// Stderr is the run's standard error, at most MaxStderrLen bytes:
	// when more was written, its head and its tail with a line
	// "[... N bytes dropped ...]" between them.
	Stderr []byte
	// Truncated reports that bytes of stderr were dropped, by the
	// worker's sandbox cap or by MaxStderrLen.
	Truncated bool
}

func (l *Log) encode(e *encoder) {
	e.uvarint(uint64(l.ExitCode))
	e.bytes("stderr", l.Stderr, MaxStderrLen)
	e.bool(l.Truncated)
}

func (l *Log) decode(d *decoder) {
	l.ExitCode = uint32(d.bounded("exit_code", math.MaxUint32))
	if l.Stderr = d.bytes("stderr", MaxStderrLen); len(l.Stderr) == 0 {
		l.Stderr = nil
	}
	l.Truncated = d.bool("truncated")
}

// Result ends a run that exited 0: the receipt names the output CID, which
// the worker has stored (Content.PutTemp) and serves.
type Result struct {
	Receipt Receipt
	Log     Log
	// Inline says Output carries the output's bytes (at most
	// MaxInlineOutput), so that the submitter need not fetch them: it
	// checks them against Receipt.Output before it keeps them, and fetches
	// the output from the worker when they do not match.
	Inline bool
	Output []byte
	// FetchedBytes is how many bytes of the unit's inputs the worker
	// fetched over the network for this run (not those it held), at most
	// MaxHeldBytes, and FetchTook the wall time that fetch took; both 0
	// when it fetched nothing. The submitter learns the worker's link rate
	// from them (compute/sched).
	FetchedBytes uint64
	FetchTook    time.Duration
}

// Kind returns KindResult.
func (*Result) Kind() Kind { return KindResult }

func (m *Result) encode(e *encoder) {
	m.Receipt.encode(e)
	m.Log.encode(e)
	e.bounded("fetched_bytes", m.FetchedBytes, MaxHeldBytes)
	e.duration("fetch_took", m.FetchTook)
	e.bool(m.Inline)
	switch {
	case m.Inline:
		e.bytes("output", m.Output, MaxInlineOutput)
	case len(m.Output) > 0:
		e.fail("output: %d bytes not marked inline", len(m.Output))
	}
}

func (m *Result) decode(d *decoder) {
	m.Receipt.decode(d)
	m.Log.decode(d)
	m.FetchedBytes = d.bounded("fetched_bytes", MaxHeldBytes)
	m.FetchTook = d.duration("fetch_took")
	if m.Inline = d.bool("inline"); m.Inline {
		if m.Output = d.bytes("output", MaxInlineOutput); len(m.Output) == 0 {
			m.Output = nil
		}
	}
}

// Failed ends a run that did not exit 0 or could not be started.
type Failed struct {
	// Reason is a short word: a sandbox reason ("timeout", "trap",
	// "memory", ...) or "fetch", "store", "internal".
	Reason string
	Detail string
	// Deterministic marks failures the module causes wherever it runs.
	Deterministic bool
	// Took is the run's wall time on the worker.
	Took time.Duration
	// Log is the run's stderr and exit code, when it ran.
	Log Log
}

// Kind returns KindFailed.
func (*Failed) Kind() Kind { return KindFailed }

func (m *Failed) encode(e *encoder) {
	e.string("reason", m.Reason, 64)
	e.string("detail", m.Detail, MaxDetailLen)
	e.bool(m.Deterministic)
	e.duration("took", m.Took)
	m.Log.encode(e)
}

func (m *Failed) decode(d *decoder) {
	m.Reason = d.string("reason", 64)
	m.Detail = d.string("detail", MaxDetailLen)
	m.Deterministic = d.bool("deterministic")
	m.Took = d.duration("took")
	m.Log.decode(d)
}

// Cancel drops the run of the stream it is written on.
type Cancel struct {
	Reason string
}

// Kind returns KindCancel.
func (*Cancel) Kind() Kind { return KindCancel }

func (m *Cancel) encode(e *encoder) { e.string("reason", m.Reason, MaxDetailLen) }
func (m *Cancel) decode(d *decoder) { m.Reason = d.string("reason", MaxDetailLen) }

// ErrorCode classifies an Error.
type ErrorCode uint8

// Codes of Error.
const (
	// CodeBadRequest: the peer's message was malformed or unexpected.
	CodeBadRequest ErrorCode = 1
	// CodeInternal: the worker could not serve a valid request.
	CodeInternal ErrorCode = 2
)

// Error reports a protocol-level failure; the stream ends after it.
type Error struct {
	Code   ErrorCode
	Detail string
}

// Kind returns KindError.
func (*Error) Kind() Kind { return KindError }

func (m *Error) encode(e *encoder) {
	if m.Code < CodeBadRequest || m.Code > CodeInternal {
		e.fail("code: %d out of range", m.Code)
	}
	e.uvarint(uint64(m.Code))
	e.string("detail", m.Detail, MaxDetailLen)
}

func (m *Error) decode(d *decoder) {
	c := d.bounded("code", uint64(CodeInternal))
	if d.err == nil && c < uint64(CodeBadRequest) {
		d.fail("code: %d out of range", c)
	}
	m.Code = ErrorCode(c)
	m.Detail = d.string("detail", MaxDetailLen)
}

// maxInt64 bounds fields that hold times.
const maxInt64 = math.MaxInt64
