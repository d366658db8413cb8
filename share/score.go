package share

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// scoreTable counts the offences of peers (invalid or unrequested blocks,
// malformed messages) and gates a peer for a while once it reaches a
// threshold. It is safe for concurrent use.
type scoreTable struct {
	after int
	dur   time.Duration

	mu    sync.Mutex
	peers map[peer.ID]*peerScore
}

type peerScore struct {
	offences int
	until    time.Time // gated until then
}

// maxScored caps the peers remembered; beyond it, peers that are not gated
// are forgotten first.
const maxScored = 4096

func newScoreTable(after int, dur time.Duration) *scoreTable {
	return &scoreTable{after: after, dur: dur, peers: make(map[peer.ID]*peerScore)}
}

// offend records one offence of p at now and reports whether p is now
// gated (the offence that reached the threshold, or any while gated).
func (t *scoreTable) offend(p peer.ID, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := t.peers[p]
	if ps == nil {
		if len(t.peers) >= maxScored {
			t.evict(now)
		}
		ps = &peerScore{}
		t.peers[p] = ps
	}
	ps.offences++
	if ps.offences >= t.after {
		ps.until = now.Add(t.dur)
		ps.offences = 0
		return true
	}
	return now.Before(ps.until)
}

// gated reports whether p is gated at now.
func (t *scoreTable) gated(p peer.ID, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := t.peers[p]
	return ps != nil && now.Before(ps.until)
}

// offences returns p's offences since it was last gated.
func (t *scoreTable) offences(p peer.ID) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ps := t.peers[p]; ps != nil {
		return ps.offences
	}
	return 0
}

// evict forgets peers that are not gated; t.mu is held.
func (t *scoreTable) evict(now time.Time) {
	for p, ps := range t.peers {
		if !now.Before(ps.until) {
			delete(t.peers, p)
		}
	}
}
