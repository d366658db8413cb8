package compute

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/enxame/enxame/compute/sandbox"
	"github.com/enxame/enxame/compute/sched"
	"github.com/enxame/enxame/compute/wire"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
)

// This file holds the submitter's network side: goroutines started by the
// loop that look for workers, ask for bids and carry runs, each reporting
// back to the loop through post.

// post hands a network event to the loop unless ctx ends first.
func (s *Submitter) post(ctx context.Context, ne netEvent) {
	select {
	case s.events <- ne:
	case <-ctx.Done():
	}
}

// discover looks for workers: providers of ComputeKey and connected peers
// that speak ProtocolID. At most one lookup runs at a time.
func (s *Submitter) discover(ctx context.Context, wg *sync.WaitGroup) {
	if s.discovering {
		return
	}
	s.discovering = true
	h := s.deps.Host
	wg.Go(func() {
		found := map[peer.ID]bool{}
		for _, p := range h.Network().Peers() {
			if ps, err := h.Peerstore().SupportsProtocols(p, ProtocolID); err == nil && len(ps) > 0 {
				found[p] = true
			}
		}
		if s.deps.Discovery != nil {
			dctx, cancel := context.WithTimeout(ctx, s.cfg.DiscoverTimeout)
			for ai := range s.deps.Discovery.FindProviders(dctx, ComputeKey(), s.cfg.DiscoverCount) {
				if ai.ID == h.ID() || ai.ID == "" {
					continue
				}
				if len(ai.Addrs) > 0 {
					h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
				}
				found[ai.ID] = true
			}
			cancel()
		}
		if s.deps.Local != nil {
			found[h.ID()] = true
		}
		ws := make([]peer.ID, 0, len(found))
		for p := range found {
			ws = append(ws, p)
		}
		slices.Sort(ws)
		s.log.Debug("workers found", "n", len(ws))
		ne := netEvent{discover: true}
		if len(ws) > 0 {
			ne.ev = sched.WorkersDiscovered{Workers: ws}
		}
		s.post(ctx, ne)
	})
}

// requestBids asks each worker for a bid, concurrently.
func (s *Submitter) requestBids(ctx context.Context, wg *sync.WaitGroup, a sched.RequestBids) {
	p, ok := s.phases[a.Job]
	if !ok {
		return
	}
	j := s.jobs[p.job]
	req := &wire.BidRequest{Job: string(a.Job), Module: j.Info.Spec.Module}
	if j.Info.Units[p.units[0]].Reduce {
		req.Module = j.Info.Spec.Reduce
	}
	seen := map[cid.Cid]bool{}
	for _, ui := range p.units {
		for _, c := range j.Info.Units[ui].Inputs {
			if !seen[c] && len(req.Inputs) < wire.MaxCIDs {
				seen[c] = true
				req.Inputs = append(req.Inputs, c)
			}
		}
	}
	req.Limits = wire.Limits{MemoryBytes: uint64(j.Info.Spec.MemoryMiB) << 20, WallTime: s.unitTimeout(&j.Info.Spec), MaxOutputBytes: uint64(j.Info.Spec.MaxOutputBytes)}
	deadline := a.Deadline
	if d := time.Now().Add(s.cfg.RequestTimeout); deadline.IsZero() || d.Before(deadline) {
		deadline = d
	}
	for _, w := range a.Workers {
		wg.Go(func() {
			bid, err := s.bid(ctx, w, req, deadline)
			if err != nil {
				s.post(ctx, netEvent{ev: sched.BidFailed{Worker: w, Job: a.Job, Err: err}})
				return
			}
			var held []int64
			for _, n := range bid.HeldBytes {
				held = append(held, int64(n)) // at most wire.MaxHeldBytes
			}
			s.post(ctx, netEvent{ev: sched.BidReceived{
				Worker: w, Job: a.Job, Slots: int(bid.Slots), FreeSlots: int(bid.FreeSlots), QueueLen: int(bid.QueueLen),
				Speed: bid.Speed, MaxMemory: bid.MaxMemory, HasInputs: bid.HasInputs, HeldBytes: held, LinkRate: bid.LinkRate, At: time.Now(),
			}})
		})
	}
}

