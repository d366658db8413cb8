package plan

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// This file holds a small discrete-event network that drives a planner in
// virtual time: providers with their own rate, latency and behaviour serve
// requests in FIFO order, and a test shell feeds the planner as the package
// documentation tells a real shell to, checking invariants on every action.

// corePlanner is what the simulator drives: the Planner, or the naive
// reference planner of the differential test.
type corePlanner interface {
	Observe(Event) error
	Next(time.Time) []Action
	Deadline() (time.Time, bool)
}

// dag is a UnixFS-like tree: leaves in file order under interior nodes of
// a given fan-out.
type dag struct {
	root   cid.Cid
	nodes  map[cid.Cid]*dagNode
	all    []cid.Cid // every block, root first
	leaves []cid.Cid
	total  int64
}

type dagNode struct {
	key      cid.Cid
	size     int64
	offset   uint64
	interior bool
	children []cid.Cid
}

// buildDAG makes a tree of n leaves of leafSize bytes (the last one half
// as big) with the given fan-out.
func buildDAG(prefix string, n int, leafSize int64, fanout int) *dag {
	d := &dag{nodes: map[cid.Cid]*dagNode{}}
	var level []*dagNode
	var off uint64
	for i := range n {
		size := leafSize
		if i == n-1 && n > 1 {
			size = leafSize / 2
		}
		nd := &dagNode{key: key(fmt.Sprintf("%s/l%d", prefix, i)), size: size, offset: off}
		off += uint64(size)
		d.nodes[nd.key] = nd
		d.leaves = append(d.leaves, nd.key)
		d.total += size
		level = append(level, nd)
	}
	for depth := 1; len(level) > 1 || depth == 1; depth++ {
		var up []*dagNode
		for i := 0; i < len(level); i += fanout {
			kids := level[i:min(i+fanout, len(level))]
			nd := &dagNode{
				key:      key(fmt.Sprintf("%s/n%d.%d", prefix, depth, i/fanout)),
				size:     int64(16 + 40*len(kids)),
				offset:   kids[0].offset,
				interior: true,
			}
			for _, k := range kids {
				nd.children = append(nd.children, k.key)
			}
			d.nodes[nd.key] = nd
			d.total += nd.size
			up = append(up, nd)
		}
		level = up
	}
	d.root = level[0].key
	// List every block breadth first from the root.
	queue := []cid.Cid{d.root}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		d.all = append(d.all, k)
		queue = append(queue, d.nodes[k].children...)
	}
	return d
}

type behaviour int

const (
	honest    behaviour = iota
	blackhole           // accepts requests, never answers
	corrupt             // serves garbage after a few good blocks
	flaky               // fails a fraction of blocks
)

// simProvider is one provider's configuration and run-time state.
type simProvider struct {
	id       peer.ID
	rate     float64       // bytes per second
	lat      time.Duration // one way
	hasAll   bool
	has      map[cid.Cid]bool // partial: blocks it has and advertises
	lies     map[cid.Cid]bool // advertised but missing: answers not found
	kind     behaviour
	failProb float64 // flaky
	goodRun  int     // corrupt: good blocks before garbage
	joinAt   time.Duration
	leaveAt  time.Duration // 0: never
	slowAt   time.Duration // 0: never
	slowRate float64

	queue  []cid.Cid
	busy   bool
	gone   bool // left, or dropped by the shell
	joined bool
	served int
}

func (p *simProvider) advertises(k cid.Cid) bool {
	return p.hasAll || p.has[k] || p.lies[k]
}

type simKind int

const (
	evReqArrive simKind = iota
	evCancelArrive
	evServed
	evDeliver
	evTick
	evJoin
	evLeave
	evSlow
)

type reply int

const (
	replyOK reply = iota
	replyFail
	replyNotFound
	replyCorrupt
)

type simEvent struct {
	at    time.Time
	seq   int
	kind  simKind
	p     *simProvider
	keys  []cid.Cid
	reply reply
}

