package simnet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"
)

// The light tier. A light node is enxame's DHT router (dht.New: kad-dht
// with enxame's options, its routing table, lookups, provider store and
// request handlers) on a lightHost: a host.Host with no transport, no
// share store and no compute. kad-dht's messages go through its custom
// message sender hook (kaddht.WithCustomMessageSender) to lightSender,
// which waits the link's one-way latency in virtual time, hands the
// encoded request to the remote node's real stream handler on an
// in-memory stream, waits the way back and decodes the answer.
//
// Why this and not p2p/net/mock hosts: mocknet still builds a swarm,
// connections with stream muxing, a pipe and goroutines per stream, and
// identify per connection; what a lookup measures (who is asked, who
// answers with whom, how long each referral takes) needs none of it. Here
// a request costs a protobuf encode/decode and a handler call on the
// caller's goroutine, a connection is a map entry on both sides, and a node
// costs only what kad-dht itself holds (its goroutines, routing table and
// provider store): ~0.7 MB of heap at N = 3,000, against 8-26 MB of RSS
// for a full node (docs/simnet.md).
//
// What is modelled: dials take one round trip (a QUIC handshake) and
// raise identify's "identification completed" event, so the routing tables
// fill as they do on real hosts (kad-dht checks the new peer with a
// FIND_NODE for its own ID before adding it); a request takes a round
// trip; a dead peer's dial fails after lightDialTimeout; a silent peer
// (the adversary) answers nothing and the request fails after kad-dht's
// own read timeout.
//
// Shortcuts, each with the outcome kad-dht would see unchanged (they cut
// the CPU per node by about a quarter at N = 1,000 and 3,000):
//   - a dial made to send a request raises the event on the dialled side
//     only: the dialler's check of the dialled peer would duplicate the
//     request itself, whose answer adds the peer (see dial);
//   - a check is answered with the target alone after the round trip,
//     without the handler: the real handler always names the target first
//     and the check looks only at whether anyone is named (TestLightCheck);
//   - addresses live in one shared table (lightPeerstore), and the
//     addresses in answers are dropped after decoding instead of parsed
//     and added again.
//
// Not modelled: bandwidth and loss (DHT messages are small), connection
// trimming (connections stay until a peer leaves), address discovery (all
// addresses are in one shared peerstore, as if identify had run).

const (
	// lightDialTimeout is how long a dial to a dead peer takes to fail
	// (libp2p's QUIC handshake idle timeout).
	lightDialTimeout = 5 * time.Second
	// lightReadTimeout is how long a request to a silent peer takes to
	// fail (kad-dht's dhtReadMessageTimeout).
	lightReadTimeout = 10 * time.Second
)

// lightWorld is the light tier's network: every light host by identity,
// and the peerstore they share.
type lightWorld struct {
	ps     *lightPeerstore
	spread time.Duration
	// requests and dials count what the light nodes sent; kinds splits
	// the requests by what they are for (see requestKind).
	requests, dials atomic.Int64
	kinds           [numKinds]atomic.Int64
	// verbose (ENXAME_SIMNET_LIGHT_KINDS set in the environment, for
	// profiling runs) prints the counts to stderr every million requests
	// and at close; start is when the world was made.
	verbose bool
	start   time.Time

	mu    sync.Mutex
	hosts map[peer.ID]*lightHost
}

func newLightWorld(spread time.Duration) (*lightWorld, error) {
	ps, err := pstoremem.NewPeerstore()
	if err != nil {
		return nil, fmt.Errorf("simnet: light: peerstore: %w", err)
	}
	return &lightWorld{ps: newLightPeerstore(ps), spread: spread, hosts: map[peer.ID]*lightHost{},
		verbose: os.Getenv("ENXAME_SIMNET_LIGHT_KINDS") != "", start: time.Now()}, nil
}

func (w *lightWorld) get(id peer.ID) *lightHost {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hosts[id]
}

