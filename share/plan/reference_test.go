package plan

import (
	"errors"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// refPlanner is a naive reference planner for the differential test: each
// block, in discovery order, goes to the next idle provider in round-robin
// order that advertises it, one block per provider at a time, with a fixed
// timeout. It has no windows, rates, priorities or endgame.
type refPlanner struct {
	timeout   time.Duration
	threshold int

	now    time.Time
	wants  []cid.Cid
	wanted map[cid.Cid]bool
	done   map[cid.Cid]bool
	holder map[cid.Cid]*refPeer
	peers  []*refPeer // join order
	byID   map[peer.ID]*refPeer
	rr     int

	out             []Action
	doneSent, stuck bool
}

type refPeer struct {
	id       peer.ID
	active   bool
	dropped  bool
	hasAll   bool
	has      map[cid.Cid]bool
	notFound map[cid.Cid]bool
	busy     cid.Cid
	sent     time.Time
	streak   int
}

func newRefPlanner() *refPlanner {
	return &refPlanner{
		timeout:   30 * time.Second,
		threshold: 5,
		wanted:    map[cid.Cid]bool{},
		done:      map[cid.Cid]bool{},
		holder:    map[cid.Cid]*refPeer{},
		byID:      map[peer.ID]*refPeer{},
	}
}

func (r *refPlanner) peer(id peer.ID) *refPeer {
	p := r.byID[id]
	if p == nil {
		p = &refPeer{id: id, has: map[cid.Cid]bool{}, notFound: map[cid.Cid]bool{}}
		r.byID[id] = p
		r.peers = append(r.peers, p)
	}
	return p
}

func (r *refPlanner) release(p *refPeer) {
	if p.busy.Defined() {
		delete(r.holder, p.busy)
		p.busy = cid.Undef
	}
}

func (r *refPlanner) fail(p *refPeer) {
	r.release(p)
	p.streak++
	if p.streak >= r.threshold {
		r.drop(p, DropFailures)
	}
}

func (r *refPlanner) drop(p *refPeer, why DropReason) {
	r.release(p)
	p.active = false
	p.dropped = true
	r.out = append(r.out, DropPeer{Peer: p.id, Reason: why})
}

func (r *refPlanner) Observe(ev Event) error {
	switch ev := ev.(type) {
	case WantAdded:
		if !r.wanted[ev.Key] {
			r.wanted[ev.Key] = true
			r.wants = append(r.wants, ev.Key)
		}
	case ProviderJoined:
		if p := r.peer(ev.Peer); !p.dropped {
			p.active = true
			p.hasAll = p.hasAll || ev.HasAll
		}
	case ProviderHas:
		if p := r.peer(ev.Peer); !p.dropped {
			p.active = true
			for _, k := range ev.Keys {
				p.has[k] = true
			}
		}
	case ProviderLeft:
		p := r.peer(ev.Peer)
		r.release(p)
		p.active = false
		p.hasAll = false
		clear(p.has)
	case BlockReceived:
		p := r.peer(ev.Peer)
		r.done[ev.Key] = true
		p.streak = 0
		if p.busy == ev.Key {
			r.release(p)
		}
		if q := r.holder[ev.Key]; q != nil {
			r.release(q)
			r.out = append(r.out, CancelBlocks{Peer: q.id, Keys: []cid.Cid{ev.Key}})
		}
	case BlockFailed:
		p := r.peer(ev.Peer)
		if p.busy != ev.Key || !p.active {
			return nil
		}
		if errors.Is(ev.Err, ErrNotFound) {
			p.notFound[ev.Key] = true
		}
		r.fail(p)
	case BlockInvalid:
		if p := r.peer(ev.Peer); !p.dropped {
			r.drop(p, DropInvalid)
		}
	}
	return nil
}

func (p *refPeer) serves(k cid.Cid) bool {
	return p.active && (p.hasAll || p.has[k]) && !p.notFound[k]
}

func (r *refPlanner) Next(now time.Time) []Action {
	r.now = now
	for _, p := range r.peers {
		if p.active && p.busy.Defined() && !now.Before(p.sent.Add(r.timeout)) {
			r.out = append(r.out, CancelBlocks{Peer: p.id, Keys: []cid.Cid{p.busy}})
			r.fail(p)
		}
	}
	acts := r.out
	r.out = nil
	stuck := false
	remaining := 0
	for _, k := range r.wants {
		if r.done[k] {
			continue
		}
		remaining++
		servable := false
		for _, p := range r.peers {
			if p.serves(k) {
				servable = true
				break
			}
		}
		if !servable {
			stuck = true
			continue
		}
		if r.holder[k] != nil {
			continue
		}
		for i := range r.peers {
			p := r.peers[(r.rr+i)%len(r.peers)]
			if p.serves(k) && !p.busy.Defined() {
				p.busy, p.sent = k, now
				r.holder[k] = p
				r.rr = (r.rr + i + 1) % len(r.peers)
				acts = append(acts, RequestBlocks{Peer: p.id, Keys: []cid.Cid{k}})
				break
			}
		}
	}
	if remaining == 0 && len(r.wants) > 0 && !r.doneSent {
		acts = append(acts, Done{})
	}
	r.doneSent = remaining == 0 && len(r.wants) > 0
	if stuck && !r.stuck {
		acts = append(acts, Stuck{})
	}
	r.stuck = stuck
	return acts
}

func (r *refPlanner) Deadline() (time.Time, bool) {
	var t time.Time
	ok := false
	for _, p := range r.peers {
		if p.active && p.busy.Defined() {
			if d := p.sent.Add(r.timeout); !ok || d.Before(t) {
				t, ok = d, true
			}
		}
	}
	return t, ok
}
