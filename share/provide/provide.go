// Package provide decides when a peer announces content in the DHT: the
// retry and reprovide policy of share's provider loop, as a pure state
// machine in the style of share/plan.
//
// A Queue knows which CIDs want announcing, when each is next due and how
// long its retry delay has grown. The shell (share.Service) owns one Queue
// in one goroutine: it feeds in what happened (Observe with Requested,
// Reprovided, Finished, Withdrawn, TableSized) and runs the Provide actions
// Next returns, then sleeps until Wake. The Queue starts no goroutine,
// reads no clock (time comes in as an argument), takes no lock and does no
// I/O; the same inputs give the same actions.
//
// The policy: a requested CID is provided at once when the routing table
// has peers, and deferred by RetryMin while it is empty (a walk of an empty
// table fails at once and says nothing new). A provide that fails is tried
// again after RetryMin, doubling up to RetryMax, until it succeeds or the
// next reprovide replaces the whole set. At most MaxInflight provides run
// at once; the rest wait their turn in due order. A withdrawn CID (its
// blocks are gone) is forgotten: it is not retried and not provided again.
//
// It imports only the standard library and go-cid.
package provide

import (
	"container/heap"
	"errors"
	"time"

	"github.com/ipfs/go-cid"
)

// Config tunes a Queue. A zero field means its default.
type Config struct {
	// RetryMin is the first retry delay, and how long a provide waits
	// while the routing table is empty. Default 5 s.
	RetryMin time.Duration
	// RetryMax caps the retry delay, which doubles after each failure.
	// Default 10 min.
	RetryMax time.Duration
	// MaxInflight is how many provides run at once. Default 4.
	MaxInflight int
}

// Defaults of Config.
const (
	DefaultRetryMin    = 5 * time.Second
	DefaultRetryMax    = 10 * time.Minute
	DefaultMaxInflight = 4
)

