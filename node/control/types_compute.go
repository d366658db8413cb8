package control

import (
	"time"

	"github.com/enxame/enxame/compute"
)

// Routes of the compute service. Jobs are answered as compute.JobInfo JSON,
// events as compute.Event NDJSON. A JobRequest's Job may be a unique prefix
// of a job ID; one matching several jobs is refused (CodeBadRequest, naming
// them). Cancel of a job already over is refused (CodeBadRequest).
const (
	PathSubmit  = APIPrefix + "/compute/submit"  // POST SubmitRequest → SubmitResult
	PathJob     = APIPrefix + "/compute/job"     // POST JobRequest → compute.JobInfo
	PathWait    = APIPrefix + "/compute/wait"    // POST JobRequest → compute.JobInfo when the job ends
	PathWatch   = APIPrefix + "/compute/watch"   // POST JobRequest → NDJSON compute.Event
	PathCancel  = APIPrefix + "/compute/cancel"  // POST JobRequest → SubmitResult (the job cancelled)
	PathJobs    = APIPrefix + "/compute/jobs"    // GET → []compute.JobInfo
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
// `enxame compute why` prints) and unit by unit (compute.JobWhy, the one
// definition of the explanation).
type WhyResult struct {
	Why string `json:"why"`
	compute.JobWhy
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
