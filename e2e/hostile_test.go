package e2e

// The hostile-peer suite: the attacks a peer of an open swarm resists, each a
// test that mounts it against the real enxame binary (or against real nodes)
// and logs its figure. Read this table as the list of what enxame defends;
// issue 11 ("Hostile peers") collected it. Tests marked † live in other
// packages, where the attack is best mounted; unmarked tests are in this
// package, below or beside the fix of their finding.
//
//	Attack                                                        Figure                      Test
//	------------------------------------------------------------  --------------------------  -------------------------------------------
//	A directory lists a name twice, a symlink then a file or       bytes written outside       TestGetHostileDirectory (e2e, finding 1),
//	  directory (or names equal up to case, or "..", "/"): get       (0)                         TestWriteToRefusesHostileDirectory,
//	  would write through the symlink                                                           FuzzWriteDir † (share)
//	A symlink planted in a worker's unit or cache directory         bytes written outside       TestCacheStagingNoSymlinkFollow † (compute)
//	A remote submitter fills a worker's disk: outputs kept          bytes stored past quota     TestQuota*, TestFetchPastQuotaFails † (share),
//	  forever, whole-DAG fetch before the cap, compile cache          (0)                         TestRepoStatAndQuota (e2e, finding 2),
//	                                                                                            TestWorkerDropsDeliveredOutputs,
//	                                                                                            TestWorkerOutputTTL † (compute),
//	                                                                                            TestComputeOutputLeavesWorker,
//	                                                                                            TestComputeInputCapStopsFetch † (node),
//	                                                                                            TestCompileCacheLRU † (compute/sandbox)
//	A unit grows WebAssembly tables outside the memory cap;        memory past the cap         TestPoolTablesWithinCap,
//	  a child holds memory past its own unit's budget                                          TestPoolUnitMemoryBudget † (compute/sandbox)
//	A DAG linking twice to every next level (2^depth walk)         blocks fetched              TestWalkBitswapDoubledDAGOncePerBlock,
//	                                                                                            TestFetchFallbackDoubledDAG, FuzzWalk † (share)
//	A frame announcing a size it never sends                       bytes allocated, unsent     TestReaderAllocatesAsBytesArrive † (share/wire),
//	                                                                                            TestServeStalledFramesBoundedByResourceManager,
//	                                                                                            FuzzServeStream † (share)
//	A peer storing unlimited provider records                      records per peer            TestProviderRecordsCappedPerPeer † (dht)
//	A DAG bomb: KiB of blocks declaring petabytes                  bytes written past max      TestGetMaxSize (e2e), TestWriteToRefusesDAGBomb,
//	                                                                                            TestFetchMaxBytesRefusesDAGBomb † (share)
//	Bitswap wants hammered by one peer                             wants served                TestBitswapThrottlesHammeringPeer † (share)
//	A unit asking 2^64-1 bytes of memory (the MiB rounding wraps)  memory granted              TestWorkerLimitsMemoryRounding † (compute)
//	One worker's word accepted with one replica                    unverified results          TestTrustReplicas, TestComputeSubmitTrustNotice † (cli);
//	                                                                                            documented in the README's Security section
//	Losing replicas' outputs kept pinned by the submitter           outputs pinned              TestSwarmReplicasOutvote † (compute),
//	                                                                                            TestComputeReplicasHeld (e2e)
//	A unit escaping the sandbox child (files, sockets, exec)       forbidden calls allowed     TestChildIsolation † (compute/sandbox)
//	Garbage on every protocol the node speaks                      node up, good peer served   TestHostileGarbageOnEveryProtocol
//	1,000 streams held open on the exchange                        streams held, RSS growth    TestHostileStreamFlood
//	Hostile units: allocate past the cap, one huge allocation,     time to stop, node serves   TestHostileWasmUnits
//	  endless stdout, spin forever
//	A unit that spins forever on a one-worker swarm                time to fail the job        TestSwarmSpinOneWorker † (compute)
//	A flood of bid and run requests from one peer, past its share  good job time under flood   TestHostileComputeFlood
//	A flood of run requests naming content nobody has              good job time under flood   TestHostileFetchFlood (e2e), TestWorkerFetchFlood † (compute)
//	Malformed or tampered receipts and compute messages            panics, forged receipts     FuzzDecodeReceipt, FuzzVerifyReceipt,
//	                                                                                            TestReceiptHashedPeerIDRefused † (compute/wire)
//
// What these tests do not cover: Sybil identities (many peers, each within
// its own limits) against replication, and a worker that lies about its
// output (replicas and receipts address that; see the README's Security
// section).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/compute/wire"
	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/internal/nodetest/hosttest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	mh "github.com/multiformats/go-multihash"
)