// bid asks one worker for a bid.
func (s *Submitter) bid(ctx context.Context, w peer.ID, req *wire.BidRequest, deadline time.Time) (*wire.Bid, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	st, done, err := s.open(ctx, ctx, w)
	if err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	defer done()
	st.SetDeadline(deadline)
	if err := wire.WriteMsg(st, req); err != nil {
		st.Reset()
		return nil, err
	}
	m, err := wire.ReadMsg(newReader(st))
	if err != nil {
		st.Reset()
		s.malformed(w, err)
		return nil, fmt.Errorf("read bid: %w", err)
	}
	st.Close()
	switch m := m.(type) {
	case *wire.Bid:
		if m.Busy {
			// Full, most often of our own units: a bid with no room, not a
			// refusal, so that each of our runs ending there frees a slot
			// for the next unit at once instead of at the next bid round.
			m.FreeSlots = 0
		}
		return m, nil
	case *wire.Error:
		return nil, fmt.Errorf("worker error: %s", m.Detail)
	}
	err = fmt.Errorf("%w: unexpected %s for a bid", wire.ErrMalformed, m.Kind())
	s.malformed(w, err)
	return nil, err
}

// malformed reports whether err says worker w sent malformed data, and if
// so disconnects it.
func (s *Submitter) malformed(w peer.ID, err error) bool {
	if !errors.Is(err, wire.ErrMalformed) && !errors.Is(err, wire.ErrFrameTooLarge) {
		return false
	}
	s.log.Warn("malformed message from worker, disconnecting", "peer", w, "err", err)
	if w != s.deps.Host.ID() {
		s.deps.Host.Network().ClosePeer(w)
	}
	return true
}

// assign starts one run.
func (s *Submitter) assign(ctx context.Context, wg *sync.WaitGroup, a sched.AssignUnit) {
	j, ui, ok := s.lookup(a.Unit)
	if !ok {
		return
	}
	u := j.Info.Units[ui]
	spec := j.Info.Spec
	req := &wire.RunUnit{
		Job: string(j.Info.ID), Unit: uint32(ui), Module: spec.Module, Inputs: u.Inputs, Args: u.Args,
		Seed: unitSeed(j.Info.ID, ui),
		Limits: wire.Limits{
			MemoryBytes: uint64(spec.MemoryMiB) << 20, WallTime: s.unitTimeout(&spec), MaxOutputBytes: uint64(spec.MaxOutputBytes),
		},
	}
	if u.Reduce {
		req.Module = spec.Reduce
	}
	k := runKey{a.Unit, a.Worker}
	if old, ok := s.runs[k]; ok {
		old()
	}
	rctx, cancel := context.WithCancel(ctx)
	s.runs[k] = cancel
	ev := Event{Unit: ui, Kind: EventPlaced, Worker: a.Worker}
	if a.Backup {
		ev.Detail = "backup of a straggling run"
	}
	s.emit(j, ev)
	s.log.Debug("assign", "job", j.Info.ID, "unit", ui, "peer", a.Worker, "replica", a.Replica)
	wg.Go(func() {
		defer cancel()
		s.run(rctx, ctx, a, req, spec.Replicas > 1)
	})
}

