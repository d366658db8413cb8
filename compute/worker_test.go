package compute

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/compute/sandbox"
	"github.com/enxame/enxame/compute/sched"
	"github.com/enxame/enxame/compute/wire"
	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// modTrap is a hand-built module whose _start executes unreachable.
var modTrap = []byte("\x00asm\x01\x00\x00\x00" +
	"\x01\x04\x01\x60\x00\x00" + // type section: () -> ()
	"\x03\x02\x01\x00" + // function section: one function of type 0
	"\x07\x0a\x01\x06_start\x00\x00" + // export section: _start = func 0
	"\x0a\x05\x01\x03\x00\x00\x0b") // code: no locals, unreachable, end

// modRecurse is modTrap with a _start that calls itself forever.
var modRecurse = append(modTrap[:len(modTrap)-7:len(modTrap)-7], "\x0a\x06\x01\x04\x00\x10\x00\x0b"...)

// connect makes c's host know w's addresses.
func connect(t testing.TB, c client, w *testWorker) {
	t.Helper()
	if err := c.h.Connect(t.Context(), peer.AddrInfo{ID: w.h.ID(), Addrs: w.h.Addrs()}); err != nil {
		t.Fatalf("connect: %v", err)
	}
}

// TestWorkerHostileModules runs every kind of hostile unit on one worker:
// each ends with a clear reason, and the worker runs a good unit right after.
func TestWorkerHostileModules(t *testing.T) {
	sw := newSwarm()
	w := sw.startWorker(t, WorkerConfig{Slots: 1, MaxModuleBytes: 8 << 20}, nil)
	c := client{h: newHost(t)}
	connect(t, c, w)
	hostile := sw.hostileModule(t)
	unknownImport := sw.content.putFile(t, examplestest.BuildSource(t, filepath.Join("sandbox", "testdata", "wasmimport")))
	notWasm := sw.content.putBytes(t, bytes.Repeat([]byte("not wasm "), 1000))
	trap := sw.content.putBytes(t, modTrap)
	recurse := sw.content.putBytes(t, modRecurse)
	tooLarge := sw.content.putBytes(t, make([]byte, 8<<20+1))

	tests := []struct {
		name   string
		module cid.Cid
		args   []string
		limits wire.Limits
		reason string
	}{
		{"not wasm", notWasm, nil, wire.Limits{}, "invalid-module"},
		{"trap", trap, nil, wire.Limits{}, "trap"},
		{"over memory", hostile, []string{"oom"}, wire.Limits{MemoryBytes: 64 << 20}, "memory"},
		{"endless output", hostile, []string{"output"}, wire.Limits{MaxOutputBytes: 1 << 20}, "output"},
		{"deep recursion, call stack", recurse, nil, wire.Limits{}, "trap"},
		{"deep recursion, Go stack", hostile, []string{"recurse"}, wire.Limits{MemoryBytes: 64 << 20}, "memory"},
		{"unknown import", unknownImport, nil, wire.Limits{}, "missing-import"},
		{"too large", tooLarge, nil, wire.Limits{}, "module-too-large"},
		{"panic", hostile, []string{"panic"}, wire.Limits{}, "exit"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := c.runUnit(t, w.h.ID(), &wire.RunUnit{Job: "hostile", Unit: uint32(i), Module: tt.module, Args: tt.args, Limits: tt.limits})
			f, ok := final(msgs).(*wire.Failed)
			if !ok {
				t.Fatalf("run %s: final message %#v, want Failed", tt.name, final(msgs))
			}
			if f.Reason != tt.reason || !f.Deterministic {
				t.Errorf("run %s: Failed{%q, %q, deterministic %v}, want reason %q, deterministic", tt.name, f.Reason, f.Detail, f.Deterministic, tt.reason)
			}
			// The worker keeps serving: a good unit right after succeeds.
			start := time.Now()
			msgs = c.runUnit(t, w.h.ID(), &wire.RunUnit{Job: "hostile", Unit: 1000 + uint32(i), Module: hostile, Args: []string{"ok"}})
			r, ok := final(msgs).(*wire.Result)
			if !ok {
				t.Fatalf("good unit after %s: final message %#v, want Result", tt.name, final(msgs))
			}
			if got := sw.content.bytes(t, r.Receipt.Output); string(got) != "ok\n" {
				t.Errorf("good unit after %s: output %q", tt.name, got)
			}
			// A generous bound: only a worker stuck behind the hostile
			// unit (a hang) takes this long, not a loaded machine.
			if d := time.Since(start); d > time.Minute {
				t.Errorf("good unit after %s took %v, want well under a minute", tt.name, d)
			}
		})
	}
	if st := w.w.Stats(); st.Running != 0 || st.Queued != 0 {
		t.Errorf("Stats() after the runs = %+v, want nothing held", st)
	}
}