// attacker is a bare libp2p host that plays the hostile peer: a real host
// on loopback with no resource limits of its own, as an attacker would run,
// connected to the victim and knowing its addresses (so that it redials after
// being disconnected) and, through identify, its protocols.
func attacker(t *testing.T, victim *daemon) (host.Host, peer.ID) {
	t.Helper()
	h, vid := dialer(t, victim)
	waittest.For(t, "identify of the victim", func() bool {
		ps, _ := h.Peerstore().SupportsProtocols(vid, share.ProtocolID)
		return len(ps) > 0
	})
	return h, vid
}

// dialer is attacker without the wait for identify.
func dialer(t *testing.T, victim *daemon) (host.Host, peer.ID) {
	t.Helper()
	h := hosttest.New(t, libp2p.ResourceManager(&network.NullResourceManager{}))
	ai, err := peer.AddrInfoFromString(victim.tcpAddr())
	if err != nil {
		t.Fatalf("victim address: %v", err)
	}
	h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := h.Connect(ctx, *ai); err != nil {
		t.Fatalf("attacker connect: %v", err)
	}
	return h, ai.ID
}

// procKiB reads a field (VmRSS, VmHWM) of /proc/PID/status, in KiB; 0
// where /proc is missing.
func procKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// alive fails the test if the daemon exited or logged a panic.
func (d *daemon) alive(t *testing.T) {
	t.Helper()
	select {
	case <-d.exited:
		t.Fatalf("daemon %s exited (%v) under attack", d.home, d.err)
	default:
	}
	if logs := d.logText(); strings.Contains(logs, "panic") || strings.Contains(logs, "goroutine ") {
		t.Fatalf("daemon %s logged a panic:\n%s", d.home, logs)
	}
	if res := enxame(t, "status", "--home", d.home); res.code != 0 {
		t.Fatalf("status of %s under attack: exit %d: %s", d.home, res.code, res.stderr)
	}
}

// servesGoodPeer adds size random bytes on victim and fetches them with
// get on good; it fails the test unless the bytes arrive whole, and
// returns how long the get took.
func servesGoodPeer(t *testing.T, victim, good *daemon, size int) time.Duration {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	file := filepath.Join(t.TempDir(), "good.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := enxame(t, "add", "--home", victim.home, file)
	if res.code != 0 {
		t.Fatalf("add on the victim: exit %d: %s", res.code, res.stderr)
	}
	c := strings.TrimSpace(res.stdout)
	out := filepath.Join(t.TempDir(), "got.bin")
	start := time.Now()
	res = enxame(t, "get", "--home", good.home, c, "-o", out)
	took := time.Since(start)
	if res.code != 0 {
		t.Fatalf("good peer's get from the victim: exit %d: %s", res.code, res.stderr)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("good peer's get wrote %d bytes (%v), want the %d added", len(got), err, len(data))
	}
	return took
}

// TestHostileGarbageOnEveryProtocol sends garbage on every protocol the
// daemon announces (enxame's, the DHT's, Bitswap's and libp2p's own): random
// bytes, a length prefix of 2^64-1, 64 KiB of empty frames, a lone varint
// byte, each from a peer of its own. enxame's protocols end every such
// stream at once, the daemon stays up, logs no panic, and serves a good
// peer after.
func TestHostileGarbageOnEveryProtocol(t *testing.T) {
	root := t.TempDir()
	victim := startDaemon(t, filepath.Join(root, "victim"))
	good := startDaemon(t, filepath.Join(root, "good"), "--bootstrap", victim.tcpAddr())
	h, vid := attacker(t, victim)
	protos, err := h.Peerstore().GetProtocols(vid)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(protos)
	for _, want := range []protocol.ID{share.ProtocolID, compute.ProtocolID} {
		if !slices.Contains(protos, want) {
			t.Fatalf("victim announces %v, without %s", protos, want)
		}
	}
	random := make([]byte, 64<<10)
	rand.Read(random)
	payloads := []struct {
		name string
		b    []byte
	}{
		{"64 KiB random", random},
		{"length 2^64-1", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"length 2^32-1", []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3}},
		{"empty frames", make([]byte, 64<<10)},
		{"lone varint byte", []byte{0x80}},
	}
	rss0 := procKiB(t, victim.cmd.Process.Pid, "VmRSS")
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	// Each stream comes from a host of its own: the victim disconnects a
	// peer that sends malformed bytes, which would otherwise end the other
	// streams before their garbage is parsed.
	for _, p := range protos {
		for _, pl := range payloads {
			ah, _ := dialer(t, victim)
			wg.Go(func() {
				outcome := sendGarbage(t.Context(), ah, vid, p, pl.b)
				mu.Lock()
				outcomes[outcome]++
				mu.Unlock()
				t.Logf("%-40s %-16s %s", p, pl.name, outcome)
				if strings.HasPrefix(string(p), "/enxame/") && outcome == heldOpen {
					t.Errorf("%s held a stream of garbage (%s) open: want it refused at once", p, pl.name)
				}
			})
		}
	}
	wg.Wait()
	t.Logf("garbage: %d protocols × %d payloads in %v: %v; victim RSS %d → %d KiB",
		len(protos), len(payloads), time.Since(start).Round(time.Millisecond), outcomes,
		rss0, procKiB(t, victim.cmd.Process.Pid, "VmRSS"))
	victim.alive(t)
	took := servesGoodPeer(t, victim, good, 1<<20)
	t.Logf("good peer fetched 1 MiB from the victim in %v after the garbage", took)
}