// close closes the shared peerstore; when verbose, it first prints the
// requests by kind and the dials to stderr.
func (w *lightWorld) close() error {
	if w.verbose {
		w.mu.Lock()
		n := len(w.hosts)
		w.mu.Unlock()
		fmt.Fprintf(os.Stderr, "simnet light: %d hosts, %d dials, requests %v\n", n, w.dials.Load(), w.requestKinds())
	}
	return w.ps.Close()
}

// latency is the one-way latency between a and b, rounded to the
// millisecond: every wake-up of the light tier then falls on a millisecond,
// so that many coincide and synctest steps through far fewer instants
// (each step makes every goroutine of the bubble block first).
func (w *lightWorld) latency(a, b *lightHost) time.Duration {
	return max(PairLatency(a.region, b.region, a.idx, b.idx, w.spread).Round(time.Millisecond), time.Millisecond)
}

// newHost adds a host for node idx in region r with identity id.
func (w *lightWorld) newHost(idx int, r Region, id peer.ID, addr ma.Multiaddr) (*lightHost, error) {
	h := &lightHost{
		w: w, id: id, idx: idx, region: r, addrs: []ma.Multiaddr{addr},
		bus:      eventbus.NewBus(),
		conns:    map[peer.ID]struct{}{},
		handlers: map[protocol.ID]network.StreamHandler{},
	}
	em, err := h.bus.Emitter(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		return nil, fmt.Errorf("simnet: light: emitter: %w", err)
	}
	h.emit = em
	w.ps.register(id, h.addrs)
	w.mu.Lock()
	w.hosts[id] = h
	w.mu.Unlock()
	return h, nil
}

// lightHost is a host.Host without a transport: connections are entries
// in two maps, streams are handler calls (see lightSender).
type lightHost struct {
	w      *lightWorld
	id     peer.ID
	idx    int
	region Region
	addrs  []ma.Multiaddr
	bus    event.Bus
	emit   event.Emitter

	mu       sync.Mutex
	conns    map[peer.ID]struct{}
	handlers map[protocol.ID]network.StreamHandler
	closed   bool
	silent   bool // swallows every request (the adversary)

	swallowed atomic.Int64 // requests swallowed while silent
}

var (
	_ host.Host                      = (*lightHost)(nil)
	_ network.Network                = lightNet{}
	_ network.Stream                 = (*lightStream)(nil)
	_ pb.MessageSenderWithDisconnect = (*lightSender)(nil)
)

func (h *lightHost) ID() peer.ID                      { return h.id }
func (h *lightHost) Peerstore() peerstore.Peerstore   { return h.w.ps }
func (h *lightHost) Addrs() []ma.Multiaddr            { return h.addrs }
func (h *lightHost) Network() network.Network         { return lightNet{h: h} }
func (h *lightHost) Mux() protocol.Switch             { return nil }
func (h *lightHost) ConnManager() connmgr.ConnManager { return &connmgr.NullConnMgr{} }
func (h *lightHost) EventBus() event.Bus              { return h.bus }

func (h *lightHost) NewStream(context.Context, peer.ID, ...protocol.ID) (network.Stream, error) {
	return nil, errors.New("simnet: light hosts open no streams (requests go through the message sender)")
}

func (h *lightHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.mu.Lock()
	h.handlers[pid] = handler
	h.mu.Unlock()
	// What identify would tell every peer.
	h.w.ps.AddProtocols(h.id, pid)
}

func (h *lightHost) SetStreamHandlerMatch(pid protocol.ID, _ func(protocol.ID) bool, handler network.StreamHandler) {
	h.SetStreamHandler(pid, handler)
}

func (h *lightHost) RemoveStreamHandler(pid protocol.ID) {
	h.mu.Lock()
	delete(h.handlers, pid)
	h.mu.Unlock()
	h.w.ps.RemoveProtocols(h.id, pid)
}