// TestWorkerInfiniteLoop pins issue 4: a unit looping forever is stopped
// at its deadline (as a timeout, with heartbeats meanwhile), and the worker
// takes its next unit. The bounds on how long each takes are generous, so
// that only a missed deadline or a stuck worker (a hang) exceeds them, not a
// loaded machine; the speed itself is measured in compute/sandbox's
// latency test.
func TestWorkerInfiniteLoop(t *testing.T) {
	sw := newSwarm()
	w := sw.startWorker(t, WorkerConfig{Slots: 1}, nil)
	c := client{h: newHost(t)}
	connect(t, c, w)
	hostile := sw.hostileModule(t)
	// Warm the worker's cache and the child's compiled module, so that the
	// deadline measures the loop and not a cold compilation.
	c.runUnit(t, w.h.ID(), &wire.RunUnit{Job: "loop", Unit: 0, Module: hostile, Args: []string{"ok"}})

	const deadline = 2 * time.Second
	start := time.Now()
	msgs := c.runUnit(t, w.h.ID(), &wire.RunUnit{Job: "loop", Unit: 1, Module: hostile, Args: []string{"spin"}, Limits: wire.Limits{WallTime: deadline}})
	took := time.Since(start)
	f, ok := final(msgs).(*wire.Failed)
	if !ok || f.Reason != "timeout" {
		t.Fatalf("spin: final message %#v, want Failed timeout", final(msgs))
	}
	if took > deadline+30*time.Second {
		t.Errorf("spin ended after %v, want well within %v", took, deadline+30*time.Second)
	}
	var progress int
	for _, m := range msgs {
		if _, ok := m.(*wire.Progress); ok {
			progress++
		}
	}
	if progress == 0 {
		t.Errorf("spin: no Progress heartbeat in %v", took)
	}
	start = time.Now()
	msgs = c.runUnit(t, w.h.ID(), &wire.RunUnit{Job: "loop", Unit: 2, Module: hostile, Args: []string{"ok"}})
	if _, ok := final(msgs).(*wire.Result); !ok {
		t.Fatalf("next unit: final message %#v, want Result", final(msgs))
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("next unit took %v, want well within 30s", d)
	}
}

// TestWorkerRejectsLimits pins that a unit asking more than the worker's
// maxima is rejected for its limits, and a bid states the maxima.
func TestWorkerRejectsLimits(t *testing.T) {
	sw := newSwarm()
	w := sw.startWorker(t, WorkerConfig{Slots: 1, MaxMemoryMiB: 512, MaxUnitTimeout: time.Minute}, &delayRunner{})
	c := client{h: newHost(t)}
	connect(t, c, w)
	mod := sw.content.putBytes(t, modTrap)
	tests := []struct {
		name   string
		limits wire.Limits
	}{
		{"memory", wire.Limits{MemoryBytes: 513 << 20}},
		{"wall time", wire.Limits{WallTime: time.Hour}},
		{"output", wire.Limits{MaxOutputBytes: DefaultMaxOutputBytes + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := c.runUnit(t, w.h.ID(), &wire.RunUnit{Job: "j", Module: mod, Limits: tt.limits})
			if r, ok := final(msgs).(*wire.Rejected); !ok || r.Reason != wire.RejectLimits {
				t.Errorf("run with %+v: %#v, want Rejected limits", tt.limits, final(msgs))
			}
		})
	}
	bid := c.bid(t, w.h.ID(), &wire.BidRequest{Job: "j", Module: mod})
	if bid.MaxMemory != 512<<20 || bid.Slots != 1 || bid.FreeSlots != 1 || bid.Busy || bid.Speed <= 0 {
		t.Errorf("bid = %+v", bid)
	}
	if len(bid.HasInputs) != 0 {
		t.Errorf("bid holds %v before any fetch", bid.HasInputs)
	}
}

