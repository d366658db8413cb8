package share

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/share/wire"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// memStream is a network.Stream over memory for the server side: it reads
// in, discards what is written, and accounts memory in a fuzzScope.
type memStream struct {
	network.Stream // nil: the server uses only the methods below
	in             io.Reader
	conn           memConn
	scope          *fuzzScope
}

func (s *memStream) Read(p []byte) (int, error)       { return s.in.Read(p) }
func (s *memStream) Write(p []byte) (int, error)      { return len(p), nil }
func (s *memStream) Close() error                     { return nil }
func (s *memStream) Reset() error                     { return nil }
func (s *memStream) SetDeadline(time.Time) error      { return nil }
func (s *memStream) SetReadDeadline(time.Time) error  { return nil }
func (s *memStream) SetWriteDeadline(time.Time) error { return nil }
func (s *memStream) Conn() network.Conn               { return s.conn }
func (s *memStream) Scope() network.StreamScope       { return s.scope }

type memConn struct {
	network.Conn
	p peer.ID
}

func (c memConn) RemotePeer() peer.ID { return c.p }

// fuzzScope is a StreamScope that refuses reservations past limit and
// records the peak.
type fuzzScope struct {
	network.StreamScope
	mu               sync.Mutex
	limit, cur, peak int
}

var errFuzzScopeFull = errors.New("fuzz scope: limit exceeded")

func (s *fuzzScope) SetService(string) error { return nil }
func (s *fuzzScope) ReserveMemory(n int, _ uint8) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur+n > s.limit {
		return errFuzzScopeFull
	}
	s.cur += n
	s.peak = max(s.peak, s.cur)
	return nil
}
func (s *fuzzScope) ReleaseMemory(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur -= n
}

// FuzzServeStream feeds arbitrary bytes to the exchange server's stream
// handler over an in-memory stream: it must not panic, must end (the input
// ends with EOF), and must never hold more memory reserved than the
// stream's scope allows.
func FuzzServeStream(f *testing.F) {
	bs := exNewBlockstore(f)
	data := exRandom(3, 300<<10)
	root := exImport(f, bs, data, 64<<10)
	k := exKey(f, "absent")
	frames := func(msgs ...wire.Msg) []byte {
		var b []byte
		for _, m := range msgs {
			var err error
			if b, err = wire.Append(b, m); err != nil {
				f.Fatal(err)
			}
		}
		return b
	}
	f.Add(frames(&wire.Request{ID: 1, Keys: []cid.Cid{root, k}}), uint32(1<<20))
	f.Add(frames(&wire.Request{ID: 1, Flags: wire.FlagHaveOnly, Keys: []cid.Cid{root}}, &wire.Cancel{Keys: []cid.Cid{root}}), uint32(1<<20))
	f.Add(frames(&wire.Request{ID: 1, Keys: []cid.Cid{root}}), uint32(1000))
	f.Add(frames(&wire.Block{ID: 1, Key: k, Data: []byte("x")}), uint32(1<<20))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3}, uint32(1<<20))
	f.Add([]byte{0x82, 0x80, 0x08, 1, 1, 0, 5}, uint32(1<<20))
	f.Add([]byte{0x80, 0x00}, uint32(1<<20))

	h := exNewHost(f)
	cfg := exTestConfig()
	cfg.GateAfter = 1 << 30 // offences every run: never gate the fuzzing peer
	cfg.MaxQueuedKeys = 8
	ex, err := NewExchange(cfg, ExchangeDeps{Host: h, Blockstore: bs})
	if err != nil {
		f.Fatal(err)
	}
	p, _ := peer.Decode("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA")
	f.Fuzz(func(t *testing.T, in []byte, limit uint32) {
		sc := &fuzzScope{limit: int(limit % (4 << 20))}
		s := &memStream{in: bytes.NewReader(in), conn: memConn{p: p}, scope: sc}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			ex.serve(ctx, s)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("serve did not end on an input that ends")
		}
		if sc.peak > sc.limit {
			t.Errorf("serve reserved %d bytes, limit %d", sc.peak, sc.limit)
		}
	})
}