// heldOpen is sendGarbage's outcome for a stream the victim neither
// answered nor ended.
const heldOpen = "held open 8s"

// garbageWait is how long sendGarbage waits for the victim to end a
// stream: as long as it can be while staying below the shortest time an
// enxame handler that did not refuse would hold it (compute's and search's
// 10 s request timeouts), so that a loaded machine has the most room.
const garbageWait = 8 * time.Second

// sendGarbage opens a stream on p, writes b, closes its write side and
// reads what comes back for at most garbageWait; it says how the stream
// ended.
func sendGarbage(ctx context.Context, h host.Host, to peer.ID, p protocol.ID, b []byte) string {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := h.NewStream(network.WithAllowLimitedConn(ctx, "garbage"), to, p)
	if err != nil {
		return "refused at open"
	}
	defer s.Reset()
	// From the stream's open, as the victim's handler counts its own
	// timeout, so that one that held it would show here as held open.
	s.SetDeadline(time.Now().Add(garbageWait))
	if _, err := s.Write(b); err != nil {
		return "reset while writing"
	}
	s.CloseWrite()
	n, err := io.Copy(io.Discard, io.LimitReader(s, 1<<20))
	switch {
	case err == nil:
		return fmt.Sprintf("closed after %s", sizeClass(n))
	case errors.Is(err, os.ErrDeadlineExceeded):
		return heldOpen
	default:
		return fmt.Sprintf("reset after %s", sizeClass(n))
	}
}

func sizeClass(n int64) string {
	if n == 0 {
		return "no answer"
	}
	return "an answer"
}

// TestHostileStreamFlood opens 1,000 streams on the exchange's protocol
// from one peer and holds them silent. The resource manager's per-peer
// limit on the protocol (16 inbound) and the exchange's own per-peer cap
// refuse the rest at once, the held ones cost the daemon little memory, and
// a good peer is served meanwhile.
func TestHostileStreamFlood(t *testing.T) {
	root := t.TempDir()
	victim := startDaemon(t, filepath.Join(root, "victim"))
	good := startDaemon(t, filepath.Join(root, "good"), "--bootstrap", victim.tcpAddr())
	h, vid := attacker(t, victim)
	pid := victim.cmd.Process.Pid
	rss0 := procKiB(t, pid, "VmRSS")

	const n = 1000
	// perPeerCap is node/host.go's inbound stream limit for share.ProtocolID
	// per peer.
	const perPeerCap = 16
	var refused, reset, answered atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	start := time.Now()
	for range n {
		s, err := h.NewStream(ctx, vid, share.ProtocolID)
		if err != nil {
			refused.Add(1)
			continue
		}
		wg.Go(func() {
			defer s.Reset()
			context.AfterFunc(ctx, func() { s.Reset() })
			// A read sends the stream's protocol header and then waits.
			// The victim's resource manager resets a stream over its
			// limits; the exchange answers one over its own per-peer cap
			// with an error frame; a stream it takes waits for a request
			// until its idle timeout (30 s).
			var b [1]byte
			_, err := s.Read(b[:])
			switch {
			case ctx.Err() != nil:
			case err != nil:
				reset.Add(1)
			default:
				answered.Add(1)
			}
		})
	}
	done := func() int64 { return refused.Load() + reset.Load() + answered.Load() }
	// The refusals come at once; wait for them (well within the victim's
	// 30 s idle timeout, which would end the held streams too).
	waittest.For(t, fmt.Sprintf("all but %d of %d streams refused", perPeerCap, n), func() bool {
		return done() >= n-perPeerCap
	})
	held := n - done()
	rss1 := procKiB(t, pid, "VmRSS")
	t.Logf("stream flood: %d streams sent in %v: %d refused at open, %d reset by the resource manager, %d refused by the exchange, %d held; victim RSS %d → %d KiB",
		n, time.Since(start).Round(time.Millisecond), refused.Load(), reset.Load(), answered.Load(), held, rss0, rss1)
	if held > perPeerCap {
		t.Errorf("the victim holds %d streams of one peer on %s, want at most %d", held, share.ProtocolID, perPeerCap)
	}
	if held == 0 {
		t.Errorf("the victim held none of the streams; the test measures nothing")
	}
	took := servesGoodPeer(t, victim, good, 1<<20)
	t.Logf("good peer fetched 1 MiB from the victim in %v while the attacker held %d streams", took, held)
	victim.alive(t)
	if rss0 > 0 && rss1-rss0 > 64<<10 {
		t.Errorf("victim RSS grew by %d KiB under the stream flood, want under 64 MiB", rss1-rss0)
	}
}

