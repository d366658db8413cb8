package dht

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// muteLimit bounds how many peers the mute core remembers.
const muteLimit = 4096

// mute is the pure core that decides which peers the sender stops asking.
// A peer that lets a request time out is muted for min; each further
// timeout in a row doubles that, up to max; an answer clears the peer.
// A peer's record is forgotten max after its mute ends, so old silences do
// not count against it forever. At most limit peers are remembered: when
// full, the one whose mute ends first (then the lowest ID) gives way.
//
// It does no I/O and takes no locks: the sender holds a mutex around it.
type mute struct {
	min, max time.Duration
	limit    int
	peers    map[peer.ID]muteState
}

type muteState struct {
	strikes int       // timeouts in a row
	until   time.Time // requests fail at once before this
}

func newMute(min, max time.Duration, limit int) *mute {
	return &mute{min: min, max: max, limit: limit, peers: map[peer.ID]muteState{}}
}

// Observe records the outcome of a request to p at now: answered, or
// timed out. It returns when p's mute ends (zero when p is not muted).
func (m *mute) Observe(p peer.ID, answered bool, now time.Time) time.Time {
	if answered {
		delete(m.peers, p)
		return time.Time{}
	}
	st, ok := m.peers[p]
	if ok && now.After(st.until.Add(m.max)) {
		st = muteState{}
	}
	if !ok && len(m.peers) >= m.limit {
		m.evict(now)
	}
	st.strikes++
	st.until = now.Add(Backoff(st.strikes, m.min, m.max, 0.5))
	m.peers[p] = st
	return st.until
}

// Muted reports whether requests to p fail at once at now, and until when.
func (m *mute) Muted(p peer.ID, now time.Time) (time.Time, bool) {
	st, ok := m.peers[p]
	if !ok || !now.Before(st.until) {
		return time.Time{}, false
	}
	return st.until, true
}

// Len is how many peers are remembered.
func (m *mute) Len() int { return len(m.peers) }

// evict forgets every stale record and, if none was, the peer whose mute
// ends first (ties broken by the lower peer ID).
func (m *mute) evict(now time.Time) {
	var victim peer.ID
	var first time.Time
	dropped := false
	for p, st := range m.peers {
		if now.After(st.until.Add(m.max)) {
			delete(m.peers, p)
			dropped = true
			continue
		}
		if victim == "" || st.until.Before(first) || (st.until.Equal(first) && p < victim) {
			victim, first = p, st.until
		}
	}
	if !dropped && victim != "" {
		delete(m.peers, victim)
	}
}