// bid asks worker w for a bid.
func (c client) bid(t testing.TB, w peer.ID, req *wire.BidRequest) *wire.Bid {
	t.Helper()
	s, r := c.open(t, w, nil)
	defer s.Close()
	if err := wire.WriteMsg(s, req); err != nil {
		t.Fatalf("write bid request: %v", err)
	}
	m, err := wire.ReadMsg(r)
	if err != nil {
		t.Fatalf("read bid: %v", err)
	}
	b, ok := m.(*wire.Bid)
	if !ok {
		t.Fatalf("bid answer %#v", m)
	}
	return b
}

// delayRunner runs units in next (nil: answers "ok\n" itself) after a
// delay, for tests of admission and placement where the unit's own work
// does not matter.
type delayRunner struct {
	next  Runner
	delay time.Duration
}

func (d *delayRunner) RunUnit(ctx context.Context, u sandbox.Unit) (sandbox.Result, error) {
	t := time.NewTimer(d.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return sandbox.Result{}, &sandbox.Error{Reason: sandbox.ReasonCanceled, Err: ctx.Err()}
	case <-t.C:
	}
	if d.next == nil {
		return sandbox.Result{Stdout: []byte("ok\n"), Duration: d.delay}, nil
	}
	res, err := d.next.RunUnit(ctx, u)
	res.Duration += d.delay
	return res, err
}

// TestWorkerFlood pins per-peer fairness: a peer flooding submissions gets
// Busy bids and rejections beyond its share, and another submitter's job
// still completes meanwhile.
func TestWorkerFlood(t *testing.T) {
	sw := newSwarm()
	w := sw.startWorker(t, WorkerConfig{Slots: 2, QueueLen: 2, PeerShare: 2}, &delayRunner{next: newPool(t, 2), delay: 300 * time.Millisecond})
	flooder := client{h: newHost(t)}
	connect(t, flooder, w)
	mod := sw.hostileModule(t)

	ctx, cancel := context.WithCancel(t.Context())
	var (
		mu       sync.Mutex
		accepted int
		busy     int
		wg       sync.WaitGroup
	)
	for i := range 6 { // six flooding streams at a time, again and again
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				s, err := flooder.h.NewStream(ctx, w.h.ID(), ProtocolID)
				if err != nil {
					return
				}
				r := bufio.NewReader(s)
				wire.WriteMsg(s, &wire.RunUnit{Job: "flood", Unit: uint32(i*100000 + n), Module: mod, Args: []string{"ok"}})
				for {
					m, err := wire.ReadMsg(r)
					if err != nil {
						break
					}
					mu.Lock()
					switch m := m.(type) {
					case *wire.Accepted:
						accepted++
					case *wire.Rejected:
						if m.Reason == wire.RejectBusy {
							busy++
						}
					}
					mu.Unlock()
					if _, ok := m.(*wire.Result); ok {
						break // the worker waits for a word of delivery
					}
				}
				s.Close()
			}
		})
	}
	waittest.For(t, "the flooder to fill its share", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return busy > 10
	})
	if bid := flooder.bid(t, w.h.ID(), &wire.BidRequest{Job: "flood", Module: mod}); !bid.Busy {
		t.Errorf("flooder's bid = %+v, want Busy", bid)
	}

	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Args: []string{"ok"}, Split: Split{Kind: SplitRange, From: 0, To: 4, N: 4}})
	if err != nil {
		t.Fatal(err)
	}
	info := sub.wait(t, id, 30*time.Second)
	cancel()
	wg.Wait()
	if info.State != JobDone {
		t.Fatalf("job of the other submitter: %s %s", info.State, info.Error)
	}
	mu.Lock()
	t.Logf("flooder: %d accepted, %d busy", accepted, busy)
	mu.Unlock()
	if st := w.w.Stats(); st.Rejected == 0 {
		t.Errorf("Stats().Rejected = 0")
	}
}

