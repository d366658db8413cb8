package share

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/share/plan"
	"github.com/enxame/enxame/share/wire"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multihash"
)

func exKey(t testing.TB, s string) cid.Cid {
	t.Helper()
	h, err := multihash.Sum([]byte(s), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

// exWaitFor waits for cond through the one polling helper.
func exWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waittest.For(t, what, cond)
}

// exReadAll reads the server's answer on s until the stream ends, with a
// deadline, and returns it with the error that ended it.
func exReadAll(t *testing.T, s network.Stream) ([]byte, error) {
	t.Helper()
	s.SetReadDeadline(time.Now().Add(time.Minute))
	b, err := io.ReadAll(s)
	return b, err
}

// TestServeRejectsHostileClient sends oversized and malformed frames to a
// server: each stream is refused at once, the peer is scored down and, at
// the third offence, disconnected and gated; the server keeps serving
// others.
func TestServeRejectsHostileClient(t *testing.T) {
	exVerifyNoLeaks(t)
	data := exRandom(10, 1<<20)
	cfg := exTestConfig()
	cfg.GateAfter = 3
	// A server that did not refuse a bad stream would end it only at its
	// idle timeout: make that far longer than any delay a loaded machine
	// adds, so that "at once" below can be told from it with a generous
	// bound.
	cfg.IdleTimeout = 10 * time.Minute
	srv := exStartPeer(t, cfg, nil, nil)
	root := exImport(t, srv.bs, data, 256<<10)

	hostile := exNewHost(t)
	if err := hostile.Connect(t.Context(), srv.info()); err != nil {
		t.Fatal(err)
	}
	k := exKey(t, "x")
	tests := []struct {
		name string
		in   []byte
	}{
		// A length prefix far over the cap followed by 1 MiB: the server
		// must stop at the prefix.
		{"oversized frame", append([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, make([]byte, 1<<20)...)},
		{"unknown type", []byte{2, 0x7f, 0}},
		{"block from a client", exEncodeFrames(t, &wire.Block{ID: 1, Key: k, Data: []byte("x")})},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := hostile.NewStream(t.Context(), srv.h.ID(), ProtocolID)
			if err != nil {
				t.Fatalf("NewStream: %v", err)
			}
			defer s.Reset()
			// The server may reset before all is written: ignore the error.
			go s.Write(tt.in)
			start := time.Now()
			b, err := exReadAll(t, s)
			d := time.Since(start)
			t.Logf("%s: server ended the stream after %v", tt.name, d.Round(time.Millisecond))
			if d > 30*time.Second {
				t.Errorf("%s: server took %v to end the stream, want at once (its idle timeout is %v)", tt.name, d, cfg.IdleTimeout)
			}
			if err == nil {
				// A clean end must carry a protocol Error.
				m, derr := wire.NewReader(bytes.NewReader(b)).Read()
				if e, ok := m.(*wire.Error); derr != nil || !ok || e.Code != wire.CodeProtocol {
					t.Errorf("%s: server answered %v (%v), want a protocol Error or a reset", tt.name, m, derr)
				}
			}
			if i < 2 {
				exWaitFor(t, "offence recorded", func() bool { return srv.ex.scores.offences(hostile.ID()) == i+1 })
			}
		})
	}
	// The third offence gated the peer and closed its connection.
	exWaitFor(t, "hostile peer gated", func() bool { return srv.ex.Gated(hostile.ID()) })
	exWaitFor(t, "hostile peer disconnected", func() bool {
		return srv.h.Network().Connectedness(hostile.ID()) != network.Connected
	})
	// A gated peer's new streams are refused.
	if err := hostile.Connect(t.Context(), srv.info()); err == nil {
		if s, err := hostile.NewStream(t.Context(), srv.h.ID(), ProtocolID); err == nil {
			w := wire.NewWriter(s)
			w.Write(&wire.Request{ID: 1, Keys: []cid.Cid{root}})
			w.Flush()
			b, _ := exReadAll(t, s)
			if len(b) > 0 {
				t.Errorf("gated peer got %d bytes of answers, want none", len(b))
			}
			s.Reset()
		}
	}
	// Others are still served.
	dst, _ := exFetcher(t, exTestConfig(), srv)
	exFetch(t, dst, root, data)
}