// TestHostileWasmUnits submits hostile work units from one daemon to a
// worker daemon with one slot: a unit that allocates until the cap, one that
// asks 3 GiB in one allocation, one that writes stdout forever. Each job
// fails with its reason, and the worker runs a good unit right after each.
// (A unit that spins forever is TestWorkerInfiniteLoop in compute: on a
// swarm of one worker the submitter's own deadline, start + wall time,
// cancels the run just before the worker's timeout does, and then backs
// the worker off for 5 minutes, so a job there waits for another worker.)
func TestHostileWasmUnits(t *testing.T) {
	hostile := examplestest.BuildSource(t, filepath.Join("..", "compute", "sandbox", "testdata", "hostile"))
	root := t.TempDir()
	worker := startDaemon(t, filepath.Join(root, "worker"), "--compute-slots", "1")
	sub := startDaemon(t, filepath.Join(root, "submitter"), "--bootstrap", worker.tcpAddr(), "--no-compute")
	// A good run first warms the worker's compile cache, so the figures
	// below are the attacks' and not a cold compilation's.
	if res := enxame(t, "compute", "run", "--home", sub.home, hostile, "--arg", "ok"); res.code != 0 || res.stdout != "ok\n" {
		t.Fatalf("good unit: exit %d, stdout %q, stderr %s", res.code, res.stdout, res.stderr)
	}
	tests := []struct {
		name   string
		args   []string
		reason string // in the job's error
	}{
		{"allocate past the cap", []string{"--arg", "oom", "--memory", "32"}, "memory"},
		{"one 3 GiB allocation", []string{"--arg", "bigalloc", "--memory", "64"}, "memory"},
		{"endless stdout", []string{"--arg", "output"}, "output"},
		// The worker's own timeout must reach the submitter before the
		// submitter's deadline, or a one-worker swarm hangs (issue 11).
		{"spin forever", []string{"--arg", "spin", "--timeout", "2s"}, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res := enxame(t, append([]string{"compute", "run", "--home", sub.home, hostile, "-q"}, tt.args...)...)
			took := time.Since(start)
			if res.code == 0 {
				t.Fatalf("hostile unit %s: exit 0, stdout %.100q; want the job to fail", tt.name, res.stdout)
			}
			if !strings.Contains(res.stderr, tt.reason) {
				t.Errorf("hostile unit %s: stderr %q, want the reason %q", tt.name, res.stderr, tt.reason)
			}
			start = time.Now()
			good := enxame(t, "compute", "run", "--home", sub.home, hostile, "-q", "--arg", "ok")
			if good.code != 0 || good.stdout != "ok\n" {
				t.Fatalf("good unit after %s: exit %d, stdout %q, stderr %s", tt.name, good.code, good.stdout, good.stderr)
			}
			t.Logf("%s: job failed in %v (%s); good unit after it in %v; worker daemon RSS %d KiB",
				tt.name, took.Round(time.Millisecond), strings.TrimSpace(res.stderr), time.Since(start).Round(time.Millisecond),
				procKiB(t, worker.cmd.Process.Pid, "VmRSS"))
		})
	}
	worker.alive(t)
}

