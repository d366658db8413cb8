/*
Package plan is the multi-source fetch planner: a pure, deterministic state
machine that decides which blocks of a content-addressed DAG to request
from which provider, in batches, and how many to keep in flight at each, so
that a download from several providers at once splits the work in
proportion to their speed and recovers when one slows down, fails, lies or
leaves — as BitTorrent does, and as Bitswap and iroh do not.

It owns no I/O: no streams, no goroutines, no locks, no clock, no global
randomness, no logging. Inputs are method calls (Observe), outputs are
returned values (Next), as in etcd raft's RawNode. The shell in package
share owns the network, verifies every block against its CID, and executes
what the planner decides. plan imports only the standard library and value
types (peer.ID, cid.Cid); it must not import share, node, dht or cli.

# Model

The wire protocol the shell speaks sends a provider a request naming a
batch of block keys; the provider streams those blocks back in order. So
the planner hands out batches (RequestBlocks) and keeps, per provider, a
window of bytes in flight:

	window = rate × (lead + QueueTime), within [MinWindow, MaxWindow]

where rate is the provider's measured throughput (bytes over the time it
had requests outstanding, exponentially weighted with RateHalfLife) and lead
is the time from a request to an idle provider to its first block (a round
trip plus one block's transfer). The window thus covers the provider's
bandwidth-delay product plus QueueTime of queued work, and grows by a factor
of about (lead + QueueTime)/lead per round trip while it limits the
provider, like TCP's slow start. A request sent behind others also waited in
the provider's queue, so it can only lower the lead estimate: queueing that
a large window causes never inflates the window further. A provider not yet
measured gets InitialWindow; a failure halves the provider's score, which
scales its window, and each delivered block recovers it.

Blocks are handed out in request order: higher WantAdded.Priority first
(interior DAG nodes, so the tree is known early), then lower Order (the byte
offset, so leaves arrive roughly in file order and can be written
sequentially), then discovery order. Each time Next runs, providers with at
least a quarter of their window free take the first blocks they advertise,
fastest provider first (ties by peer ID bytes). Nothing but speed decides
the split: a provider that delivers twice as fast frees its window twice as
often and so takes twice the blocks. In simulation (share_test.go), four
providers at rates 1:1:2:4 serve shares within 1 % of proportional at
8 MiB/s per unit and within 5 % at 100 MiB/s, and the fetch takes 2 % and 9 %
longer than total bytes ÷ total rate, the slack being the DAG walk and the
window ramp at the start.

Endgame: once a provider has free window and no pending block it can serve,
it duplicates blocks in flight at other providers that it is expected to
deliver sooner than their holder (the holder's last progress plus its queue
at its rate), slowest first, up to EndgameCopies holders per block. When a
copy arrives, the planner cancels the others (CancelBlocks). A provider not
measured yet is assumed to answer within MinRequestTimeout, and a block held
by one is assumed never to arrive; so the very first block (the root) goes
to two providers at once, and a provider that silently holds blocks does not
delay the end of the fetch.

Failures: a provider with blocks in flight that delivers nothing for
4 × (lead + BlockSize/rate), at least MinRequestTimeout and doubled for each
failure in a row, at most MaxRequestTimeout (MaxRequestTimeout while its
rate is unknown), is stalled: its blocks are cancelled and reassigned and
it gets no new request for MinRequestTimeout. The doubling is TCP's
retransmission back-off: on a lossy or loaded link the only provider of a
file is not dropped after a few seconds of silence. BlockFailed reassigns the block and keeps it from
that provider for MinRequestTimeout, or for good if the error wraps
ErrNotFound. Both count as failures; FailureThreshold failures in a row
(any delivered block resets the count) drop the provider (DropPeer with
DropFailures). BlockInvalid drops the provider at once (DropInvalid): its
blocks are reassigned and it is never asked again, even if it joins again.
A block that no active provider advertises (or all that did answered not
found, left or were dropped) is stuck; the planner reports Stuck once each
time it becomes stuck, and resumes by itself when a provider that has the
block joins.

Every choice breaks ties on stable keys (block order, then peer ID bytes)
and never depends on map iteration order: the same events give the same
actions on every run. Next costs O(providers) plus the blocks it hands out,
amortised, plus at most 128 in-flight blocks examined per idle provider in
the endgame. BenchmarkPlanner measures 2–3 µs and 4 allocations per block,
all events included: a 1 GB/s fetch (4 000 blocks per second) costs about 1 %
of a core.

# The caller's duties

A Planner is not safe for concurrent use. One goroutine, the shell, owns
it and does the following.

1. Create it with New(cfg). Zero Config fields take their defaults.

2. Observe WantAdded for the root, with Size 0 if unknown and a Priority
above the leaves'. When resuming, skip blocks already in the local store,
but walk them to want their missing links.

3. Observe ProviderJoined for each provider found (HasAll for a provider of
the root, which serves the whole DAG), and ProviderHas for the keys a
partial provider advertises. More may join at any time, notably after
Stuck.

4. Call Next(now) after each batch of events, and whenever the time given
by Deadline comes (arm a timer; without one, stall timeouts and back-offs
never fire). Next returns nil when there is nothing to do.

5. Execute the actions in the order returned:
  - DropPeer: stop using the peer, disconnect it, and with DropInvalid
    gate it and score it down. Report no further events for it.
  - CancelBlocks: tell the provider, if the protocol allows, that these
    blocks are no longer wanted. Cancelling is best effort: blocks that
    still arrive must be verified and reported like any other.
  - RequestBlocks: send one request for Keys, in that order, to Peer.
  - Done: every wanted block is stored; finish. A later WantAdded reopens
    the fetch.
  - Stuck: some blocks have no provider; look for more providers and give
    up after the shell's own deadline.

6. For each block that arrives, verify it against its CID. If it does not
match, was not requested, or the message is malformed, Observe
BlockInvalid. Otherwise store it and Observe BlockReceived with its size and
arrival time; if it is an interior node, Observe WantAdded for each of its
links (with their sizes when the node gives them) before the next call to
Next, or Next may report Done too early.

7. When a request fails (stream reset, the shell's own timeout), Observe
BlockFailed for each of its blocks not yet received; when the provider
answers that it lacks a block, wrap ErrNotFound. The planner ignores
failures of blocks it no longer expects from that provider.

8. When a provider disconnects or refuses the protocol, Observe
ProviderLeft. Its blocks in flight are reassigned without a cancel.

9. Read Stats for progress display; it allocates, so not on every event.

The shell loop looks like this:

	pl, err := plan.New(cfg)
	...
	pl.Observe(plan.WantAdded{Key: root, Priority: 1})
	for {
		for _, a := range pl.Next(time.Now()) {
			switch a := a.(type) {
			case plan.RequestBlocks:
				go s.request(ctx, a.Peer, a.Keys) // results come back on s.results
			case plan.CancelBlocks:
				s.cancel(a.Peer, a.Keys)
			case plan.DropPeer:
				s.drop(a.Peer, a.Reason)
			case plan.Done:
				return nil
			case plan.Stuck:
				s.findMoreProviders(ctx)
			}
		}
		timer := s.timerFor(pl.Deadline())
		select {
		case ev := <-s.results: // BlockReceived, BlockFailed, BlockInvalid, WantAdded...
			pl.Observe(ev)
			drain(s.results, pl) // the rest of the batch, without blocking
		case p := <-s.providers: // ProviderJoined, ProviderHas, ProviderLeft
			pl.Observe(p)
		case <-timer:
		case <-ctx.Done():
			return ctx.Err()
		}
	}

(The request goroutines in this sketch belong to the shell, which must wait
for them before returning.)
*/
package plan