// exHostileProvider answers the first request on each stream with bad.
func exHostileProvider(t *testing.T, bad func(req *wire.Request) []byte) (*exPeer, *atomic.Bool) {
	t.Helper()
	h := exNewHost(t)
	var asked atomic.Bool
	h.SetStreamHandler(ProtocolID, func(s network.Stream) {
		defer s.Reset()
		s.SetDeadline(time.Now().Add(10 * time.Second))
		r := wire.NewReader(s)
		m, err := r.Read()
		if err != nil {
			return
		}
		req, ok := m.(*wire.Request)
		if !ok || req.Flags != 0 {
			return
		}
		asked.Store(true)
		s.Write(bad(req))
		io.Copy(io.Discard, s) // until the fetcher resets
	})
	return &exPeer{h: h}, &asked
}

// TestFetchDropsHostileProvider fetches from a good provider and one that
// misbehaves on the wire: the hostile one is dropped and scored down, and
// the fetch completes from the good one.
func TestFetchDropsHostileProvider(t *testing.T) {
	exVerifyNoLeaks(t)
	data := exRandom(11, 2<<20)
	tests := []struct {
		name string
		bad  func(t *testing.T, req *wire.Request) []byte
	}{
		{"unrequested block", func(t *testing.T, req *wire.Request) []byte {
			d := []byte("valid, but not asked for")
			h, _ := multihash.Sum(d, multihash.SHA2_256, -1)
			return exEncodeFrames(t, &wire.Block{ID: req.ID, Key: cid.NewCidV1(cid.Raw, h), Data: d})
		}},
		{"oversized frame", func(t *testing.T, req *wire.Request) []byte {
			return append([]byte{0xff, 0xff, 0xff, 0x7f}, make([]byte, 64<<10)...)
		}},
		{"garbage", func(t *testing.T, req *wire.Request) []byte {
			return bytes.Repeat([]byte{0x05, 0x02, 0xff, 0xff, 0xff, 0xff}, 100)
		}},
		{"wrong data", func(t *testing.T, req *wire.Request) []byte {
			return exEncodeFrames(t, &wire.Block{ID: req.ID, Key: req.Keys[0], Data: []byte("not this block")})
		}},
		{"request from a server", func(t *testing.T, req *wire.Request) []byte {
			return exEncodeFrames(t, &wire.Request{ID: 1, Keys: req.Keys})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good := exStartPeer(t, exTestConfig(), nil, nil)
			root := exImport(t, good.bs, data, 256<<10)
			bad, asked := exHostileProvider(t, func(req *wire.Request) []byte { return tt.bad(t, req) })
			// The finder returns only the hostile provider at first, so
			// that it is asked for the root; the good one comes with the
			// next lookup, once the fetch is stuck.
			finder := &exFinder{}
			finder.add(bad.info())
			finder.later = []peer.AddrInfo{good.info()}
			dst := exStartPeer(t, exTestConfig(), nil, finder)
			pr := exFetch(t, dst, root, data)
			if !asked.Load() {
				t.Fatalf("the hostile provider was never asked")
			}
			for _, p := range pr.Providers {
				if p.Peer == bad.h.ID() && p.State != plan.StateDropped.String() {
					t.Errorf("hostile provider state %q, want dropped", p.State)
				}
			}
			if n := dst.ex.scores.offences(bad.h.ID()); n != 1 {
				t.Errorf("hostile provider: %d offences, want 1", n)
			}
		})
	}
}