// TestHostileComputeFlood floods a worker with bid requests and run
// requests, from one peer on 64 streams at once without pause, while a good
// submitter runs a job on the same worker. The worker answers, rejects
// (busy: the peer's share is taken) or resets each stream, and the good job
// completes with the right output.
func TestHostileComputeFlood(t *testing.T) {
	sum := examplestest.Build(t, "sum")
	root := t.TempDir()
	worker := startDaemon(t, filepath.Join(root, "worker"), "--compute-slots", "2")
	sub := startDaemon(t, filepath.Join(root, "submitter"), "--bootstrap", worker.tcpAddr(), "--no-compute")
	h, wid := attacker(t, worker)
	input := filepath.Join(root, "numbers.txt")
	var text strings.Builder
	want := 0
	for i := range 1000 {
		fmt.Fprintf(&text, "n\t%d\n", i)
		want += i
	}
	if err := os.WriteFile(input, []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	goodJob := func() (string, time.Duration) {
		start := time.Now()
		res := enxame(t, "compute", "run", "--home", sub.home, sum, "-q", "--input", input)
		if res.code != 0 {
			t.Fatalf("good job: exit %d: %s", res.code, res.stderr)
		}
		return strings.TrimSpace(res.stdout), time.Since(start)
	}
	wantOut, calm := goodJob()
	if wantOut != "n\t"+strconv.Itoa(want) {
		t.Fatalf("good job printed %q, want the sum %d", wantOut, want)
	}

	sumOf := func(s string) cid.Cid {
		d, _ := mh.Sum([]byte(s), mh.SHA2_256, -1)
		return cid.NewCidV1(cid.Raw, d)
	}
	// The run requests name a real module, which the worker fetches from
	// the submitter and runs: the attacker competes for the slots as a
	// greedy submitter would, far past its share.
	res := enxame(t, "add", "--home", sub.home, sum)
	if res.code != 0 {
		t.Fatalf("add the module: exit %d: %s", res.code, res.stderr)
	}
	module, err := cid.Decode(strings.TrimSpace(res.stdout))
	if err != nil {
		t.Fatalf("add printed %q: %v", res.stdout, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var counts sync.Map // outcome → *atomic.Int64
	count := func(k string) {
		v, _ := counts.LoadOrStore(k, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	const floodStreams = 64
	for i := range floodStreams {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				var m wire.Msg = &wire.BidRequest{Job: "flood", Module: sumOf(fmt.Sprint("m", i, n))}
				if i%2 == 1 {
					m = &wire.RunUnit{Job: "flood", Unit: uint32(n), Module: module, Limits: wire.Limits{WallTime: 5 * time.Second}}
				}
				count(floodOnce(ctx, h, wid, m))
			}
		})
	}
	var mid string
	var floodTook time.Duration
	func() {
		defer func() { cancel(); wg.Wait() }()
		mid, floodTook = goodJob()
	}()
	var summary []string
	counts.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%s: %d", k, v.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(summary)
	t.Logf("compute flood: good job took %v calm, %v under %d flooding streams; flood outcomes %v",
		calm.Round(time.Millisecond), floodTook.Round(time.Millisecond), floodStreams, summary)
	if mid != wantOut {
		t.Errorf("good job under flood printed %q, want %q", mid, wantOut)
	}
	worker.alive(t)
}

// floodOnce sends one compute request on a new stream and says how the
// worker answered.
func floodOnce(ctx context.Context, h host.Host, to peer.ID, m wire.Msg) string {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s, err := h.NewStream(ctx, to, compute.ProtocolID)
	if err != nil {
		return "refused at open"
	}
	defer s.Reset()
	context.AfterFunc(ctx, func() { s.Reset() })
	if err := wire.WriteMsg(s, m); err != nil {
		return "reset while writing"
	}
	r := bufio.NewReader(s)
	for {
		reply, err := wire.ReadMsg(r)
		if err != nil {
			if ctx.Err() != nil {
				return "cut by the test"
			}
			return "reset"
		}
		switch reply := reply.(type) {
		case *wire.Bid:
			if reply.Busy {
				return "bid busy"
			}
			return "bid"
		case *wire.Rejected:
			return "rejected " + reply.Reason.String()
		case *wire.Accepted, *wire.Progress:
			continue
		case *wire.Failed:
			return "accepted, then failed"
		default:
			return "answered " + reply.Kind().String()
		}
	}
}
