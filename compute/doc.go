// Package compute is enxame's compute service: it runs other peers' work
// units (Worker) and schedules this peer's own jobs across the swarm
// (Submitter), over the /enxame/compute/1.3.0 protocol (compute/wire,
// described in DESIGN.md).
//
// # Glossary
//
// One word per thing, in compute, compute/sched, compute/wire and the CLI:
//
//   - job: what a user submits (JobSpec): a module, inputs, arguments,
//     limits and a replica count; named by a JobID on its submitter.
//   - unit: one piece of a job, run by one worker per replica (its index is
//     its place in the job; the reduce unit is the last). A run is one
//     attempt of a unit on one worker.
//   - replica: one of the k runs of a unit on distinct workers that must
//     agree (majority of identical output CIDs) before its output is
//     accepted; k is the job's Replicas, its trust setting.
//   - worker: a peer that runs other peers' units (Worker), announced under
//     ComputeKey.
//   - submitter: the peer that published a job and schedules it (Submitter);
//     there is no central scheduler.
//   - bid: a worker's answer to a bid request: free slots, queue, speed,
//     memory, the inputs it holds; placement reads bids.
//   - receipt: a worker's signed statement of a run (wire.Receipt): module,
//     inputs, arguments, output CID; kept with the job.
//   - reduce: the optional last unit whose inputs are the other units'
//     outputs, in unit order.
//   - log: a run's exit code and stderr (RunLog), sent with its result and
//     kept beside the job.
//   - event: an input of the scheduler core, something that happened, named
//     in the past tense (sched.UnitCompleted, sched.JobWithdrawn); also the
//     progress Events a Submitter streams to watchers (EventKind).
//   - action: an output of the scheduler core, something to do, named in the
//     imperative (sched.AssignUnit, sched.FinishJob, sched.FailJob).
//   - states: where a job stands is a JobState (active, done, failed,
//     cancelled); where a unit stands, a UnitState (queued, placed, running,
//     voting, done, verified, abandoned, and waiting: a reduce unit before
//     its inputs exist); where a run stands, a sched.RunState. compute's
//     JobState and UnitState are sched's: one vocabulary. The scheduler's
//     snapshots of them are sched.JobSnapshot, UnitSnapshot, RunSnapshot
//     and WorkerSnapshot.
//
// Jobs are persisted as versioned records of their own (record.go), apart
// from JobInfo, the snapshot the control API answers with: renaming a
// field of one is not a migration of the other.
//
// A job is a WebAssembly module (a WASI command, stored by CID) with inputs
// (CIDs), arguments, limits and a replication factor, cut into work units:
// one unit, N parts of one input (by bytes or by lines, each part stored as
// its own CID), one unit per input, or N sub-ranges of A:B passed as
// arguments; and an optional reduce unit whose input is the directory of
// the other units' outputs (JobInfo.ResultDir), one file per unit in unit
// order. A job that no worker could be sent is refused by Submit.
//
// Workers announce themselves in the DHT under ComputeKey, answer bids with
// their free slots, queue, measured speed and which inputs they hold, fetch
// modules and inputs by CID through Content, run units in the sandbox pool
// (compute/sandbox), store outputs through Content and answer with a receipt
// signed by their libp2p key. A Submitter owns one compute/sched.Scheduler in
// one goroutine: it finds workers through Discovery and its connected peers,
// collects bids, executes the scheduler's placements, verifies receipts,
// accepts outputs by majority vote when replicated, and keeps jobs and
// receipts in a datastore.
//
// compute declares the interfaces it consumes (Content, Discovery, Runner):
// node wires in share, the DHT router and the sandbox pool. It imports
// compute/sched, compute/sandbox, compute/wire and go-libp2p's core/
// packages; it must not import node, cli, dht, share or simnet.
package compute