type eventQueue []*simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// sim runs one fetch.
type sim struct {
	t     testing.TB
	label string // printed with every failure, e.g. the seed
	pl    corePlanner
	dag   *dag
	provs []*simProvider
	rng   *rand.Rand
	limit time.Duration // virtual time limit

	// checkWindow, if set, returns a provider's current window.
	checkWindow func(peer.ID) (int64, bool)
	blockSize   int64

	q        eventQueue
	seq      int
	now      time.Time
	nextTick time.Time

	// Shell-side bookkeeping.
	byID     map[peer.ID]*simProvider
	inflight map[peer.ID]map[cid.Cid]bool
	dropped  map[peer.ID]DropReason
	received map[cid.Cid]bool
	wantSize map[cid.Cid]int64
	served   map[peer.ID]int64 // first-copy bytes per provider
	requests map[peer.ID]int   // blocks requested per provider
	done     bool
	doneAt   time.Time
	stuck    int
	onNext   func(s *sim) // optional hook after each Next
	steps    int
}

func newSim(t testing.TB, label string, pl corePlanner, d *dag, provs []*simProvider, seed uint64) *sim {
	s := &sim{
		t: t, label: label, pl: pl, dag: d, provs: provs,
		rng:       rand.New(rand.NewPCG(seed, 0x5eed)),
		limit:     2 * time.Hour,
		blockSize: DefaultConfig().BlockSize,
		now:       t0,
		byID:      map[peer.ID]*simProvider{},
		inflight:  map[peer.ID]map[cid.Cid]bool{},
		dropped:   map[peer.ID]DropReason{},
		received:  map[cid.Cid]bool{},
		wantSize:  map[cid.Cid]int64{},
		served:    map[peer.ID]int64{},
		requests:  map[peer.ID]int{},
	}
	for _, p := range provs {
		s.byID[p.id] = p
		s.inflight[p.id] = map[cid.Cid]bool{}
	}
	return s
}

func (s *sim) push(at time.Time, kind simKind, p *simProvider, keys []cid.Cid, r reply) {
	s.seq++
	heap.Push(&s.q, &simEvent{at: at, seq: s.seq, kind: kind, p: p, keys: keys, reply: r})
}

func (s *sim) observe(ev Event) {
	if err := s.pl.Observe(ev); err != nil {
		s.t.Fatalf("%s: Observe(%#v) = %v", s.label, ev, err)
	}
}

// run drives the fetch until Done, quiescence or the time limit. It
// reports whether the fetch completed.
func (s *sim) run() bool {
	// The root is known up front; its size is not.
	s.wantSize[s.dag.root] = 0
	s.observe(WantAdded{Key: s.dag.root, Priority: 1})
	for _, p := range s.provs {
		s.push(t0.Add(p.joinAt), evJoin, p, nil, 0)
		if p.leaveAt > 0 {
			s.push(t0.Add(p.leaveAt), evLeave, p, nil, 0)
		}
		if p.slowAt > 0 {
			s.push(t0.Add(p.slowAt), evSlow, p, nil, 0)
		}
	}
	s.step()
	for len(s.q) > 0 && !s.done {
		e := heap.Pop(&s.q).(*simEvent)
		if e.at.Sub(t0) > s.limit {
			s.t.Errorf("%s: time limit %v reached; stats %+v", s.label, s.limit, s.pl)
			return false
		}
		s.now = e.at
		if s.handle(e) {
			s.step()
		}
	}
	return s.done
}

