package share

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
)

// Transfer is a fetch in progress: its root, when it started and its
// latest progress (each provider's share included).
type Transfer struct {
	ID       int
	Root     cid.Cid
	Started  time.Time
	Progress Progress
}

// transfers are the fetches in progress. Safe for concurrent use; the zero
// value is ready.
type transfers struct {
	mu   sync.Mutex
	next int
	m    map[int]*Transfer
}

// start records a fetch of root; the caller calls end when it returns.
func (ts *transfers) start(root cid.Cid) *Transfer {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil {
		ts.m = map[int]*Transfer{}
	}
	ts.next++
	t := &Transfer{ID: ts.next, Root: root, Started: time.Now()}
	ts.m[t.ID] = t
	return t
}

func (ts *transfers) update(t *Transfer, p Progress) {
	ts.mu.Lock()
	t.Progress = p
	ts.mu.Unlock()
}

func (ts *transfers) end(t *Transfer) {
	ts.mu.Lock()
	delete(ts.m, t.ID)
	ts.mu.Unlock()
}

// list returns copies of the fetches in progress, oldest first.
func (ts *transfers) list() []Transfer {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]Transfer, 0, len(ts.m))
	for _, t := range ts.m {
		c := *t
		c.Progress.Providers = slices.Clone(t.Progress.Providers)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Transfer) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Transfers returns the fetches in progress (Fetch, FetchHeld, Get, Open,
// Pin), oldest first.
func (s *Service) Transfers() []Transfer { return s.transfers.list() }