// run carries one run over its stream and reports each answer. rctx ends
// when the scheduler cancels the run; loopCtx when the submitter stops.
// hold says the output is to be held until a vote rather than pinned.
func (s *Submitter) run(rctx, loopCtx context.Context, a sched.AssignUnit, req *wire.RunUnit, hold bool) {
	w := a.Worker
	post := func(ne netEvent) { s.post(loopCtx, ne) }
	fail := func(reason string) {
		if rctx.Err() != nil {
			return // cancelled: the scheduler no longer cares
		}
		if w != s.deps.Host.ID() && s.deps.Host.Network().Connectedness(w) != network.Connected {
			post(netEvent{ev: sched.WorkerLost{Worker: w}})
			return
		}
		post(netEvent{ev: sched.UnitFailed{Unit: a.Unit, Worker: w, Reason: reason, At: time.Now()}})
	}
	octx, ocancel := context.WithTimeout(rctx, s.cfg.RequestTimeout)
	st, done, err := s.open(octx, loopCtx, w)
	ocancel()
	if err != nil {
		if rctx.Err() == nil {
			post(netEvent{ev: sched.WorkerLost{Worker: w}})
		}
		return
	}
	defer done()
	// Drop the run on the worker when the scheduler cancels it.
	finished := make(chan struct{})
	var finishOnce sync.Once
	finish := func() { finishOnce.Do(func() { close(finished) }) }
	var wg sync.WaitGroup
	defer wg.Wait()
	defer finish()
	wg.Go(func() {
		select {
		case <-finished:
		case <-rctx.Done():
			st.SetWriteDeadline(time.Now().Add(time.Second))
			wire.WriteMsg(st, &wire.Cancel{Reason: "cancelled by the submitter"})
			st.Reset()
		}
	})

	st.SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
	if err := wire.WriteMsg(st, req); err != nil {
		st.Reset()
		fail(fmt.Sprintf("send unit: %v", err))
		return
	}
	st.SetWriteDeadline(time.Time{})
	// The scheduler detects stalls; the read deadline only bounds a
	// stream that the scheduler has forgotten.
	st.SetReadDeadline(a.Deadline.Add(s.cfg.Sched.StallTimeout + s.cfg.RequestTimeout))
	r := newReader(st)
	var lastProgress time.Time
	running := false
	for {
		m, err := wire.ReadMsg(r)
		if err != nil {
			st.Reset()
			if s.malformed(w, err) {
				post(netEvent{ev: sched.WorkerLost{Worker: w}})
				return
			}
			fail(fmt.Sprintf("stream: %v", err))
			return
		}
		now := time.Now()
		switch m := m.(type) {
		case *wire.Accepted:
			post(netEvent{ev: sched.UnitAccepted{Unit: a.Unit, Worker: w, At: now}})
		case *wire.Progress:
			// Heartbeats reach the loop at most once a second, but a run's
			// start at once: a worker cannot flood the loop with them.
			if m.Running && !running || now.Sub(lastProgress) >= time.Second {
				running = running || m.Running
				lastProgress = now
				post(netEvent{ev: sched.UnitProgressed{Unit: a.Unit, Worker: w, At: now}, running: m.Running})
			}
		case *wire.Rejected:
			st.Close()
			reason := map[wire.RejectReason]sched.RejectReason{
				wire.RejectBusy: sched.RejectBusy, wire.RejectLimits: sched.RejectLimits,
			}[m.Reason]
			if m.Reason == wire.RejectOther {
				reason = sched.RejectOther
			}
			post(netEvent{ev: sched.UnitRejected{Unit: a.Unit, Worker: w, Reason: reason, Detail: m.Detail}})
			return
		case *wire.Failed:
			st.Close()
			post(netEvent{ev: sched.UnitFailed{Unit: a.Unit, Worker: w, Reason: m.Reason + ": " + m.Detail, Deterministic: m.Deterministic, At: now}, log: &m.Log})
			return
		case *wire.Result:
			rc := m.Receipt
			if err := checkReceipt(&rc, w, req); err != nil {
				st.Close()
				s.log.Warn("bad receipt", "peer", w, "job", req.Job, "unit", req.Unit, "err", err)
				post(netEvent{ev: sched.UnitFailed{Unit: a.Unit, Worker: w, Reason: fmt.Sprintf("bad receipt: %v", err), At: now}})
				return
			}
			if !hold {
				// The run is over: its cancellation (the job ends with
				// its last unit) must no longer reset the stream, on
				// which the worker waits to hear its output delivered.
				finish()
				s.completeThenKeep(loopCtx, st, a, w, &rc, m, req)
				return
			}
			// Keep a replica's output before reporting it: the vote
			// needs it held, and the worker drops its copy once told it
			// is delivered.
			release, err := s.keepOutput(rctx, a, rc.Output, inlineOf(m), req, hold, post)
			if err != nil {
				st.Reset()
				fail(fmt.Sprintf("fetch output %s: %v", rc.Output, err))
				return
			}
			st.SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
			if err := wire.WriteMsg(st, &wire.Cancel{Reason: deliveredReason}); err != nil {
				st.Reset()
			} else {
				st.Close()
			}
			ne := netEvent{ev: completed(a, w, &rc, m), receipt: &rc, log: &m.Log, release: release}
			select {
			case s.events <- ne:
			case <-loopCtx.Done():
				release()
			}
			return
		case *wire.Error:
			st.Close()
			fail(fmt.Sprintf("worker error: %s", m.Detail))
			return
		default:
			st.Reset()
			s.malformed(w, fmt.Errorf("%w: unexpected %s on a run", wire.ErrMalformed, m.Kind()))
			post(netEvent{ev: sched.WorkerLost{Worker: w}})
			return
		}
	}
}