func (c Config) withDefaults() (Config, error) {
	if c.RetryMin < 0 || c.RetryMax < 0 || c.MaxInflight < 0 {
		return c, errors.New("provide: config: values must be >= 0")
	}
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.RetryMax < c.RetryMin {
		return c, errors.New("provide: config: RetryMax must be >= RetryMin")
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	return c, nil
}

// Event is an input of Queue.Observe.
type Event interface{ isEvent() }

// Requested asks for Key to be announced as soon as possible (content just
// added or fetched). A Key already waiting becomes due now; one in flight
// is left to the provide under way.
type Requested struct{ Key cid.Cid }

// Reprovided replaces everything waiting with Keys, all due now: the
// periodic re-announcement of everything the peer shares. Retry delays
// start over; provides in flight are not repeated.
type Reprovided struct{ Keys []cid.Cid }

// Finished reports that the provide of Key ended, well (OK) or not.
type Finished struct {
	Key cid.Cid
	OK  bool
}

// Withdrawn says Key is no longer shared (GC removed its blocks): the Queue
// forgets it, also when its provide is in flight.
type Withdrawn struct{ Key cid.Cid }

// TableSized reports the routing table's size; while it is 0, due provides
// are deferred by RetryMin instead of run. Until the first TableSized the
// table counts as empty.
type TableSized struct{ Size int }

func (Requested) isEvent()  {}
func (Reprovided) isEvent() {}
func (Finished) isEvent()   {}
func (Withdrawn) isEvent()  {}
func (TableSized) isEvent() {}

// Provide is the action of announcing Key now. The shell reports its end
// with Finished.
type Provide struct{ Key cid.Cid }

// entry is one CID the Queue knows.
type entry struct {
	key      cid.Cid
	due      time.Time
	delay    time.Duration // the last retry delay; 0 before any failure
	seq      uint64        // ties on due break on arrival order
	idx      int           // position in the heap; -1 when not in it
	inflight bool
	gone     bool // withdrawn while in flight
}

// Queue is the provide policy's state. The zero Queue is not usable: get
// one from New. It is not safe for concurrent use.
type Queue struct {
	cfg      Config
	entries  map[cid.Cid]*entry
	waiting  entryHeap
	inflight int
	failed   []*entry // failed since the last Next: due at its now + delay
	empty    bool     // the routing table was last seen empty
	seq      uint64
}

// New returns an empty Queue, or an error for a bad cfg.
func New(cfg Config) (*Queue, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Queue{cfg: cfg, entries: map[cid.Cid]*entry{}, empty: true}, nil
}

// Observe feeds an event into the Queue. It returns an error only for an
// unknown event type.
func (q *Queue) Observe(ev Event) error {
	switch ev := ev.(type) {
	case Requested:
		q.request(ev.Key)
	case Reprovided:
		for _, e := range q.waiting {
			e.idx = -1
			delete(q.entries, e.key)
		}
		q.waiting = q.waiting[:0]
		for _, e := range q.failed {
			e.gone = true
			delete(q.entries, e.key)
		}
		q.failed = q.failed[:0]
		for _, k := range ev.Keys {
			if e, ok := q.entries[k]; ok && e.inflight {
				e.gone = false
				continue
			}
			q.request(k)
			q.entries[k].delay = 0
		}
	case Finished:
		e, ok := q.entries[ev.Key]
		if !ok || !e.inflight {
			return nil
		}
		e.inflight = false
		q.inflight--
		if ev.OK || e.gone {
			delete(q.entries, ev.Key)
			return nil
		}
		e.delay = min(max(2*e.delay, q.cfg.RetryMin), q.cfg.RetryMax)
		q.failed = append(q.failed, e)
	case Withdrawn:
		e, ok := q.entries[ev.Key]
		if !ok {
			return nil
		}
		if e.inflight {
			e.gone = true
			return nil
		}
		if e.idx >= 0 {
			heap.Remove(&q.waiting, e.idx)
		}
		e.gone = true // in failed: dropped by the next Next
		delete(q.entries, ev.Key)
	case TableSized:
		q.empty = ev.Size == 0
	default:
		return errors.New("provide: unknown event")
	}
	return nil
}

// request makes k due now, adding it if new.
func (q *Queue) request(k cid.Cid) {
	e, ok := q.entries[k]
	if !ok {
		e = &entry{key: k, idx: -1}
		q.entries[k] = e
	}
	e.gone = false
	if e.inflight {
		return
	}
	e.due = time.Time{} // the zero time: due now, before anything dated
	if e.idx < 0 {
		q.push(e)
	} else {
		heap.Fix(&q.waiting, e.idx)
	}
}

func (q *Queue) push(e *entry) {
	q.seq++
	e.seq = q.seq
	heap.Push(&q.waiting, e)
}

// Next returns the provides to start at now, in due order (ties by arrival),
// at most as many as free in-flight slots. While the routing table is empty
// it starts none and defers every due entry by RetryMin.
func (q *Queue) Next(now time.Time) []Provide {
	q.settle(now)
	var out []Provide
	for len(q.waiting) > 0 && q.inflight < q.cfg.MaxInflight {
		e := q.waiting[0]
		if e.due.After(now) {
			break
		}
		if q.empty {
			// Deferred: the delay so far is kept for the next failure.
			for len(q.waiting) > 0 && !q.waiting[0].due.After(now) {
				e := q.waiting[0]
				if e.delay == 0 {
					e.delay = q.cfg.RetryMin
				}
				e.due = now.Add(q.cfg.RetryMin)
				heap.Fix(&q.waiting, 0)
			}
			break
		}
		heap.Pop(&q.waiting)
		e.inflight = true
		q.inflight++
		out = append(out, Provide{Key: e.key})
	}
	return out
}

// settle dates the entries that failed since the last Next and puts them
// back in line.
func (q *Queue) settle(now time.Time) {
	for _, e := range q.failed {
		if e.gone || e.inflight || e.idx >= 0 {
			continue // withdrawn, or requested again meanwhile
		}
		e.due = now.Add(e.delay)
		q.push(e)
	}
	q.failed = q.failed[:0]
}

// Wake returns when the earliest waiting entry falls due, and false when
// nothing waits. Call it after Next; an entry waiting only for a free
// in-flight slot is due already (Wake returns a time not after the last
// Next's now, or the zero time).
func (q *Queue) Wake() (time.Time, bool) {
	if len(q.waiting) == 0 {
		return time.Time{}, false
	}
	return q.waiting[0].due, true
}

// Waiting returns how many entries wait (not in flight), and Inflight how
// many provides run.
func (q *Queue) Waiting() int  { return len(q.waiting) }
func (q *Queue) Inflight() int { return q.inflight }

// Delay returns k's current retry delay (0 before any failure or when k is
// unknown).
func (q *Queue) Delay(k cid.Cid) time.Duration {
	if e, ok := q.entries[k]; ok {
		return e.delay
	}
	return 0
}

// entryHeap orders waiting entries by due time, then arrival.
type entryHeap []*entry

func (h entryHeap) Len() int { return len(h) }
func (h entryHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.idx = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.idx = -1
	*h = old[:len(old)-1]
	return e
}