// handle applies one event; it reports whether the client side saw
// something and must call Next.
func (s *sim) handle(e *simEvent) bool {
	p := e.p
	switch e.kind {
	case evJoin:
		if _, ok := s.dropped[p.id]; ok {
			return false
		}
		p.joined = true
		p.gone = false
		s.observe(ProviderJoined{Peer: p.id, HasAll: p.hasAll})
		if !p.hasAll {
			var ks []cid.Cid
			for _, k := range s.dag.all {
				if p.has[k] || p.lies[k] {
					ks = append(ks, k)
				}
			}
			s.observe(ProviderHas{Peer: p.id, Keys: ks})
		}
		return true
	case evLeave:
		if p.gone {
			return false
		}
		p.gone = true
		p.queue = nil
		clear(s.inflight[p.id])
		s.observe(ProviderLeft{Peer: p.id})
		return true
	case evSlow:
		p.rate = p.slowRate
		return false
	case evReqArrive:
		if p.gone {
			return false
		}
		p.queue = append(p.queue, e.keys...)
		if !p.busy {
			s.serveNext(p)
		}
		return false
	case evCancelArrive:
		if p.gone {
			return false
		}
		p.queue = slices.DeleteFunc(p.queue, func(k cid.Cid) bool { return slices.Contains(e.keys, k) })
		return false
	case evServed:
		if p.gone {
			return false
		}
		s.push(s.now.Add(p.lat), evDeliver, p, e.keys, e.reply)
		s.serveNext(p)
		return false
	case evDeliver:
		return s.deliver(p, e.keys[0], e.reply)
	case evTick:
		return true
	}
	return false
}

// serveNext starts serving the provider's next queued block.
func (p *simProvider) pop() (cid.Cid, bool) {
	if len(p.queue) == 0 {
		return cid.Undef, false
	}
	k := p.queue[0]
	p.queue = p.queue[1:]
	return k, true
}

func (s *sim) serveNext(p *simProvider) {
	p.busy = false
	if p.kind == blackhole {
		p.queue = nil
		return
	}
	for {
		k, ok := p.pop()
		if !ok {
			return
		}
		if !p.hasAll && !p.has[k] {
			// Not found: answered at once.
			s.push(s.now.Add(p.lat), evDeliver, p, []cid.Cid{k}, replyNotFound)
			continue
		}
		r := replyOK
		switch {
		case p.kind == corrupt && p.served >= p.goodRun:
			r = replyCorrupt
		case p.kind == flaky && s.rng.Float64() < p.failProb:
			r = replyFail
		}
		p.served++
		p.busy = true
		dur := time.Duration(float64(s.dag.nodes[k].size) / p.rate * 1e9)
		s.push(s.now.Add(dur), evServed, p, []cid.Cid{k}, r)
		return
	}
}

// deliver is the shell receiving an answer from a provider.
func (s *sim) deliver(p *simProvider, k cid.Cid, r reply) bool {
	if p.gone {
		return false // disconnected: the shell never sees it
	}
	delete(s.inflight[p.id], k)
	switch r {
	case replyFail:
		s.observe(BlockFailed{Peer: p.id, Key: k, Err: errors.New("stream reset")})
	case replyNotFound:
		s.observe(BlockFailed{Peer: p.id, Key: k, Err: fmt.Errorf("provider answered: %w", ErrNotFound)})
	case replyCorrupt:
		s.observe(BlockInvalid{Peer: p.id, Key: k, Err: errors.New("hash mismatch")})
	case replyOK:
		nd := s.dag.nodes[k]
		first := !s.received[k]
		if first {
			s.received[k] = true
			s.served[p.id] += nd.size
		}
		s.observe(BlockReceived{Peer: p.id, Key: k, Bytes: nd.size, At: s.now})
		if first {
			for _, c := range nd.children {
				cn := s.dag.nodes[c]
				prio := 0
				if cn.interior {
					prio = 1
				}
				s.wantSize[c] = cn.size
				s.observe(WantAdded{Key: c, Size: cn.size, Priority: prio, Order: cn.offset})
			}
		}
	}
	return true
}