// keepTimeout bounds the fetch of a completed run's output.
const keepTimeout = 10 * time.Minute

// completeThenKeep reports a single replica's run complete at once (its
// output is accepted as it comes, so the scheduler may give the worker's
// slot its next unit while the output travels), then fetches and pins the
// output and tells the worker it is delivered. If the fetch fails the
// worker is not told, and keeps its copy until its output TTL: the result
// can still be read from it. The fetch outlives the run's cancellation (a
// job ends as its last unit completes) but not the submitter, and takes at
// most keepTimeout.
func (s *Submitter) completeThenKeep(loopCtx context.Context, st stream, a sched.AssignUnit, w peer.ID, rc *wire.Receipt, m *wire.Result, req *wire.RunUnit) {
	log, inline := &m.Log, inlineOf(m)
	ne := netEvent{ev: completed(a, w, rc, m), receipt: rc, log: log, release: func() {}}
	select {
	case s.events <- ne:
	case <-loopCtx.Done():
		st.Reset()
		return
	}
	ctx, cancel := context.WithTimeout(loopCtx, keepTimeout)
	defer cancel()
	if _, err := s.keepOutput(ctx, a, rc.Output, inline, req, false, func(netEvent) {}); err != nil {
		s.log.Warn("keep output", "peer", w, "job", req.Job, "unit", req.Unit, "cid", rc.Output, "err", err)
		st.Reset()
		return
	}
	st.SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
	if err := wire.WriteMsg(st, &wire.Cancel{Reason: deliveredReason}); err != nil {
		st.Reset()
		return
	}
	st.Close()
}

// keepOutput fetches a run's output, at most the unit's output cap, sending
// the scheduler a sign of life while it does. The output of a unit with one
// replica is pinned at once (it is accepted as it comes); one of several
// replicas is only held, unpinned, until the vote decides: then the loop
// pins the winner (accept) and calls release for every run's output, so
// that outputs that lost the vote are garbage for the store's next GC.
// release is never nil. inline, when not nil, are the output's bytes as
// the Result carried them: kept unannounced when they are c's bytes (the
// CID computed from them is c), else ignored and c fetched.
func (s *Submitter) keepOutput(ctx context.Context, a sched.AssignUnit, c cid.Cid, inline []byte, req *wire.RunUnit, hold bool, post func(netEvent)) (release func(), err error) {
	limit := int64(sandbox.MaxOutputBytesLimit)
	if l := req.Limits.MaxOutputBytes; l > 0 && l < uint64(limit) {
		limit = int64(l)
	}
	if lc, ok := s.deps.Content.(LocalContent); ok && inline != nil && int64(len(inline)) <= limit {
		got, release, err := lc.PutTempLocal(ctx, bytes.NewReader(inline))
		switch {
		case err != nil:
			s.log.Debug("store inline output", "job", req.Job, "unit", req.Unit, "err", err)
		case !got.Equals(c):
			// Not c's bytes (or laid out in another DAG than ours):
			// fetch c itself.
			release()
			s.log.Debug("inline output is not the receipt's", "job", req.Job, "unit", req.Unit, "cid", c, "got", got)
		case hold:
			return release, nil
		default:
			err := lc.PinLocal(ctx, c)
			release()
			if err == nil {
				return func() {}, nil
			}
			s.log.Debug("pin inline output", "job", req.Job, "unit", req.Unit, "err", err)
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	wg.Go(func() {
		t := time.NewTicker(max(s.cfg.Sched.StallTimeout/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				post(netEvent{ev: sched.UnitProgressed{Unit: a.Unit, Worker: a.Worker, At: now}, running: true})
			}
		}
	})
	noop := func() {}
	if !hold {
		return noop, s.deps.Content.Keep(ctx, c, limit)
	}
	r, err := s.deps.Content.Get(ctx, c, limit)
	if err != nil {
		return noop, err
	}
	defer r.Close()
	got, release, err := s.deps.Content.PutTemp(ctx, r)
	if err != nil {
		return noop, fmt.Errorf("hold output %s: %w", c, err)
	}
	if !got.Equals(c) {
		// The worker laid the bytes out in another DAG than ours: the
		// held copy is not c, so pin c itself.
		release()
		return noop, s.deps.Content.Keep(ctx, c, limit)
	}
	return release, nil
}

// completed is the scheduler's event for a's run, which worker w ended
// with m, whose receipt rc has been checked.
func completed(a sched.AssignUnit, w peer.ID, rc *wire.Receipt, m *wire.Result) sched.UnitCompleted {
	return sched.UnitCompleted{
		Unit: a.Unit, Worker: w, Output: rc.Output, Took: rc.Took, At: time.Now(),
		FetchedBytes: int64(m.FetchedBytes), // at most wire.MaxHeldBytes
		FetchTook:    m.FetchTook,
	}
}

// inlineOf returns the output bytes a Result carries inline, nil when it
// carries none (an empty output inline is an empty, non-nil slice).
func inlineOf(m *wire.Result) []byte {
	if !m.Inline {
		return nil
	}
	if m.Output == nil {
		return []byte{}
	}
	return m.Output
}

// checkReceipt verifies a receipt's signature and that it is about the
// unit sent to worker w.
func checkReceipt(rc *wire.Receipt, w peer.ID, req *wire.RunUnit) error {
	if err := rc.Verify(); err != nil {
		return err
	}
	switch {
	case rc.Worker != w:
		return fmt.Errorf("signed by %s, not the worker", rc.Worker)
	case rc.Job != req.Job || rc.Unit != req.Unit:
		return fmt.Errorf("for %s/%d, not %s/%d", rc.Job, rc.Unit, req.Job, req.Unit)
	case !rc.Module.Equals(req.Module):
		return errors.New("for another module")
	case !slices.EqualFunc(rc.Inputs, req.Inputs, cid.Cid.Equals):
		return errors.New("for other inputs")
	case !slices.Equal(rc.Args, req.Args):
		return errors.New("for other arguments")
	}
	return nil
}

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 4096) }

