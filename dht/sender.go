package dht

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"
)

// MaxMessageSize caps one DHT message, sent or received: libp2p's
// recommended network.MessageSizeMax (4 MiB), the cap kad-dht's own
// handler applies to what it reads.
const MaxMessageSize = network.MessageSizeMax

// errSilent marks a request that got no answer within RequestTimeout.
var errSilent = errors.New("dht: no answer within the request timeout")

// sender is enxame's kad-dht message sender (kaddht.WithCustomMessageSender).
// It opens one stream per message, bounds each request to one peer by
// RequestTimeout whatever the caller's context allows, and makes requests
// to a peer that let a request time out fail at once while the mute core
// says so, so that this node waits on a silent peer once per mute.
//
// kad-dht's default sender reuses one stream per peer behind a mutex (so
// concurrent lookups queue behind a silent peer), waits 10 s for an
// answer and then retries once: 20 s per silent peer.
//
// Its methods are safe for concurrent use and block until the message is
// sent (and, for SendRequest, answered), the timeout passes, or ctx ends.
type sender struct {
	h       host.Host
	timeout time.Duration
	now     func() time.Time

	mu       sync.Mutex
	protos   []protocol.ID // set by build
	mute     *mute
	onSilent func(peer.ID) // may be nil
}

func newSender(h host.Host, timeout time.Duration, m *mute) *sender {
	return &sender{h: h, timeout: timeout, now: time.Now, mute: m}
}

// build is the kaddht.WithCustomMessageSender hook: kad-dht calls it once,
// with the protocols to speak.
func (s *sender) build(_ host.Host, protos []protocol.ID) pb.MessageSenderWithDisconnect {
	s.mu.Lock()
	s.protos = slices.Clone(protos)
	s.mu.Unlock()
	return s
}

// setOnSilent sets f to be called, outside the sender's lock, with each
// peer that lets a request time out.
func (s *sender) setOnSilent(f func(peer.ID)) {
	s.mu.Lock()
	s.onSilent = f
	s.mu.Unlock()
}

var _ pb.MessageSenderWithDisconnect = (*sender)(nil)

// SendRequest sends pmes to p and returns its answer.
func (s *sender) SendRequest(ctx context.Context, p peer.ID, pmes *pb.Message) (*pb.Message, error) {
	var resp pb.Message
	start := s.now()
	if err := s.exchange(ctx, p, pmes, &resp); err != nil {
		return nil, err
	}
	s.h.Peerstore().RecordLatency(p, s.now().Sub(start))
	return &resp, nil
}

// SendMessage sends pmes to p and expects no answer.
func (s *sender) SendMessage(ctx context.Context, p peer.ID, pmes *pb.Message) error {
	return s.exchange(ctx, p, pmes, nil)
}

// OnDisconnect is called by kad-dht when p disconnects. The sender keeps
// no per-peer stream, and a silent peer stays muted across reconnections.
func (s *sender) OnDisconnect(context.Context, peer.ID) {}

// exchange writes req on a new stream to p and, when resp is not nil,
// reads one message into it.
func (s *sender) exchange(ctx context.Context, p peer.ID, req *pb.Message, resp *pb.Message) error {
	now := s.now()
	s.mu.Lock()
	until, muted := s.mute.Muted(p, now)
	protos, onSilent := s.protos, s.onSilent
	s.mu.Unlock()
	if muted {
		return fmt.Errorf("dht: peer %s muted until %s: %w", p, until.Format(time.TimeOnly), errSilent)
	}
	buf, err := encodeMessage(req)
	if err != nil {
		return err
	}
	own := now.Add(s.timeout)
	rctx, cancel := context.WithDeadline(ctx, own)
	defer cancel()
	err = s.roundTrip(rctx, p, protos, own, buf, resp)
	// Only our own deadline makes a peer silent: the caller's deadline or
	// cancellation says nothing about the peer. The stream's deadline is
	// ours alone, and rctx ends before ctx only by our own timer.
	silent := err != nil && ctx.Err() == nil &&
		(errors.Is(rctx.Err(), context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded))
	switch {
	case silent:
		s.mu.Lock()
		until := s.mute.Observe(p, false, s.now())
		s.mu.Unlock()
		if onSilent != nil {
			onSilent(p)
		}
		return fmt.Errorf("dht: peer %s: %w (muted until %s): %v", p, errSilent, until.Format(time.TimeOnly), err)
	case err == nil && resp != nil:
		s.mu.Lock()
		s.mute.Observe(p, true, s.now())
		s.mu.Unlock()
	}
	return err
}

// roundTrip sends buf on a new stream to p and reads the answer into resp
// (none when resp is nil). The stream's deadline is own; when ctx ends
// first, the stream is reset.
func (s *sender) roundTrip(ctx context.Context, p peer.ID, protos []protocol.ID, own time.Time, buf []byte, resp *pb.Message) error {
	st, err := s.h.NewStream(ctx, p, protos...)
	if err != nil {
		return fmt.Errorf("dht: open stream to %s: %w", p, err)
	}
	_ = st.SetDeadline(own)
	// Reset the stream when ctx ends: a blocked read or write returns.
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	if _, err := st.Write(buf); err != nil {
		st.Reset()
		return fmt.Errorf("dht: write to %s: %w", p, errors.Join(ctx.Err(), err))
	}
	if resp == nil {
		return st.Close()
	}
	// The write side stays open until the answer is in, as with kad-dht's
	// own sender.
	if err := readMessage(bufio.NewReader(st), resp); err != nil {
		st.Reset()
		return fmt.Errorf("dht: read answer of %s: %w", p, errors.Join(ctx.Err(), err))
	}
	return st.Close()
}

// encodeMessage frames m as kad-dht does: a uvarint length, then the
// protobuf bytes.
func encodeMessage(m *pb.Message) ([]byte, error) {
	size := proto.Size(m)
	if size > MaxMessageSize {
		return nil, fmt.Errorf("dht: message of %d bytes exceeds %d", size, MaxMessageSize)
	}
	buf := binary.AppendUvarint(make([]byte, 0, size+binary.MaxVarintLen64), uint64(size))
	buf, err := proto.MarshalOptions{}.MarshalAppend(buf, m)
	if err != nil {
		return nil, fmt.Errorf("dht: encode message: %w", err)
	}
	return buf, nil
}

// ErrMessageTooLarge is returned (wrapped) when a peer announces a message
// longer than MaxMessageSize; nothing past the length prefix is read.
var ErrMessageTooLarge = errors.New("dht: message too large")

// readMessage reads one length-prefixed message into m. It rejects a
// length above MaxMessageSize before reading the body.
func readMessage(r *bufio.Reader, m *pb.Message) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return fmt.Errorf("read length: %w", err)
	}
	if n > MaxMessageSize {
		return fmt.Errorf("%w: %d bytes announced, limit %d", ErrMessageTooLarge, n, MaxMessageSize)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return fmt.Errorf("read %d-byte body: %w", n, err)
	}
	if err := proto.Unmarshal(buf, m); err != nil {
		return fmt.Errorf("decode message: %w", err)
	}
	return nil
}
