/*
Package sched decides where the work units of a peer's own jobs run: which
workers to ask for bids, which worker gets each unit, when a unit is given up
on a worker and placed again, when a result is accepted, when a worker is
faulty, and when a job is done or has failed.

There is no central coordinator in enxame: the peer that submits a job
schedules it, the way a BitTorrent client drives its own download. This
package is the decision core of that submitter. It is a pure, deterministic
state machine in the style of etcd raft's RawNode: it does no I/O, starts no
goroutines, takes no locks, reads no clock, logs nothing and draws randomness
only from the *rand.Rand it is given. It imports only the standard library
and the value types peer.ID and cid.Cid; it must never import libp2p beyond
core/peer, the DHT, compute, node or anything that does I/O. Everything
remote reaches it as an event; everything it wants done leaves it as an
action. The same configuration, seed and events give the same actions.

# Usage

Create one Scheduler per peer, for all the jobs that peer submits (they share
the workers, and the scheduler must see all the runs it has put on each
worker):

	s, err := sched.New(cfg, rand.New(rand.NewPCG(seed1, seed2)))

Then, in the single goroutine that owns s (the shell), you have these duties:

First, feed every event to Observe, in the order it happened:

  - JobSubmitted when the user submits a job (unit i of the job is
    UnitID{Job, i});
  - WorkersDiscovered with the workers a DHT lookup found;
  - BidReceived or BidFailed for every worker asked by RequestBids, in the
    order each worker answered;
  - UnitAccepted, UnitRejected, UnitProgressed, UnitCompleted, UnitFailed as
    workers report on their runs;
  - WorkerLost when the connection to a worker drops or it stops answering;
  - JobWithdrawn when the user cancels.

Stamp the At fields with your own clock when the event reaches you; never
copy a time from a remote peer. Observe returns an error only when you misuse
it (a malformed or duplicate job, an unknown job, a nil event); reports about
runs the scheduler does not know, or no longer cares about, are ignored.

Second, after each batch of events and whenever the time returned by WakeAt
arrives, call Next with the current time and carry out the returned actions in
order:

 1. RequestBids: ask each listed worker, concurrently, for a bid for the job,
    with the given deadline; report each answer as BidReceived (stating the
    worker's slots, free slots, queue length, speed per slot, memory cap and
    which of the job's input CIDs it holds) or BidFailed. Silence is fine: the
    scheduler stops waiting at the deadline.
 2. AssignUnit: send the unit to the worker with the deadline, and make sure
    the worker can fetch the inputs by CID. Report the worker's acceptance or
    rejection, relay its heartbeats (a worker must heartbeat every unit it
    holds, queued or running, well within Config.StallTimeout), and report the
    end of the run.
 3. CancelUnit: tell the worker to drop the run; ignore what it says about it
    afterwards (the scheduler does too).
 4. AcceptResult: the unit's output CID is settled; record it.
 5. RecordFaulty: the worker's output lost a vote; score it down if you keep
    scores. The scheduler already avoids it for Config.AvoidFor.
 6. FinishJob or FailJob: the job is over; tell the user. Call Forget when you
    no longer need Units or Job for it.
 7. NeedWorkers: look for more workers (a DHT lookup) and report them with
    WorkersDiscovered.

Third, set a timer for WakeAt. The scheduler has timeouts (bid deadlines,
stalled runs, run deadlines, re-bids) but never reads the clock, so unless
Next is called at or after that time, nothing times out.

The whole shell loop looks like this:

	for {
		for _, a := range s.Next(clock.Now()) {
			execute(a) // sends requests; replies come back on events
		}
		timer.Reset(until(s.WakeAt()))
		select {
		case ev := <-events:
			s.Observe(ev)
		case <-timer.C:
		case <-ctx.Done():
			return
		}
	}

Fourth, serve progress and explanations from the snapshots: Jobs, Job,
Units, Unit and Workers give plain values (UnitSnapshot.Wait says why a
unit waits, as a reason and counts of workers, never as prose: the caller
words them, as the compute package does for `enxame compute why`). None of
them changes the scheduler.

# Placement

A job's first bids are awaited (all asked workers answer, or
Config.BidTimeout passes) before any of its units is placed, so that the first
worker to answer does not get everything. Then every call to Next runs one
placement pass. Queued units are taken in job order and, within a job,
retried units first, then the largest first (so that long units do not end
up last and stretch the makespan), then by index. Each unit goes to the
worker with the earliest predicted finish:

	finish = max(start, transfer) + EstCost × scale / speed   (room now)
	finish = start + transfer + EstCost × scale / speed        (waits here)

where start is when the worker will have a slot for it (now if it has room;
otherwise when enough of the runs we put there end, from their predicted
ends, plus a guess for other submitters' queued units), transfer is the bytes
of the unit's inputs the worker does not hold divided by the worker's link
rate (see Data locality), speed is the worker's bid speed, replaced by an average
measured from completed runs as they come in (see below), and scale is the
job's (see below). A run given to a worker now fetches its inputs while it
waits in the worker's queue (Config.QueueAllowance); one that waits here
for a slot is given, and starts fetching, only once the slot is free. Until a worker has a measured speed, its bid speed is held
within the range measured on the others (a worker that never ran a unit bids
a configured hint that may be off by an order of magnitude).

# Speed

EstCost is a guess made by the submitter (the compute layer's is 1 + MiB of
input), and it is comparable only among the units of one job: same module,
same cost model. Across jobs it can be wrong by orders of magnitude: a sum
reduce is one unit with the same EstCost as a prime-search range but takes a
thousandth of its time. A speed measured as EstCost / Took would make the
worker that ran the reduce look a thousand times faster; it would get every
unit from then on, and the other workers would never run one that could
correct their figures.

So a worker's speed is relative, and each job has its own scale: the
seconds one unit of its EstCost takes at speed 1, estimated as the median,
over the job's completed runs, of Took × speed / EstCost. A completed run
teaches its worker EstCost × scale / Took: how fast it ran compared with the
job's other runs. The first run of a job has nothing to compare with, so it
only sets the job's scale (a job of one unit, such as a reduce, never moves
a speed), except on a scheduler that has measured no worker yet, where
EstCost is taken in the bids' units (scale 1). The median ignores a minority
of odd runs (a cached output, a unit whose estimate is off); an odd run that
is first still only sets a scale the next ones outvote. Each sample is
further bounded to within ×2 of the worker's current figure before it is
averaged in (weight 0.3), so one run moves a measured speed by at most ×1.3
up or ×0.85 down, while a real change of speed is still followed within a
few runs. A job with no completed run yet is predicted with the scale of the
last job that had two, so predicted times stay in seconds.
Workers whose predicted finish is within Config.NearTie of the best are
equal, and one of them is picked at random (preferring those with room now),
so that independent submitters seeing the same bids do not all herd onto one
worker.

When the best worker is full, the unit is not put on a slower worker with
room: it waits for the fast one, and the slot it will take is reserved in
the pass's plan so that the next units see that worker as busier. This
planning is what keeps slow workers from being handed long units at the end
of a job; with it, 1000 units on 50 heterogeneous workers finish within a few
per cent of the lower bound. A run overdue by d is expected to need about d
more, so a worker whose runs overrun its estimates loses its appeal.
Likewise for slots held by units we know nothing about (another
submitter's, or one of ours we cancelled that the worker is still tearing
down): each is guessed to take as long as the unit placed, and at least as
long again as the time since the worker's bid, during which it told us of
no free slot. A unit waiting for such a worker is looked at again after
that time (at least 100 ms, at most Config.RebidInterval), so it moves to a
slower worker with room once waiting stops paying, rather than waiting
for the next bid round, which can leave a job's reduce queued for a minute
(TestSimFullFastWorker). Workers whose bid is older than half of
Config.RebidInterval are asked again at each rebid round, so a full worker
is asked once per interval, not every other one (TestRebidFullWorker).

This is also what lets a worker believed slow still get work, and so
correct its figure: the plan gives it a unit as soon as the queue a faster
worker would have to work through ends later than its own one run would. A
worker stays idle while units wait only when its figure says it is slower
than the others by more than the queued units per free slot; the learning
below keeps one odd run from skewing a figure that far (the bug that made a
worker look 25× faster and left the other idle), and a worker that really
ran slow for a while gets units again once its figure is within that ratio
(TestSlowFigureCorrected).

Once none of a job's units waits for a worker (its end game), slots that
would otherwise idle take backup runs, as MapReduce's backup tasks do: the
unit predicted to end last first, on the worker with room that would finish
it earliest, when that is more than 10 % sooner than its straggling run is
predicted to end (Config.Backups runs per unit, default 1). A backup is one
more run of the unit: the first results that settle it win (with replicas,
still a majority of distinct workers) and the runs still going are
cancelled. A backup that fails counts as a failed attempt; the straggler
goes on.

A worker is never given more runs than its bid's free slots, less the units
queued there when it bid, plus Config.QueueAllowance. Runs assigned before a
bid request count as known to the worker when it answers; each of them that
ends afterwards frees a slot; runs assigned after the request count against
the bid. An unsolicited bid counts all our runs against it, which can only
underestimate the worker's room.

A run never goes to a worker that already ran, failed or refused its unit, to
a worker whose memory cap is below the unit's limit, to a lost worker, to a
worker avoided after losing a vote (Config.AvoidFor) or to one backing off
after a stall or a missed deadline (Config.BackoffFor).

# Faults and verification

A run fails when its worker reports UnitFailed, is lost, goes
Config.StallTimeout without a sign of life, or is still running at its
deadline (predicted start plus the unit's WallTime, or Config.UnitDeadline,
plus Config.DeadlineGrace, so that a worker's own timeout is reported first).
The last two also send CancelUnit. The unit is then placed again on another
worker; after Config.MaxAttempts failed runs the job fails with every reason.
A failure marked Deterministic (the module trapped) is still retried, to rule
out a bad worker, and reported as such; but when every one of a unit's
failures is deterministic and no known worker that is not lost is left to
try it (all ran, failed or refused it), the job fails at once with the
reasons, before MaxAttempts, instead of waiting for workers that may never
come. A rejection is not a failure: a busy
worker gets no more units until one of ours ends there or it bids again; a
worker that rejects a unit's limits never gets that unit again.

With Replicas k > 1 each unit runs on k distinct workers and a result is
accepted when ⌊k/2⌋+1 runs return the same output CID (Wasm is
deterministic). Runs still going then are cancelled. If the results cannot
reach a majority, more runs are started on new workers, up to
Config.MaxExtraReplicas beyond k; past that the job fails. Workers whose
outputs lost the vote are reported with RecordFaulty and avoided for
Config.AvoidFor.

Reputation: each worker has a local score in (0, 1], halved each time its
output loses a vote and raised by 1/16 per accepted result it agreed with
(only results checked against another count). While the score is below
0.75 the worker's predicted finishes are divided by its score, so it draws
fewer units, and a unit placed on it gets one more replica and needs one
more agreeing vote, even with Replicas 1.

Data locality: a bid lists the unit inputs the worker holds
(BidReceived.HasInputs) and how many bytes of each (HeldBytes), which also
tells the size of an input the caller did not know the size of (the
smallest claim, so that a liar's huge claim beside honest holders changes
nothing; at most 1 GiB); a worker given a unit is taken to hold its inputs
afterwards. The predicted finish on a worker counts the bytes it lacks at
the worker's link rate (overlapped with waiting in its queue, not with
waiting here). Before the rest of
a job's queue is placed, one run of each unit whose best worker already
holds its inputs and has room is started, so that a unit whose holder is
slow does not take the slot of a worker holding a later unit's inputs; and
among near-tied workers the one fetching the fewest bytes wins.
Config.IgnoreLocality turns all of this off, for comparison.

A worker's link rate is measured: each UnitCompleted may say how many
bytes of the unit's inputs the worker fetched over the network
(FetchedBytes) and how long that took (FetchTook), and the rate is the sum
of the bytes over the sum of the seconds of its fetches, each sum decayed
by 0.7 per fetch: a byte-weighted average that follows a change within a
few fetches. A fetch under MinLinkSample (1 MiB) is ignored: it measures
the latency before the first byte (a provider lookup, bitswap round trips),
not the rate at which a large input, the only kind whose transfer matters
here, moves. Until the scheduler has a sample of its own, the rate the
worker's bid states (BidReceived.LinkRate, its own average over recent
fetches for any submitter) stands for it, and without that
Config.TransferRate. Every sample and bid rate is held within
[MinLinkRate, MaxLinkRate] (10 kB/s, 12.5 GB/s), and a sample weighs at
most 1 GiB, so that no report (0 bytes, a nanosecond, a petabyte, NaN)
makes a rate zero, infinite or NaN. Config.IgnoreLinkRates predicts every
transfer at Config.TransferRate instead, for comparison. The figures are the worker's word, as
its speed is: a worker that overstates its rate only draws units that it
then fetches slowly and finishes late, past their predicted ends; its
runs' deadlines, the end game's backups and the overdue rule (a run past
its predicted end makes the worker look busier, see above) bound what
that costs, as for a worker that overstates its speed (TestLinkRateHostile).

With half of 32 workers on links 10× slower than Config.TransferRate and
512 units of 64 MiB inputs no worker holds, the measured rates make the
job up to 15 % shorter (9 % over three seeds) than the configured rate
does, moving a quarter fewer bytes over slow links (TestSimLinkRates).

A job waits for workers indefinitely: it fails only through its units, never
for want of workers. The caller decides when to give up (JobWithdrawn).

# Implementation notes

Time passes only through Next's argument and event At fields; the scheduler's
notion of now is the latest of these, so a time earlier than one already
seen is taken as that one. Sequence numbers, not times, order bids against
assignments. Every iteration that can affect an action runs over slices kept
in a stable order (workers by peer ID, jobs by submission, runs by
assignment), never over maps.
*/
package sched