// handler returns the first handler of protos, or nil.
func (h *lightHost) handler(protos []protocol.ID) (network.StreamHandler, protocol.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range protos {
		if f := h.handlers[p]; f != nil {
			return f, p
		}
	}
	return nil, ""
}

func (h *lightHost) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

func (h *lightHost) isSilent() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.silent
}

func (h *lightHost) setSilent() {
	h.mu.Lock()
	h.silent = true
	h.mu.Unlock()
}

func (h *lightHost) connected(p peer.ID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.conns[p]
	return ok
}

// accept records a connection from p; false when h is closed.
func (h *lightHost) accept(p peer.ID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.conns[p] = struct{}{}
	return true
}

func (h *lightHost) drop(p peer.ID) {
	h.mu.Lock()
	delete(h.conns, p)
	h.mu.Unlock()
}

// identified raises identify's event for p on h's bus.
func (h *lightHost) identified(p peer.ID) {
	if h.isClosed() {
		return
	}
	h.emit.Emit(event.EvtPeerIdentificationCompleted{Peer: p})
}

// Connect dials ai.ID: one round trip, then both sides hold the connection
// and learn (as from identify) that the other is there.
func (h *lightHost) Connect(ctx context.Context, ai peer.AddrInfo) error {
	return h.dial(ctx, ai.ID, true)
}

// dial connects to p (see Connect). With announce false, only p learns
// of the new connection: h does not raise identify's event for p on its
// own bus. roundTrip dials that way, because there the event would only
// make kad-dht send p a FIND_NODE for p's own ID to check it answers
// (dht.peerFound's lookup check) right next to the request that caused
// the dial, whose answer already adds p to h's table (kad-dht's query
// calls validPeerFound on every answer) and whose failure would fail the
// check too. p still checks h, which is how a new node enters the tables
// of the peers it queries.
func (h *lightHost) dial(ctx context.Context, p peer.ID, announce bool) error {
	if p == h.id {
		return errors.New("simnet: light: dial to self")
	}
	if h.isClosed() {
		return errors.New("simnet: light: host closed")
	}
	if h.connected(p) {
		return nil
	}
	r := h.w.get(p)
	if r == nil || r.isClosed() {
		if err := sleepCtx(ctx, lightDialTimeout); err != nil {
			return fmt.Errorf("simnet: light: dial %s: %w", p, err)
		}
		return fmt.Errorf("simnet: light: dial %s: no answer", p)
	}
	h.w.dials.Add(1)
	if err := sleepCtx(ctx, 2*h.w.latency(h, r)); err != nil {
		return fmt.Errorf("simnet: light: dial %s: %w", p, err)
	}
	if !r.accept(h.id) {
		return fmt.Errorf("simnet: light: dial %s: peer left", p)
	}
	if !h.accept(r.id) {
		r.drop(h.id)
		return errors.New("simnet: light: host closed")
	}
	if announce {
		h.identified(r.id)
	}
	r.identified(h.id)
	return nil
}

// Close drops every connection (on both sides) and the host's bus.
func (h *lightHost) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	peers := make([]peer.ID, 0, len(h.conns))
	for p := range h.conns {
		peers = append(peers, p)
	}
	clear(h.conns)
	h.mu.Unlock()
	for _, p := range peers {
		if r := h.w.get(p); r != nil {
			r.drop(h.id)
		}
	}
	return h.emit.Close()
}

// lightNet is a lightHost's network.Network; methods kad-dht does not use
// are left to the embedded nil interface (they panic).
type lightNet struct {
	network.Network
	h *lightHost
}