// TestWorkerMalformedFrames pins that malformed or oversized frames reset
// the stream and disconnect the peer, and the worker keeps serving.
func TestWorkerMalformedFrames(t *testing.T) {
	sw := newSwarm()
	w := sw.startWorker(t, WorkerConfig{Slots: 1}, &delayRunner{})
	bad := client{h: newHost(t)}
	good := client{h: newHost(t)}
	connect(t, good, w)
	mod := sw.content.putBytes(t, modTrap)

	valid, err := wire.Encode(&wire.Bid{Slots: 1, Speed: 1})
	if err != nil {
		t.Fatal(err)
	}
	frame := func(body []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(body))), body...) }
	tests := []struct {
		name string
		in   []byte
	}{
		{"oversized length", binary.AppendUvarint(nil, wire.MaxFrame+1)},
		{"huge length", binary.AppendUvarint(nil, 1<<62)},
		{"unknown kind", frame([]byte{0xee, 1, 2, 3})},
		{"truncated body", frame([]byte{byte(wire.KindBidRequest), 200, 'j'})},
		{"not a request", frame(valid)},
		{"bad varint", bytes.Repeat([]byte{0xff}, 11)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			connect(t, bad, w)
			s, err := bad.h.NewStream(t.Context(), w.h.ID(), ProtocolID)
			if err != nil {
				t.Fatalf("open stream: %v", err)
			}
			defer s.Close()
			if _, err := s.Write(tt.in); err != nil {
				t.Fatalf("write: %v", err)
			}
			s.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := io.Copy(io.Discard, s)
			if err == nil || n != 0 || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("after %s: read %d bytes, %v; want the stream reset", tt.name, n, err)
			}
			waittest.For(t, "the bad peer disconnected", func() bool {
				return w.h.Network().Connectedness(bad.h.ID()) != network.Connected
			})
			// The worker keeps serving others.
			if b := good.bid(t, w.h.ID(), &wire.BidRequest{Job: "j", Module: mod}); b.Busy {
				t.Errorf("good peer's bid after %s = %+v", tt.name, b)
			}
		})
	}
}

// TestWorkerStreamLimit pins that a peer cannot hold more than
// MaxStreamsPerPeer compute streams open.
func TestWorkerStreamLimit(t *testing.T) {
	sw := newSwarm()
	w := sw.startWorker(t, WorkerConfig{Slots: 1, MaxStreamsPerPeer: 2}, &delayRunner{})
	c := client{h: newHost(t)}
	connect(t, c, w)
	var open []network.Stream
	for range 2 {
		s, err := c.h.NewStream(t.Context(), w.h.ID(), ProtocolID)
		if err != nil {
			t.Fatal(err)
		}
		s.Write([]byte{}) // open it without a request
		open = append(open, s)
	}
	// Idle streams hold their slot until RequestTimeout; a third is reset.
	waittest.For(t, "two streams held", func() bool {
		w.w.mu.Lock()
		defer w.w.mu.Unlock()
		return w.w.streams[c.h.ID()] == 2
	})
	s, err := c.h.NewStream(t.Context(), w.h.ID(), ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	wire.WriteMsg(s, &wire.BidRequest{Job: "j", Module: rawCID([]byte("m"))})
	if _, err := wire.ReadMsg(bufio.NewReader(s)); err == nil {
		t.Error("third stream answered, want it reset")
	}
	s.Close()
	for _, s := range open {
		s.Reset()
	}
}

// aloneDiscovery fails its first failures announcements with ErrAlone (a
// node that knows no peer yet), then succeeds.
type aloneDiscovery struct {
	discovery
	mu       sync.Mutex
	failures int
	calls    int
}

func (d *aloneDiscovery) Provide(ctx context.Context, c cid.Cid) error {
	d.mu.Lock()
	d.calls++
	fail := d.calls <= d.failures
	d.mu.Unlock()
	if fail {
		return fmt.Errorf("provide %s: %w", c, ErrAlone)
	}
	return d.discovery.Provide(ctx, c)
}

// levelCounter counts the records at or above WARN.
type levelCounter struct {
	mu    sync.Mutex
	warns []string
}

func (h *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.mu.Lock()
		h.warns = append(h.warns, r.Message)
		h.mu.Unlock()
	}
	return nil
}
func (h *levelCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *levelCounter) WithGroup(string) slog.Handler      { return h }