// TestServeStreamLimit opens more streams than MaxStreamsPerPeer allows:
// the extra one gets a busy Error.
func TestServeStreamLimit(t *testing.T) {
	exVerifyNoLeaks(t)
	cfg := exTestConfig()
	cfg.MaxStreamsPerPeer = 2
	srv := exStartPeer(t, cfg, nil, nil)
	c := exNewHost(t)
	if err := c.Connect(t.Context(), srv.info()); err != nil {
		t.Fatal(err)
	}
	var open []network.Stream
	defer func() {
		for _, s := range open {
			s.Reset()
		}
	}()
	// Each stream is registered by the server once it reads a request.
	k := exKey(t, "absent")
	for i := range cfg.MaxStreamsPerPeer {
		s, err := c.NewStream(t.Context(), srv.h.ID(), ProtocolID)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, s)
		w := wire.NewWriter(s)
		w.Write(&wire.Request{ID: uint64(i), Keys: []cid.Cid{k}})
		w.Flush()
		m, err := wire.NewReader(s).Read()
		if _, ok := m.(*wire.DontHave); err != nil || !ok {
			t.Fatalf("stream %d: answer %v, %v; want DontHave", i, m, err)
		}
	}
	s, err := c.NewStream(t.Context(), srv.h.ID(), ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	w := wire.NewWriter(s)
	w.Write(&wire.Request{ID: 9, Keys: []cid.Cid{k}})
	w.Flush()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := wire.NewReader(s).Read()
	if e, ok := m.(*wire.Error); err != nil || !ok || e.Code != wire.CodeBusy {
		t.Errorf("stream over the limit: answer %v, %v; want a busy Error", m, err)
	}
}

// TestServeCancel cancels keys before the server reaches them: they are
// skipped, the rest answered in order.
func TestServeCancel(t *testing.T) {
	exVerifyNoLeaks(t)
	cfg := exTestConfig()
	cfg.ServeRateLimit = 2 << 20 // slow enough for the cancel to arrive in time
	srv := exStartPeer(t, cfg, nil, nil)
	data := exRandom(12, 1<<20)
	exImport(t, srv.bs, data, 64<<10)
	var keys []cid.Cid
	ch, err := srv.bs.AllKeysChan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for k := range ch {
		if k.Type() == cid.Raw {
			keys = append(keys, k)
		}
	}
	c := exNewHost(t)
	if err := c.Connect(t.Context(), srv.info()); err != nil {
		t.Fatal(err)
	}
	s, err := c.NewStream(t.Context(), srv.h.ID(), ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	w := wire.NewWriter(s)
	w.Write(&wire.Request{ID: 1, Keys: keys})
	last := keys[len(keys)-1]
	w.Write(&wire.Cancel{Keys: []cid.Cid{last}})
	w.Flush()
	s.CloseWrite()
	s.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := wire.NewReader(s)
	var got []cid.Cid
	for {
		m, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Read after %d blocks: %v", len(got), err)
		}
		b, ok := m.(*wire.Block)
		if !ok {
			t.Fatalf("answer %T, want Block", m)
		}
		got = append(got, b.Key)
	}
	// Everything but the cancelled key, in order: the half-close ends the
	// stream only after the queued requests are answered.
	want := keys[:len(keys)-1]
	if !slices.EqualFunc(got, want, cid.Cid.Equals) {
		t.Errorf("served %d blocks %v, want the %d requested but the cancelled one, in order", len(got), got, len(want))
	}
}

func TestExchangeConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ExchangeConfig
		wantErr string
	}{
		{"zero is defaults", ExchangeConfig{}, ""},
		{"negative streams", ExchangeConfig{MaxStreamsPerPeer: -1}, "MaxStreamsPerPeer"},
		{"negative timeout", ExchangeConfig{IdleTimeout: -time.Second}, "IdleTimeout"},
		{"negative rate", ExchangeConfig{ServeRateLimit: -1}, "ServeRateLimit"},
		{"bad plan", ExchangeConfig{Plan: plan.Config{MinWindow: 10, MaxWindow: 5}}, "Plan"},
	}
	h := exNewHost(t)
	bs := exNewBlockstore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewExchange(tt.cfg, ExchangeDeps{Host: h, Blockstore: bs})
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("NewExchange(%+v) = %v, want nil", tt.cfg, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewExchange(%+v) = %v, want an error naming %s", tt.cfg, err, tt.wantErr)
			}
		})
	}
	if _, err := NewExchange(ExchangeConfig{}, ExchangeDeps{Blockstore: bs}); err == nil {
		t.Errorf("NewExchange without a host = nil error")
	}
	if _, err := NewExchange(ExchangeConfig{}, ExchangeDeps{Host: h}); err == nil {
		t.Errorf("NewExchange without a blockstore = nil error")
	}
	d := DefaultExchangeConfig()
	if d.MaxStreamsPerPeer != 8 || d.IdleTimeout != 30*time.Second || d.Plan.MaxBatch == 0 {
		t.Errorf("DefaultExchangeConfig() = %+v, defaults missing", d)
	}
}

