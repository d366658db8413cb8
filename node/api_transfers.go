package node

import (
	"cmp"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/enxame/enxame/node/control"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
)

// transfers are the fetches in progress, for GET /api/v1/transfers (the
// dashboard's view). Safe for concurrent use; the zero value is ready.
type transfers struct {
	mu   sync.Mutex
	next int
	m    map[int]*transfer
}

type transfer struct {
	id      int
	root    cid.Cid
	started time.Time
	last    share.Progress // guarded by transfers.mu
}

// start records a fetch of root; the caller calls end when it returns.
func (ts *transfers) start(root cid.Cid) *transfer {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil {
		ts.m = map[int]*transfer{}
	}
	ts.next++
	t := &transfer{id: ts.next, root: root, started: time.Now()}
	ts.m[t.id] = t
	return t
}

func (ts *transfers) update(t *transfer, p share.Progress) {
	ts.mu.Lock()
	t.last = p
	ts.mu.Unlock()
}

func (ts *transfers) end(t *transfer) {
	ts.mu.Lock()
	delete(ts.m, t.id)
	ts.mu.Unlock()
}

// list returns the fetches in progress, oldest first.
func (ts *transfers) list() []control.Transfer {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := []control.Transfer{}
	for _, t := range ts.m {
		out = append(out, control.Transfer{ID: t.id, CID: t.root.String(), Started: t.started,
			Progress: fetchEvent("progress", t.last)})
	}
	slices.SortFunc(out, func(a, b control.Transfer) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// registerTransfersAPI adds GET /api/v1/transfers.
func (n *Node) registerTransfersAPI(s *control.Server) {
	s.Handle("GET "+control.PathTransfers, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Reply(w, r, n.transfers.list(), nil)
	}))
}
