package dht

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/enxame/enxame/internal/nodetest/hosttest"
	"github.com/enxame/enxame/internal/waittest"
)

// silentConfig is a loopback profile with requests bounded at the default
// 3s, far below kad-dht's own 10s read timeout. A loaded machine must not
// make an honest peer's answer miss it (which would mute the peer): 1s
// was too close for -race on busy cores. Lookups get 30s for the same
// reason.
func silentConfig() Config {
	c := DefaultConfig()
	c.DisableDiversityFilter = true
	c.RequestTimeout = 3 * time.Second
	c.LookupTimeout = 30 * time.Second
	return c
}

// connect is hosttest.Connect.
func connect(t testing.TB, a, b host.Host) { hosttest.Connect(t, a, b) }

// silence turns r's host into a dropper once it sits in other tables: it
// accepts DHT streams and reads them but never answers, until the test
// ends. It returns the count of streams it has accepted.
func silence(t testing.TB, r *Router, h host.Host) *atomic.Int64 {
	t.Helper()
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	var streams atomic.Int64
	h.SetStreamHandler(r.ProtocolID(), func(s network.Stream) {
		streams.Add(1)
		io.Copy(io.Discard, s)
		<-done
		s.Reset()
	})
	return &streams
}

// newQuietRouter is newRouter without kad-dht's routing-table refreshes.
func newQuietRouter(t testing.TB, cfg Config) (*Router, host.Host) {
	t.Helper()
	h := newHost(t)
	r, err := New(cfg, Deps{Host: h, Options: []kaddht.Option{kaddht.DisableAutoRefresh()}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r, h
}

func inTable(r *Router, p peer.ID) bool { return r.Kad().RoutingTable().Find(p) != "" }

func testCID(t testing.TB, s string) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		t.Fatalf("multihash: %v", err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

// TestProvideWithSilentPeers is issue 5's adversary scenario on loopback
// (no table refreshes, whose lookups would race the test's):
// of the peers in the provider's routing table, three accept DHT streams
// and never answer. Provide must still store the record on the honest
// peers, cutting each silent peer off at RequestTimeout rather than at
// kad-dht's own 10s read timeout (20s with its retry): it mutes them and
// drops them from the table. The record must be findable.
func TestProvideWithSilentPeers(t *testing.T) {
	cfg := silentConfig()
	// Muted for longer than the test runs, however slow the machine.
	cfg.MuteMin = 10 * time.Minute
	src, sh := newQuietRouter(t, cfg)
	var honest []*Router
	var honestH []host.Host
	for range 4 {
		r, h := newQuietRouter(t, cfg)
		honest, honestH = append(honest, r), append(honestH, h)
		connect(t, sh, h)
	}
	type silentPeer struct {
		r *Router
		h host.Host
	}
	var silent []silentPeer
	for range 3 {
		r, h := newQuietRouter(t, cfg)
		silent = append(silent, silentPeer{r, h})
		connect(t, sh, h)
	}
	// Every honest peer knows every other, so a lookup from any of them
	// reaches the records.
	for i := range honestH {
		for j := range i {
			connect(t, honestH[i], honestH[j])
		}
	}
	waittest.For(t, "the source's table to hold all 7 peers", func() bool { return src.TableSize() == 7 })
	var streams []*atomic.Int64
	for _, s := range silent {
		streams = append(streams, silence(t, s.r, s.h))
	}

	c := testCID(t, "silent peers")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	start := time.Now()
	res, err := src.ProvideStats(ctx, c)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("ProvideStats() error = %v after %v", err, took)
	}
	// That our RequestTimeout, not kad-dht's, cut the silent peers off
	// shows in their mutes (only our own deadline mutes a peer), checked
	// below, not in a time bound a loaded machine could miss; took is a
	// figure (about one RequestTimeout and a round), bounded only by
	// what a hang would exceed.
	if took > time.Minute {
		t.Errorf("ProvideStats() took %v with 3 silent peers, want about RequestTimeout %v", took, cfg.RequestTimeout)
	}
	if res.Stored < len(honest) {
		t.Errorf("ProvideStats() = %+v, want the record stored on all %d honest peers", res, len(honest))
	}
	// Every silent peer leaves the table. At least one is muted, which
	// only our RequestTimeout does; another's request may instead end with
	// the provide itself (cancelled once the honest peers have the record,
	// which a loaded machine can bring before that peer's timeout), which
	// mutes no one.
	muted := 0
	wasMuted := make([]bool, len(silent))
	for i, s := range silent {
		if inTable(src, s.h.ID()) {
			t.Errorf("silent peer %s still in the source's routing table", s.h.ID())
		}
		src.snd.mu.Lock()
		_, m := src.snd.mute.Muted(s.h.ID(), time.Now())
		src.snd.mu.Unlock()
		if m {
			muted++
			wasMuted[i] = true
		}
	}
	if muted == 0 {
		t.Errorf("no silent peer muted after ProvideStats(): our RequestTimeout %v did not cut them off", cfg.RequestTimeout)
	}
	t.Logf("Provide with 3 of 7 peers silent: %v, %+v, %d of 3 muted", took, res, muted)

	// A second announcement does not wait on the silent peers: the muted
	// ones are skipped, so it opens no stream to them. (One whose request
	// the first provide cancelled is not muted and may be asked again.)
	var before []int64
	for _, n := range streams {
		before = append(before, n.Load())
	}
	start = time.Now()
	if err := src.Provide(ctx, testCID(t, "again")); err != nil {
		t.Fatalf("second Provide() error = %v", err)
	}
	t.Logf("second Provide with the silent peers muted: %v", time.Since(start))
	for i, n := range streams {
		if got := n.Load(); wasMuted[i] && got != before[i] {
			t.Errorf("second Provide() opened %d streams to muted silent peer %s, want none", got-before[i], silent[i].h.ID())
		}
	}

	// Every honest peer finds the provider.
	for i, r := range honest {
		found := false
		for ai := range r.FindProviders(ctx, c, 1) {
			found = found || ai.ID == sh.ID()
		}
		if !found {
			t.Errorf("honest peer %d did not find %s as provider of %s", i, sh.ID(), c)
		}
	}
}

// TestFindPeerReturnsOnceReached: the source knows the target only through
// a hub, and three silent peers sit in its table. With a RequestTimeout
// far above the bound, FindPeer still returns as soon as it reaches the
// target, without waiting on the silent peers' queries.
func TestFindPeerReturnsOnceReached(t *testing.T) {
	cfg := silentConfig()
	cfg.RequestTimeout = time.Minute
	// No table refreshes: their lookups would connect the source and the
	// target before the test does.
	src, sh := newQuietRouter(t, cfg)
	_, hub := newQuietRouter(t, cfg)
	_, tgt := newQuietRouter(t, cfg)
	connect(t, sh, hub)
	connect(t, tgt, hub)
	var silent []*Router
	for range 3 {
		r, h := newQuietRouter(t, cfg)
		connect(t, sh, h)
		silent = append(silent, r)
		waittest.For(t, "the silent peer in the source's table", func() bool { return inTable(src, h.ID()) })
		silence(t, r, h)
	}
	waittest.For(t, "the hub in the source's table", func() bool { return inTable(src, hub.ID()) })
	if sh.Network().Connectedness(tgt.ID()) == network.Connected {
		t.Fatalf("source already connected to the target")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	res, err := src.FindPeer(ctx, tgt.ID())
	if err != nil {
		t.Fatalf("FindPeer() error = %v after %v", err, res.Took)
	}
	if res.Peer.ID != tgt.ID() || len(res.Peer.Addrs) == 0 {
		t.Errorf("FindPeer() = %v, want %s with addresses", res.Peer, tgt.ID())
	}
	// Waiting on a silent peer would take RequestTimeout (1 min): a bound
	// of half that only a hang or that wait exceeds, however loaded the
	// machine.
	if res.Took > 30*time.Second {
		t.Errorf("FindPeer() took %v with silent peers, want far below RequestTimeout %v", res.Took, cfg.RequestTimeout)
	}
	t.Logf("FindPeer with 3 silent peers: %v, %d queried", res.Took, res.Queried)
}

// TestProvideNoPeers: with an empty routing table Provide returns
// ErrNoPeers, so callers can retry quietly once joined.
func TestProvideNoPeers(t *testing.T) {
	r, _ := newRouter(t, DefaultConfig())
	err := r.Provide(t.Context(), testCID(t, "lonely"))
	if !errors.Is(err, ErrNoPeers) {
		t.Fatalf("Provide() on an empty table = %v, want ErrNoPeers", err)
	}
}

// TestSenderHammer sends requests from P goroutines at once to an honest
// and a silent peer through one sender: no request to the silent peer
// succeeds, it ends up muted, and the race detector sees the sender's
// state guarded.
func TestSenderHammer(t *testing.T) {
	procs, iters := 8, 20
	if testing.Short() {
		procs, iters = 4, 5
	}
	cfg := silentConfig()
	src, sh := newQuietRouter(t, cfg)
	_, hh := newQuietRouter(t, cfg)
	sr, silentH := newQuietRouter(t, cfg)
	connect(t, sh, hh)
	connect(t, sh, silentH)
	silence(t, sr, silentH)
	snd := src.snd
	var wg sync.WaitGroup
	var mu sync.Mutex
	okHonest, okSilent := 0, 0
	for i := range procs {
		wg.Go(func() {
			for j := range iters {
				to, isSilent := hh.ID(), (i+j)%2 == 0
				if isSilent {
					to = silentH.ID()
				}
				_, err := snd.SendRequest(t.Context(), to, pb.NewMessage(pb.Message_FIND_NODE, []byte(sh.ID()), 0))
				mu.Lock()
				switch {
				case err == nil && isSilent:
					okSilent++
				case err == nil:
					okHonest++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if okSilent != 0 {
		t.Errorf("%d requests to the silent peer succeeded, want 0", okSilent)
	}
	if okHonest == 0 {
		t.Errorf("no request to the honest peer succeeded")
	}
	snd.mu.Lock()
	_, muted := snd.mute.Muted(silentH.ID(), time.Now())
	snd.mu.Unlock()
	if !muted {
		t.Errorf("silent peer not muted after %d requests", procs*iters/2)
	}
}

// TestProvideLookupTimeout: when silent peers hold the lookup past
// LookupTimeout (here far below RequestTimeout), Provide stops looking and
// stores the record on the peers found so far.
func TestProvideLookupTimeout(t *testing.T) {
	cfg := silentConfig()
	cfg.RequestTimeout = time.Minute
	cfg.LookupTimeout = 300 * time.Millisecond
	src, sh := newQuietRouter(t, cfg)
	_, hh := newQuietRouter(t, cfg)
	connect(t, sh, hh)
	for range 2 {
		r, h := newQuietRouter(t, cfg)
		connect(t, sh, h)
		waittest.For(t, "the silent peer in the source's table", func() bool { return inTable(src, h.ID()) })
		silence(t, r, h)
	}
	waittest.For(t, "the honest peer in the source's table", func() bool { return inTable(src, hh.ID()) })
	start := time.Now()
	res, err := src.ProvideStats(t.Context(), testCID(t, "partial"))
	took := time.Since(start)
	if err != nil {
		t.Fatalf("ProvideStats() error = %v after %v", err, took)
	}
	if !res.Partial || res.Stored == 0 {
		t.Errorf("ProvideStats() = %+v, want a partial lookup and the record stored", res)
	}
	if took > 30*time.Second {
		t.Errorf("ProvideStats() took %v, want well below RequestTimeout %v", took, cfg.RequestTimeout)
	}
}