func TestExchangeRunTwice(t *testing.T) {
	exVerifyNoLeaks(t)
	h := exNewHost(t)
	ex, err := NewExchange(exTestConfig(), ExchangeDeps{Host: h, Blockstore: exNewBlockstore(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ex.Run(ctx) }()
	exWaitFor(t, "handler registered", func() bool { return slices.Contains(h.Mux().Protocols(), ProtocolID) })
	if err := ex.Run(t.Context()); err == nil {
		t.Errorf("Run while running = nil error, want an error")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after its context ended", err)
	}
	if slices.Contains(h.Mux().Protocols(), ProtocolID) {
		t.Errorf("handler still registered after Run returned")
	}
	if err := ex.Run(t.Context()); err == nil {
		t.Errorf("Run after Run = nil error, want an error")
	}
}

// exReadIntoStore is a blockstore with ReadInto (as *Store has): the server
// reads blocks into pooled buffers through it. It counts the calls.
type exReadIntoStore struct {
	blockstore.Blockstore
	calls atomic.Int64
}

func (s *exReadIntoStore) ReadInto(ctx context.Context, c cid.Cid, p []byte) (int, error) {
	s.calls.Add(1)
	blk, err := s.Blockstore.Get(ctx, c)
	if err != nil {
		return 0, err
	}
	if n := len(blk.RawData()); n > len(p) {
		return n, fmt.Errorf("read %s: %d bytes: %w", c, n, io.ErrShortBuffer)
	}
	return copy(p, blk.RawData()), nil
}

// TestServeReadInto serves from a blockstore with ReadInto, with blocks
// that fit the pooled buffer (256 KiB) and blocks that need a larger one
// (1 MiB), and fetches both files byte-exact.
func TestServeReadInto(t *testing.T) {
	exVerifyNoLeaks(t)
	tests := []struct {
		name  string
		chunk int64
	}{
		{"256 KiB blocks", 256 << 10},
		{"1 MiB blocks", 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := exRandom(uint64(tt.chunk), 5<<20+999)
			bs := &exReadIntoStore{Blockstore: exNewBlockstore(t)}
			root := exImport(t, bs, data, tt.chunk)
			src := exStartPeer(t, exTestConfig(), bs, nil)
			dst, _ := exFetcher(t, exTestConfig(), src)
			exFetch(t, dst, root, data)
			if bs.calls.Load() == 0 {
				t.Errorf("Fetch from a provider whose blockstore has ReadInto: ReadInto never called")
			}
		})
	}
}

// TestServeReadIntoMissing checks that a key the blockstore lacks is
// answered DontHave through ReadInto.
func TestServeReadIntoMissing(t *testing.T) {
	exVerifyNoLeaks(t)
	bs := &exReadIntoStore{Blockstore: exNewBlockstore(t)}
	p := exStartPeer(t, exTestConfig(), bs, nil)
	sv := &serverStream{e: p.ex}
	k := mustRaw(t, []byte("not stored")).Cid()
	a, err := sv.answerInto(t.Context(), bs, &wire.Request{ID: 3}, k)
	if err != nil {
		t.Fatalf("answerInto(missing key): %v", err)
	}
	if dh, ok := a.m.(*wire.DontHave); !ok || dh.ID != 3 || !dh.Key.Equals(k) || a.buf != nil || a.size != 0 {
		t.Errorf("answerInto(missing key) = %+v, want DontHave{3, %s} with no buffer", a, k)
	}
}
