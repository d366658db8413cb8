package control

import (
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
)

// Routes of the compute service. Jobs are answered as Job JSON, events as
// Event NDJSON. A JobRequest's Job may be a unique prefix
// of a job ID; one matching several jobs is refused (CodeBadRequest, naming
// them). Cancel of a job already over is refused (CodeBadRequest).
const (
	PathSubmit  = APIPrefix + "/compute/submit"  // POST SubmitRequest → SubmitResult
	PathJob     = APIPrefix + "/compute/job"     // POST JobRequest → Job
	PathWait    = APIPrefix + "/compute/wait"    // POST JobRequest → Job when the job ends
	PathWatch   = APIPrefix + "/compute/watch"   // POST JobRequest → NDJSON Event
	PathCancel  = APIPrefix + "/compute/cancel"  // POST JobRequest → SubmitResult (the job cancelled)
	PathJobs    = APIPrefix + "/compute/jobs"    // GET → []Job
	PathWhy     = APIPrefix + "/compute/why"     // POST JobRequest → WhyResult
	PathWorkers = APIPrefix + "/compute/workers" // GET → WorkersResult
	PathResult  = APIPrefix + "/compute/result"  // POST JobRequest → raw bytes of the result
	PathLogs    = APIPrefix + "/compute/logs"    // POST LogsRequest → LogsResult
)

// UnitRequest names one unit of a job.
type UnitRequest struct {
	Job  string `json:"job"`
	Unit int    `json:"unit"`
}

// SubmitRequest is a job to publish to the swarm.
type SubmitRequest struct {
	Module string   `json:"module"` // CID
	Inputs []string `json:"inputs,omitempty"`
	// InputNames, when set, name Inputs one for one: a unit sees each
	// input as /input/NAME.
	InputNames []string `json:"input_names,omitempty"`
	// Split is "", "bytes", "lines", "lines-per-unit" (N lines a unit), "range" or "each"; N parts; From and To bound
	// a range.
	Split      string        `json:"split,omitempty"`
	N          int           `json:"n,omitempty"`
	From       int64         `json:"from,omitempty"`
	To         int64         `json:"to,omitempty"`
	Args       []string      `json:"args,omitempty"`
	Replicas   int           `json:"replicas,omitempty"`
	Timeout    time.Duration `json:"timeout_ns,omitempty"`
	MemoryMiB  int           `json:"memory_mib,omitempty"`
	Reduce     string        `json:"reduce,omitempty"` // CID
	ReduceArgs []string      `json:"reduce_args,omitempty"`
}

// SubmitResult names the submitted job.
type SubmitResult struct {
	Job string `json:"job"`
}

// JobRequest names a job.
type JobRequest struct {
	Job string `json:"job"`
}

// WhyResult explains why a job's units are not running: as text (Why, what
// `enxame compute why` prints) and unit by unit.
type WhyResult struct {
	Why   string   `json:"why"`
	Job   string   `json:"job"`
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
	// progress (where it runs, or why it waits), else its outcome.
	Why string `json:"why"`
	// Failures are its failed runs, "WORKER: reason".
	Failures []string `json:"failures,omitempty"`
	// Stderr is the first lines of its last failed run's stderr.
	Stderr string `json:"stderr,omitempty"`
}

// JobState says where a job stands.
type JobState string