// open opens a compute stream to worker w: a libp2p stream, or a pipe to
// the local worker served until the stream is reset or closed, or serveCtx
// ends. The caller calls done once it has finished with the stream (it
// closes it and waits for the local worker's side). serveCtx is the
// submitter's, not the run's: a run that has ended may still tell the
// worker its output was delivered, as over a network stream.
func (s *Submitter) open(ctx, serveCtx context.Context, w peer.ID) (st stream, done func(), err error) {
	if w == s.deps.Host.ID() {
		if s.deps.Local == nil {
			return nil, nil, errors.New("no local worker")
		}
		c1, c2 := net.Pipe()
		var wg sync.WaitGroup
		wg.Go(func() { s.deps.Local.serveLocal(serveCtx, w, c2) })
		return pipeStream{c1}, func() { c1.Close(); wg.Wait() }, nil
	}
	ns, err := openWorkerStream(ctx, s.deps.Host, w)
	if err != nil {
		return nil, nil, err
	}
	return ns, func() {}, nil
}

// openWorkerStream opens a compute stream to w. When the only connection
// is a relayed one (both peers behind NAT), libp2p waits for hole punching
// to give a direct connection; this waits up to 5 s (half of ctx's time
// when shorter) for it and then, if the relayed connection is still there,
// runs the stream over the relay (within the relay's limits), so that a
// worker behind a symmetric NAT, where hole punching fails, still gets
// units from a submitter behind another NAT (issue 12). Inputs and outputs
// move over share, which does the same.
func openWorkerStream(ctx context.Context, h host.Host, w peer.ID) (network.Stream, error) {
	wait := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)/2)
	}
	st, err := h.NewStream(network.WithDialPeerTimeout(ctx, wait), w, ProtocolID)
	if err == nil || ctx.Err() != nil || !onlyLimited(h, w) {
		return st, err
	}
	return h.NewStream(network.WithAllowLimitedConn(ctx, "enxame compute over relay"), w, ProtocolID)
}

// onlyLimited reports whether every connection to p is limited (relayed).
func onlyLimited(h host.Host, p peer.ID) bool {
	conns := h.Network().ConnsToPeer(p)
	for _, c := range conns {
		if !c.Stat().Limited {
			return false
		}
	}
	return len(conns) > 0
}
