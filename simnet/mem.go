package simnet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"
)

// The mem tier. A mem node is a whole enxame node (node.New: the DHT
// router, the share store and exchange, compute) like a full node, on a
// libp2p host of go-libp2p's p2p/net/mock (mocknet) instead of a host over
// simulated QUIC: a basic host (identify, multistream, the peerstore, the
// event bus) on an in-memory network whose connections are a pair of
// structs and whose streams are a pair of pipes, with no QUIC, no TLS, no
// yamux and no packet simulation. Every write on a stream reaches the other
// end after the link's one-way latency (PairLatency, in virtual time) plus
// its bandwidth delay.
//
// mocknet dials instantly and needs a link per pair of peers before a dial;
// N² links up front would cost ~1 kB per pair (0.5 GB at N = 1,000), so
// memHost creates a pair's link when either side first dials the other, and
// waits one round trip before the dial (the QUIC handshake). A dial to a
// peer that left waits memDialTimeout and fails, as QUIC's handshake does.
//
// Not modelled: loss, per-node uplink and downlink caps (mocknet's
// bandwidth is per link, shared by both directions: the dht scenarios move
// small messages; the fetch scenario, whose point is sharing an uplink,
// stays on the full tier), address discovery (mocknet hosts have no
// observed-address manager), stream-level flow control.

// memDialTimeout is how long a dial to a dead peer takes to fail (libp2p's
// QUIC handshake idle timeout, as in the light tier).
const memDialTimeout = 5 * time.Second

// memWorld is the mem tier's network: the mocknet, and every mem host by
// identity.
type memWorld struct {
	mn     mocknet.Mocknet
	spread time.Duration
	// bytesPerSecond is each link's bandwidth (0: unlimited).
	bytesPerSecond float64
	// dials counts the dials that created a connection.
	dials atomic.Int64

	mu    sync.Mutex
	hosts map[peer.ID]*memHost
	links map[[2]peer.ID]bool
}

func newMemWorld(spread time.Duration, bitsPerSecond int) *memWorld {
	return &memWorld{
		mn: mocknet.New(), spread: spread, bytesPerSecond: float64(bitsPerSecond) / 8,
		hosts: map[peer.ID]*memHost{}, links: map[[2]peer.ID]bool{},
	}
}

// latency is the one-way latency between a and b, rounded to the
// millisecond (as in the light tier: wake-ups coincide, and synctest steps
// through fewer instants).
func (w *memWorld) latency(a, b *memHost) time.Duration {
	return max(PairLatency(a.region, b.region, a.idx, b.idx, w.spread).Round(time.Millisecond), time.Millisecond)
}

// newHost adds a mocknet host for node idx in region r with key and
// listen address addr, its connections managed by cm (nil: none).
func (w *memWorld) newHost(idx int, r Region, key crypto.PrivKey, addr ma.Multiaddr, cm connmgr.ConnManager) (*memHost, error) {
	bh, err := w.mn.AddPeer(key, addr)
	if err != nil {
		return nil, fmt.Errorf("simnet: mem: host: %w", err)
	}
	h := &memHost{Host: bh, w: w, idx: idx, region: r, cm: cm, alive: true}
	if cm != nil {
		bh.Network().Notify(cm.Notifee())
	}
	w.mu.Lock()
	w.hosts[bh.ID()] = h
	w.mu.Unlock()
	return h, nil
}

// dial gets from ready to open a connection to id: it creates the pair's
// link if there is none and waits a round trip, or fails after
// memDialTimeout when id is not a live host. It returns at once when from is
// connected to id already.
func (w *memWorld) dial(ctx context.Context, from *memHost, id peer.ID) error {
	if from.Network().Connectedness(id) == network.Connected {
		return nil
	}
	w.mu.Lock()
	to := w.hosts[id]
	live := to != nil && to.alive && from.alive
	key := [2]peer.ID{from.ID(), id}
	if key[0] > key[1] {
		key[0], key[1] = key[1], key[0]
	}
	linked := w.links[key]
	if live && !linked {
		w.links[key] = true
	}
	w.mu.Unlock()
	if !live {
		t := time.NewTimer(memDialTimeout)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("simnet: mem: dial %s: %w", id, ctx.Err())
		case <-t.C:
			return fmt.Errorf("simnet: mem: dial %s: %w", id, errDialTimeout)
		}
	}
	lat := w.latency(from, to)
	if !linked {
		l, err := w.mn.LinkPeers(from.ID(), id)
		if err != nil {
			return fmt.Errorf("simnet: mem: link %s: %w", id, err)
		}
		l.SetOptions(mocknet.LinkOptions{Latency: lat, Bandwidth: w.bytesPerSecond})
	}
	if err := sleepCtx(ctx, 2*lat); err != nil {
		return fmt.Errorf("simnet: mem: dial %s: %w", id, err)
	}
	w.dials.Add(1)
	return nil
}

var errDialTimeout = errors.New("handshake did not complete in time")

// memHost is a mocknet host that dials through its memWorld (see dial)
// and has a connection manager of its own.
type memHost struct {
	host.Host
	w      *memWorld
	idx    int
	region Region
	cm     connmgr.ConnManager
	alive  bool // guarded by w.mu
}

// Connect dials p (see memWorld.dial) unless connected already.
func (h *memHost) Connect(ctx context.Context, pi peer.AddrInfo) error {
	if err := h.w.dial(ctx, h, pi.ID); err != nil {
		return err
	}
	return h.Host.Connect(ctx, pi)
}

// NewStream dials p first if needed (see memWorld.dial).
func (h *memHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	if err := h.w.dial(ctx, h, p); err != nil {
		return nil, err
	}
	return h.Host.NewStream(ctx, p, pids...)
}

// ConnManager is the host's connection manager.
func (h *memHost) ConnManager() connmgr.ConnManager {
	if h.cm == nil {
		return h.Host.ConnManager()
	}
	return h.cm
}

// Close marks the host dead (dials to it now fail) and closes it: its
// connections close on both sides.
func (h *memHost) Close() error {
	h.w.mu.Lock()
	h.alive = false
	h.w.mu.Unlock()
	var err error
	if h.cm != nil {
		err = h.cm.Close()
	}
	return errors.Join(err, h.Host.Close())
}