// step calls Next, checks and executes its actions, and arms the timer.
func (s *sim) step() {
	s.steps++
	acts := s.pl.Next(s.now)
	requested := map[peer.ID]bool{}
	for _, a := range acts {
		switch a := a.(type) {
		case RequestBlocks:
			p := s.byID[a.Peer]
			if p == nil {
				s.t.Fatalf("%s: %v: request to unknown peer", s.label, fmtAction(a))
			}
			if why, ok := s.dropped[a.Peer]; ok {
				s.t.Errorf("%s: %v: request to peer dropped (%v)", s.label, fmtAction(a), why)
			}
			if p.gone || !p.joined {
				s.t.Errorf("%s: %v: request to a peer that left or never joined", s.label, fmtAction(a))
			}
			if len(a.Keys) == 0 {
				s.t.Errorf("%s: empty request to %s", s.label, a.Peer)
			}
			for _, k := range a.Keys {
				if !p.advertises(k) {
					s.t.Errorf("%s: %v: %s not advertised by %s", s.label, fmtAction(a), name(k), string(a.Peer))
				}
				if s.inflight[a.Peer][k] {
					s.t.Errorf("%s: %v: %s already in flight at %s", s.label, fmtAction(a), name(k), string(a.Peer))
				}
				if s.received[k] {
					s.t.Errorf("%s: %v: %s already received", s.label, fmtAction(a), name(k))
				}
				if _, ok := s.wantSize[k]; !ok {
					s.t.Errorf("%s: %v: %s never wanted", s.label, fmtAction(a), name(k))
				}
				s.inflight[a.Peer][k] = true
			}
			s.requests[a.Peer] += len(a.Keys)
			requested[a.Peer] = true
			s.push(s.now.Add(p.lat), evReqArrive, p, a.Keys, 0)
		case CancelBlocks:
			p := s.byID[a.Peer]
			for _, k := range a.Keys {
				if !s.inflight[a.Peer][k] {
					s.t.Errorf("%s: %v: %s not in flight", s.label, fmtAction(a), name(k))
				}
				delete(s.inflight[a.Peer], k)
			}
			s.push(s.now.Add(p.lat), evCancelArrive, p, a.Keys, 0)
		case DropPeer:
			p := s.byID[a.Peer]
			s.dropped[a.Peer] = a.Reason
			p.gone = true
			p.queue = nil
			clear(s.inflight[a.Peer])
		case Done:
			s.done = true
			s.doneAt = s.now
			for _, k := range s.dag.all {
				if !s.received[k] {
					s.t.Errorf("%s: Done before %s arrived", s.label, name(k))
				}
			}
		case Stuck:
			s.stuck++
		}
	}
	if s.checkWindow != nil {
		for id := range requested {
			var bytes int64
			for k := range s.inflight[id] {
				if sz := s.wantSize[k]; sz > 0 {
					bytes += sz
				} else {
					bytes += s.blockSize
				}
			}
			w, _ := s.checkWindow(id)
			if bytes > w && len(s.inflight[id]) > 1 {
				s.t.Errorf("%s: %s has %d bytes in %d blocks in flight, window %d", s.label, string(id), bytes, len(s.inflight[id]), w)
			}
		}
	}
	if s.onNext != nil {
		s.onNext(s)
	}
	if d, ok := s.pl.Deadline(); ok {
		if !d.After(s.now) {
			d = s.now.Add(time.Millisecond)
		}
		if !s.nextTick.After(s.now) || d.Before(s.nextTick) {
			s.nextTick = d
			s.push(d, evTick, nil, nil, 0)
		}
	}
}

// windowOf returns a checkWindow function reading the planner's stats.
func windowOf(pl *Planner) func(peer.ID) (int64, bool) {
	return func(id peer.ID) (int64, bool) {
		for _, ps := range pl.Stats().Providers {
			if ps.Peer == id {
				return ps.Window, true
			}
		}
		return 0, false
	}
}

// elapsed returns the virtual time the fetch took.
func (s *sim) elapsed() time.Duration { return s.doneAt.Sub(t0) }
