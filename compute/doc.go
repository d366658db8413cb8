// Package compute is enxame's compute service: it runs other peers' work
// units (Worker) and schedules this peer's own jobs across the swarm
// (Submitter), over the /enxame/compute/1.1.0 protocol (compute/wire,
// described in DESIGN.md).
//
// A job is a WebAssembly module (a WASI command, stored by CID) with inputs
// (CIDs), arguments, limits and a replication factor, cut into work units:
// one unit, N parts of one input (by bytes or by lines, each part stored as
// its own CID), one unit per input, or N sub-ranges of A:B passed as
// arguments; and an optional reduce unit whose inputs are the other units'
// outputs, in unit order.
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