func (n lightNet) Peerstore() peerstore.Peerstore { return n.h.w.ps }
func (n lightNet) LocalPeer() peer.ID             { return n.h.id }
func (n lightNet) Connectedness(p peer.ID) network.Connectedness {
	if n.h.connected(p) {
		return network.Connected
	}
	return network.NotConnected
}
func (n lightNet) Peers() []peer.ID {
	n.h.mu.Lock()
	defer n.h.mu.Unlock()
	out := make([]peer.ID, 0, len(n.h.conns))
	for p := range n.h.conns {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
func (n lightNet) Conns() []network.Conn              { return nil }
func (n lightNet) ConnsToPeer(peer.ID) []network.Conn { return nil }
func (n lightNet) Notify(network.Notifiee)            {}
func (n lightNet) StopNotify(network.Notifiee)        {}
func (n lightNet) CanDial(peer.ID, ma.Multiaddr) bool { return true }
func (n lightNet) ClosePeer(p peer.ID) error {
	n.h.drop(p)
	if r := n.h.w.get(p); r != nil {
		r.drop(n.h.id)
	}
	return nil
}
func (n lightNet) Close() error { return nil }

// lightSender is kad-dht's message sender on a light host.
type lightSender struct {
	h      *lightHost
	protos []protocol.ID
}

func (s *lightSender) SendRequest(ctx context.Context, p peer.ID, req *pb.Message) (*pb.Message, error) {
	return s.h.roundTrip(ctx, p, s.protos, req, true)
}

func (s *lightSender) SendMessage(ctx context.Context, p peer.ID, req *pb.Message) error {
	_, err := s.h.roundTrip(ctx, p, s.protos, req, false)
	return err
}

func (s *lightSender) OnDisconnect(context.Context, peer.ID) {}

// roundTrip delivers req to p's DHT handler after the one-way latency
// (dialling first if needed) and, when want, returns its answer after the
// way back.
func (h *lightHost) roundTrip(ctx context.Context, p peer.ID, protos []protocol.ID, req *pb.Message, want bool) (*pb.Message, error) {
	if err := h.dial(ctx, p, false); err != nil {
		return nil, err
	}
	r := h.w.get(p)
	if r == nil {
		return nil, fmt.Errorf("simnet: light: %s unknown", p)
	}
	one := h.w.latency(h, r)
	if n := h.w.requests.Add(1); n%1_000_000 == 0 && h.w.verbose {
		fmt.Fprintf(os.Stderr, "simnet light: %s virtual: %d dials, requests %v\n",
			time.Since(h.w.start).Round(time.Millisecond), h.w.dials.Load(), h.w.requestKinds())
	}
	kind := requestKind(req, h.id, p)
	h.w.kinds[kind].Add(1)
	if err := sleepCtx(ctx, one); err != nil {
		return nil, err
	}
	if r.isClosed() || !r.connected(h.id) {
		return nil, fmt.Errorf("simnet: light: %s: connection closed", p)
	}
	handler, pid := r.handler(protos)
	if handler == nil {
		return nil, fmt.Errorf("simnet: light: %s: protocols not supported", p)
	}
	if r.isSilent() {
		r.swallowed.Add(1)
		if err := sleepCtx(ctx, lightReadTimeout); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("simnet: light: %s: read timeout", p)
	}
	if want && kind == kindCheck {
		// kad-dht's lookup check of a new peer asks p for the peers
		// closest to p's own ID and only looks at whether the answer
		// names any: handleFindPeer always puts the target itself first,
		// so a server that has a handler always names at least p. That
		// answer, without the 20 closest peers the check would throw
		// away, saves a table sort and an encode and decode per check.
		if err := sleepCtx(ctx, one); err != nil {
			return nil, err
		}
		resp := pb.NewMessage(pb.Message_FIND_NODE, nil, 0)
		resp.CloserPeers = []*pb.Message_Peer{{Id: []byte(p)}}
		return resp, nil
	}
	body, err := proto.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("simnet: light: encode: %w", err)
	}
	msg := binary.AppendUvarint(make([]byte, 0, len(body)+binary.MaxVarintLen64), uint64(len(body)))
	msg = append(msg, body...)
	st := &lightStream{in: bytes.NewReader(msg), proto: pid, conn: lightConn{local: r.id, remote: h.id}}
	handler(st)
	if !want {
		return nil, nil
	}
	out := st.out.Bytes()
	if len(out) == 0 {
		return nil, fmt.Errorf("simnet: light: %s: stream reset", p)
	}
	if err := sleepCtx(ctx, one); err != nil {
		return nil, err
	}
	n, k := binary.Uvarint(out)
	if k <= 0 || uint64(len(out)-k) < n {
		return nil, fmt.Errorf("simnet: light: %s: bad answer framing", p)
	}
	resp := new(pb.Message)
	if err := proto.Unmarshal(out[k:k+int(n)], resp); err != nil {
		return nil, fmt.Errorf("simnet: light: %s: decode answer: %w", p, err)
	}
	h.w.ps.dropKnownAddrs(resp.CloserPeers)
	return resp, nil
}

// sleepCtx waits d of (virtual) time or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// lightStream is one request's stream as the remote handler sees it: it
// reads the request, then EOF, and collects what the handler writes.
type lightStream struct {
	network.Stream // unused methods panic
	in             *bytes.Reader
	out            bytes.Buffer
	proto          protocol.ID
	conn           lightConn
}

func (s *lightStream) Read(b []byte) (int, error)                   { return s.in.Read(b) }
func (s *lightStream) Write(b []byte) (int, error)                  { return s.out.Write(b) }
func (s *lightStream) Close() error                                 { return nil }
func (s *lightStream) CloseRead() error                             { return nil }
func (s *lightStream) CloseWrite() error                            { return nil }
func (s *lightStream) Reset() error                                 { s.out.Reset(); return nil }
func (s *lightStream) ResetWithError(network.StreamErrorCode) error { return s.Reset() }
func (s *lightStream) SetDeadline(time.Time) error                  { return nil }
func (s *lightStream) SetReadDeadline(time.Time) error              { return nil }
func (s *lightStream) SetWriteDeadline(time.Time) error             { return nil }
func (s *lightStream) Protocol() protocol.ID                        { return s.proto }
func (s *lightStream) SetProtocol(p protocol.ID) error              { s.proto = p; return nil }
func (s *lightStream) Conn() network.Conn                           { return s.conn }
func (s *lightStream) ID() string                                   { return "light" }
func (s *lightStream) Stat() network.Stats                          { return network.Stats{Direction: network.DirInbound} }

// lightConn is the connection a lightStream belongs to.
type lightConn struct {
	network.Conn // unused methods panic
	local        peer.ID
	remote       peer.ID
}

func (c lightConn) LocalPeer() peer.ID  { return c.local }
func (c lightConn) RemotePeer() peer.ID { return c.remote }

// lightPeerstore is the peerstore every light host shares: pstoremem for
// protocols, keys and metrics, and, for the light hosts' own addresses, a
// table written once per host and read without copies or expiry checks.
// Addresses never change in the light tier, so what kad-dht adds for a
// known host (from answers, with a temporary TTL) changes nothing and is
// dropped; addresses of anything else go to pstoremem.
type lightPeerstore struct {
	peerstore.Peerstore
	mu    sync.RWMutex
	addrs map[peer.ID][]ma.Multiaddr
}

func newLightPeerstore(ps peerstore.Peerstore) *lightPeerstore {
	return &lightPeerstore{Peerstore: ps, addrs: map[peer.ID][]ma.Multiaddr{}}
}

// register records host id's addresses for good.
func (ps *lightPeerstore) register(id peer.ID, addrs []ma.Multiaddr) {
	ps.mu.Lock()
	ps.addrs[id] = slices.Clip(slices.Clone(addrs))
	ps.mu.Unlock()
	ps.Peerstore.AddAddrs(id, addrs, peerstore.PermanentAddrTTL)
}

// known returns id's registered addresses (shared: callers must not
// write to them; the slice is clipped, so append copies).
func (ps *lightPeerstore) known(id peer.ID) ([]ma.Multiaddr, bool) {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	a, ok := ps.addrs[id]
	return a, ok
}

// dropKnownAddrs empties the addresses of the answer's peers that are
// light hosts: kad-dht would decode them from bytes and add them to the
// peerstore, which already holds them (as if identify had run). It finds
// them there instead (kad-dht's query merges every referred peer's
// addresses with the peerstore's before using them).
func (ps *lightPeerstore) dropKnownAddrs(peers []*pb.Message_Peer) {
	for _, p := range peers {
		if _, ok := ps.known(peer.ID(p.Id)); ok {
			p.Addrs = nil
		}
	}
}

func (ps *lightPeerstore) Addrs(p peer.ID) []ma.Multiaddr {
	if a, ok := ps.known(p); ok {
		return a
	}
	return ps.Peerstore.Addrs(p)
}

func (ps *lightPeerstore) PeerInfo(p peer.ID) peer.AddrInfo {
	if a, ok := ps.known(p); ok {
		return peer.AddrInfo{ID: p, Addrs: a}
	}
	return ps.Peerstore.PeerInfo(p)
}

func (ps *lightPeerstore) AddAddr(p peer.ID, a ma.Multiaddr, ttl time.Duration) {
	ps.AddAddrs(p, []ma.Multiaddr{a}, ttl)
}

func (ps *lightPeerstore) AddAddrs(p peer.ID, addrs []ma.Multiaddr, ttl time.Duration) {
	if _, ok := ps.known(p); !ok {
		ps.Peerstore.AddAddrs(p, addrs, ttl)
	}
}

func (ps *lightPeerstore) SetAddr(p peer.ID, a ma.Multiaddr, ttl time.Duration) {
	ps.SetAddrs(p, []ma.Multiaddr{a}, ttl)
}

func (ps *lightPeerstore) SetAddrs(p peer.ID, addrs []ma.Multiaddr, ttl time.Duration) {
	if _, ok := ps.known(p); !ok {
		ps.Peerstore.SetAddrs(p, addrs, ttl)
	}
}

func (ps *lightPeerstore) UpdateAddrs(p peer.ID, oldTTL, newTTL time.Duration) {
	if _, ok := ps.known(p); !ok {
		ps.Peerstore.UpdateAddrs(p, oldTTL, newTTL)
	}
}

func (ps *lightPeerstore) ClearAddrs(p peer.ID) {
	if _, ok := ps.known(p); !ok {
		ps.Peerstore.ClearAddrs(p)
	}
}

// What light nodes' requests are for, as counted in lightWorld.kinds.
const (
	kindCheck       = iota // FIND_NODE for the receiver's own ID: kad-dht's lookup check of a new peer
	kindSelf               // FIND_NODE for the sender's own ID: the self-lookup of a join or refresh
	kindFindNode           // other FIND_NODE: bucket refreshes, FindPeer, Provide's closest-peers lookup
	kindProviders          // GET_PROVIDERS
	kindAddProvider        // ADD_PROVIDER
	kindOther
	numKinds
)

var kindNames = [numKinds]string{"check", "self", "find_node", "get_providers", "add_provider", "other"}

// requestKind classifies req, sent by from to to.
func requestKind(req *pb.Message, from, to peer.ID) int {
	switch req.GetType() {
	case pb.Message_FIND_NODE:
		switch peer.ID(req.GetKey()) {
		case to:
			return kindCheck
		case from:
			return kindSelf
		}
		return kindFindNode
	case pb.Message_GET_PROVIDERS:
		return kindProviders
	case pb.Message_ADD_PROVIDER:
		return kindAddProvider
	}
	return kindOther
}

// requestKinds returns the requests sent so far by kind.
func (w *lightWorld) requestKinds() map[string]int64 {
	out := make(map[string]int64, numKinds)
	for i := range w.kinds {
		out[kindNames[i]] = w.kinds[i].Load()
	}
	return out
}