// States of a job.
const (
	JobActive    JobState = "active"
	JobDone      JobState = "done"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// UnitState says where a unit stands: "queued", "placed", "running",
// "voting", "done", "verified" (done, and replicas agreed), "abandoned"
// (its job ended first) or "waiting" (a reduce unit before its inputs
// exist).
type UnitState string

// Job is a job submitted from this peer, as PathJob, PathWait and PathJobs
// answer it.
type Job struct {
	ID        string    `json:"id"`
	State     JobState  `json:"state"`
	Spec      JobSpec   `json:"spec"`
	Units     []Unit    `json:"units"`
	Submitted time.Time `json:"submitted"`
	Ended     time.Time `json:"ended,omitzero"`
	// Error says why a failed job failed.
	Error string `json:"error,omitempty"`
	// ResultDir is the UnixFS directory of every map unit's output, each
	// named by its OutputName: the job's result as one CID. It is set when
	// the reduce starts, or when a job without one is done.
	ResultDir cid.Cid `json:"result_dir,omitzero"`
}

// Output returns the job's result: the reduce unit's output, or the single
// unit's; undefined while the job is not done, or when several units have
// no reduce (see Outputs).
func (j *Job) Output() cid.Cid {
	if j.State != JobDone || len(j.Units) == 0 {
		return cid.Undef
	}
	last := j.Units[len(j.Units)-1]
	if last.Reduce || len(j.Units) == 1 {
		return last.Output
	}
	return cid.Undef
}

// Outputs returns every unit's output, in unit order.
func (j *Job) Outputs() []cid.Cid {
	out := make([]cid.Cid, len(j.Units))
	for i, u := range j.Units {
		out[i] = u.Output
	}
	return out
}

// JobSpec is what a job runs, as submitted.
type JobSpec struct {
	Module     cid.Cid       `json:"module"`
	Inputs     []cid.Cid     `json:"inputs"`
	InputNames []string      `json:"input_names,omitempty"`
	Split      Split         `json:"split"`
	Args       []string      `json:"args,omitempty"`
	Replicas   int           `json:"replicas,omitempty"`
	Timeout    time.Duration `json:"timeout_ns,omitempty"`
	MemoryMiB  int           `json:"memory_mib,omitempty"`
	// MaxOutputBytes caps each unit's output; 0 is the worker's default.
	MaxOutputBytes int64    `json:"max_output_bytes,omitempty"`
	Reduce         cid.Cid  `json:"reduce,omitzero"`
	ReduceArgs     []string `json:"reduce_args,omitempty"`
}

// Split says how a job was cut into units: Kind is "none", "bytes",
// "lines", "range" or "each-input"; N parts; [From, To) of a range.
type Split struct {
	Kind string `json:"kind"`
	N    int    `json:"n,omitempty"`
	From int64  `json:"from,omitempty"`
	To   int64  `json:"to,omitempty"`
}

// Unit is one unit of a Job.
type Unit struct {
	Index  int       `json:"index"`
	Reduce bool      `json:"reduce,omitempty"`
	Status UnitState `json:"status"`
	Inputs []cid.Cid `json:"inputs"`
	Bytes  int64     `json:"bytes"`
	Args   []string  `json:"args,omitempty"`
	// Output is the accepted output; Receipts are the signed receipts of
	// the workers that agreed on it.
	Output   cid.Cid   `json:"output,omitzero"`
	Receipts []Receipt `json:"receipts,omitempty"`
	// Faulty are workers whose output for this unit lost the vote.
	Faulty []string `json:"faulty,omitempty"`
	// Failures are the unit's failed runs ("worker: reason").
	Failures []string `json:"failures,omitempty"`
	// Stderr is the first lines of the standard error of the unit's last
	// failed run that wrote any (PathLogs has all of it).
	Stderr string `json:"stderr,omitempty"`
	// File names the unit's output in the job's result directory when it
	// is not the default, the unit's index in six digits (see OutputName).
	File string `json:"file,omitempty"`
}

// OutputName is the name of u's output in its job's result directory:
// File, or the unit's index in six digits ("000007").
func (u *Unit) OutputName() string {
	if u.File != "" {
		return u.File
	}
	return fmt.Sprintf("%06d", u.Index)
}

// Receipt is a worker's signed statement that it ran a unit and what came
// out. Signature signs the other fields in the compute protocol's binary
// encoding (compute/wire), which a client must rebuild to check it.
type Receipt struct {
	Worker string    `json:"worker"`
	Job    string    `json:"job"`
	Unit   uint32    `json:"unit"`
	Module cid.Cid   `json:"module"`
	Inputs []cid.Cid `json:"inputs"`
	Args   []string  `json:"args"`
	Output cid.Cid   `json:"output"`
	// Took is the run's wall time on the worker.
	Took time.Duration `json:"took_ns"`
	// PeakMemory is the unit's largest linear memory, in bytes.
	PeakMemory uint64 `json:"peak_memory"`
	// Finished is when the run ended, in Unix nanoseconds by the worker's
	// clock.
	Finished  int64  `json:"finished_ns"`
	Signature []byte `json:"signature"`
}

// EventKind names a progress event of a job or unit.
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
	EventJobDone      EventKind = "job-done"  // Output: the job's result, else its result directory
	EventJobFailed    EventKind = "job-failed"
	EventJobCancelled EventKind = "job-cancelled"
)

// Event is one progress event of PathWatch. Unit is -1 for job events.
type Event struct {
	Job    string    `json:"job"`
	Unit   int       `json:"unit"`
	Kind   EventKind `json:"event"`
	Worker string    `json:"worker,omitempty"`
	Output cid.Cid   `json:"output,omitzero"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// WorkersResult is what this peer knows of compute workers.
type WorkersResult struct {
	// Self is this peer's own worker, nil when compute is off here.
	Self *WorkerSelf `json:"self,omitempty"`
	// Known are the workers this peer's scheduler has seen.
	Known []WorkerInfo `json:"known"`
}

// WorkerSelf is this peer's worker.
type WorkerSelf struct {
	ID        string  `json:"id"`
	Slots     int     `json:"slots"`
	Running   int     `json:"running"`
	Queued    int     `json:"queued"`
	Completed int     `json:"completed"`
	Failed    int     `json:"failed"`
	Rejected  int     `json:"rejected"`
	Speed     float64 `json:"speed"`
}

// WorkerInfo is one worker as this peer's scheduler sees it.
type WorkerInfo struct {
	ID        string  `json:"id"`
	Lost      bool    `json:"lost,omitempty"`
	Slots     int     `json:"slots"`
	FreeSlots int     `json:"free_slots"`
	QueueLen  int     `json:"queue"`
	Speed     float64 `json:"speed"`
	InFlight  int     `json:"in_flight"`
	Completed int     `json:"completed"`
	Failed    int     `json:"failed"`
	Outvoted  int     `json:"outvoted"`
	Stalled   int     `json:"stalled"`
	BidErr    string  `json:"bid_error,omitempty"`
}

// LogsRequest asks for the logs of a job's runs: of every unit, or of Unit
// when it is set.
type LogsRequest struct {
	Job  string `json:"job"`
	Unit *int   `json:"unit,omitempty"`
}

// LogsResult holds the kept logs of a job's runs, by unit and then by time.
type LogsResult struct {
	// State is the job's state: a follower stops once it is not "active".
	State string   `json:"state"`
	Logs  []RunLog `json:"logs"`
}

// RunLog is one run of a unit: its worker, exit code and standard error.
type RunLog struct {
	Unit   int    `json:"unit"`
	Worker string `json:"worker"`
	// Failure is why the run failed; empty when it returned an output.
	Failure  string `json:"failure,omitempty"`
	ExitCode uint32 `json:"exit_code"`
	// Stderr is at most 32 KiB: when the run wrote more, its head and tail
	// with a line "[... N bytes dropped ...]" between them, and Truncated
	// set.
	Stderr    string    `json:"stderr"`
	Truncated bool      `json:"truncated,omitempty"`
	At        time.Time `json:"at"`
}
