package share

import (
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// wantLimiter is Bitswap's per-peer admission of wants: a token bucket of
// rate wants per second (holding one second's worth) per peer, and the
// exchange's gate. It is safe for concurrent use; allow never blocks (boxo
// calls it from its message loop).
type wantLimiter struct {
	rate  float64
	gated func(peer.ID) bool // may be nil

	mu    sync.Mutex
	peers map[peer.ID]*wantBucket
}

type wantBucket struct {
	tokens float64
	last   time.Time
	denied int64
}

// maxWantPeers caps the peers a wantLimiter remembers; past it, peers with
// a full bucket (idle for a second or more) are forgotten.
const maxWantPeers = 4096

func newWantLimiter(rate float64, gated func(peer.ID) bool) *wantLimiter {
	return &wantLimiter{rate: rate, gated: gated, peers: make(map[peer.ID]*wantBucket)}
}

// allow reports whether a want of p may be served now (boxo's
// PeerBlockRequestFilter).
func (l *wantLimiter) allow(p peer.ID, _ cid.Cid) bool {
	return l.allowAt(p, time.Now())
}

func (l *wantLimiter) allowAt(p peer.ID, now time.Time) bool {
	gated := l.gated != nil && l.gated(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.peers[p]
	if b == nil {
		if len(l.peers) >= maxWantPeers {
			l.evict(now)
		}
		b = &wantBucket{tokens: l.rate, last: now}
		l.peers[p] = b
	}
	b.tokens = min(l.rate, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if gated || b.tokens < 1 {
		b.denied++
		return false
	}
	b.tokens--
	return true
}

// evict forgets peers whose bucket has refilled; l.mu is held.
func (l *wantLimiter) evict(now time.Time) {
	for p, b := range l.peers {
		if now.Sub(b.last) >= time.Second {
			delete(l.peers, p)
		}
	}
}

func (l *wantLimiter) denied(p peer.ID) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.peers[p]; b != nil {
		return b.denied
	}
	return 0
}