// A worker that knows no peer yet retries its announcement without a
// warning, and announces once it can.
func TestWorkerAnnounceAlone(t *testing.T) {
	sw := newSwarm()
	h := newHost(t)
	disc := &aloneDiscovery{discovery: discovery{sw.reg, h}, failures: 3}
	logs := &levelCounter{}
	cfg := WorkerConfig{Slots: 1, Dir: t.TempDir(), AnnounceRetry: 20 * time.Millisecond}
	w, err := NewWorker(cfg, WorkerDeps{Host: h, Content: sw.content, Discovery: disc, Runner: newPool(t, 1), Logger: slog.New(logs)})
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waittest.For(t, "worker announced", func() bool {
		for ai := range (discovery{sw.reg, h}).FindProviders(t.Context(), ComputeKey(), 10) {
			if ai.ID == h.ID() {
				return true
			}
		}
		return false
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	disc.mu.Lock()
	calls := disc.calls
	disc.mu.Unlock()
	if calls < 4 {
		t.Errorf("Provide called %d times, want >= 4 (3 deferred, then the announcement)", calls)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.warns) != 0 {
		t.Errorf("warnings logged while alone: %q", logs.warns)
	}
}

// TestWorkerBidHeldBytes pins that a bid names the requested content the
// worker holds with the bytes it holds of each: after a run fetched a
// unit's module and input, both are listed with their sizes, and content
// it never fetched is not.
func TestWorkerBidHeldBytes(t *testing.T) {
	sw := newSwarm()
	w := sw.startWorker(t, WorkerConfig{Slots: 1}, &delayRunner{})
	c := client{h: newHost(t)}
	connect(t, c, w)
	mod := sw.content.putBytes(t, modTrap)
	in := sw.content.putBytes(t, bytes.Repeat([]byte("x"), 3000))
	other := sw.content.putBytes(t, []byte("never fetched"))
	if _, ok := final(c.runUnit(t, w.h.ID(), &wire.RunUnit{Job: "j", Module: mod, Inputs: []cid.Cid{in}})).(*wire.Result); !ok {
		t.Fatal("run did not end with a Result")
	}
	bid := c.bid(t, w.h.ID(), &wire.BidRequest{Job: "j", Module: mod, Inputs: []cid.Cid{other, in}})
	want := map[cid.Cid]uint64{mod: uint64(len(modTrap)), in: 3000}
	if len(bid.HasInputs) != len(want) || len(bid.HeldBytes) != len(want) {
		t.Fatalf("bid holds %v with %v bytes, want %v", bid.HasInputs, bid.HeldBytes, want)
	}
	for i, h := range bid.HasInputs {
		if n, ok := want[h]; !ok || bid.HeldBytes[i] != n {
			t.Errorf("bid holds %s: %d bytes, want %d (listed: %v)", h, bid.HeldBytes[i], n, ok)
		}
	}
}

// TestWorkerReportsFetch pins that a Result says how many bytes of the
// unit's inputs the worker fetched for the run, and how long that took,
// and that its bids then state its link rate: a 2 MiB input not held is
// fetched and counted; run again, it is held and nothing is fetched.
func TestWorkerReportsFetch(t *testing.T) {
	sw := newSwarm()
	w := sw.startWorker(t, WorkerConfig{Slots: 1}, &delayRunner{})
	c := client{h: newHost(t)}
	connect(t, c, w)
	mod := sw.content.putBytes(t, modTrap)
	const size = 2 << 20
	in := sw.content.putBytes(t, bytes.Repeat([]byte("x"), size))
	if bid := c.bid(t, w.h.ID(), &wire.BidRequest{Job: "j", Module: mod}); bid.LinkRate != 0 {
		t.Errorf("bid before any fetch states link rate %v, want 0", bid.LinkRate)
	}
	for i, want := range []uint64{size, 0} {
		r, ok := final(c.runUnit(t, w.h.ID(), &wire.RunUnit{Job: "j", Unit: uint32(i), Module: mod, Inputs: []cid.Cid{in}})).(*wire.Result)
		if !ok {
			t.Fatalf("run %d did not end with a Result", i)
		}
		if r.FetchedBytes != want || (want > 0) != (r.FetchTook > 0) {
			t.Errorf("run %d: fetched %d bytes in %v, want %d bytes (and a time when any)", i, r.FetchedBytes, r.FetchTook, want)
		}
	}
	if bid := c.bid(t, w.h.ID(), &wire.BidRequest{Job: "j", Module: mod}); bid.LinkRate < sched.MinLinkRate {
		t.Errorf("bid after a 2 MiB fetch states link rate %v, want one", bid.LinkRate)
	}
}
