package sched

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// refWorker is a worker as the naive reference planner sees it: one
// free-at time per slot.
type refWorker struct {
	bid    BidReceived
	slotAt []float64
	placed int
}

// refPlace is a naive reference for one placement pass over fresh workers:
// units in queue order (largest first), each run to the worker whose
// earliest-free slot gives the earliest finish, ties to workers with room,
// then to the fewest bytes to fetch, then to the lowest peer ID; but first
// one run of each unit whose best worker holds its inputs and has room. A
// worker given a unit holds its inputs afterwards. A run whose best worker has no room reserves that worker's
// slot and waits; its transfer then starts when the slot frees.
func refPlace(cfg Config, bids []BidReceived, job JobSubmitted) []AssignUnit {
	ws := make([]*refWorker, len(bids))
	for i, b := range bids {
		ws[i] = &refWorker{bid: b, slotAt: make([]float64, b.Slots)}
	}
	slices.SortFunc(ws, func(a, b *refWorker) int { return cmpString(string(a.bid.Worker), string(b.bid.Worker)) })
	order := make([]int, len(job.Units))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ca, cb := job.Units[a].EstCost, job.Units[b].EstCost
		switch {
		case ca > cb:
			return -1
		case ca < cb:
			return 1
		}
		return a - b
	})
	var out []AssignUnit
	k := max(job.Replicas, 1)
	// best is the worker for one more run of u: the earliest finish, ties
	// to workers with room, then to the fewest bytes to fetch, then to the
	// lowest peer ID.
	best := func(u UnitSpec, used []*refWorker) (best *refWorker, bestF float64, bestRoom bool, bestMissing int64) {
		bestF = math.Inf(1)
		for _, w := range ws {
			if slices.Contains(used, w) || (w.bid.MaxMemory != 0 && u.Limits.Memory > w.bid.MaxMemory) {
				continue
			}
			var missing int64
			for _, in := range u.Inputs {
				if !slices.ContainsFunc(w.bid.HasInputs, func(c cid.Cid) bool { return c.Equals(in.CID) }) {
					missing += in.Bytes
				}
			}
			start := slices.Min(w.slotAt)
			room := w.placed < w.bid.Slots+cfg.QueueAllowance
			// Given now, the run fetches while it waits at the worker;
			// waiting here, it fetches once given.
			f := start + float64(missing)/cfg.TransferRate + u.EstCost/w.bid.Speed
			if room {
				f = max(start, float64(missing)/cfg.TransferRate) + u.EstCost/w.bid.Speed
			}
			if f < bestF || f == bestF && (room && !bestRoom || room == bestRoom && missing < bestMissing) {
				best, bestF, bestRoom, bestMissing = w, f, room, missing
			}
		}
		return best, bestF, bestRoom, bestMissing
	}
	runs := make([][]*refWorker, len(job.Units))
	start := func(i int, w *refWorker, f float64) {
		runs[i] = append(runs[i], w)
		w.slotAt[slices.Index(w.slotAt, slices.Min(w.slotAt))] = f
		w.placed++
		out = append(out, AssignUnit{Unit: UnitID{job.Job, i}, Replica: len(runs[i]) - 1, Worker: w.bid.Worker})
		// The worker fetches the unit's inputs, so it holds them for the
		// next units.
		for _, in := range job.Units[i].Inputs {
			w.bid.HasInputs = append(w.bid.HasInputs, in.CID)
		}
	}
	// First one run of each unit whose best worker holds its inputs and
	// has room.
	for _, i := range order {
		u := job.Units[i]
		if len(u.Inputs) == 0 {
			continue
		}
		if w, f, room, missing := best(u, nil); w != nil && room && missing == 0 {
			start(i, w, f)
		}
	}
	for _, i := range order {
		u := job.Units[i]
		used := slices.Clone(runs[i])
		for range k - len(runs[i]) {
			w, f, room, _ := best(u, used)
			if w == nil {
				break
			}
			used = append(used, w)
			if room {
				start(i, w, f)
			} else {
				w.slotAt[slices.Index(w.slotAt, slices.Min(w.slotAt))] = f
			}
		}
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestPlaceMatchesReference compares one placement pass of the Scheduler
// with refPlace on random swarms and jobs.
func TestPlaceMatchesReference(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 50
	}
	for seed := range uint64(n) {
		r := rand.New(rand.NewPCG(seed, 4))
		// One placement pass; refPlace has no end-game backups.
		cfg := Config{NearTie: -1, QueueAllowance: r.IntN(3), Backups: -1}
		var pool []Input
		for i := range 10 {
			pool = append(pool, Input{CID: cidOf(fmt.Sprint("in", i)), Bytes: r.Int64N(100_000_000)})
		}
		var bids []BidReceived
		var ids []peer.ID
		for i := range 1 + r.IntN(20) {
			slots := 1 + r.IntN(4)
			b := BidReceived{Worker: wid(i), Job: jobJ, Slots: slots, FreeSlots: slots, Speed: 0.2 + 5*r.Float64(), MaxMemory: uint64(r.IntN(4)) << 30}
			for _, in := range pool {
				if r.IntN(3) == 0 {
					b.HasInputs = append(b.HasInputs, in.CID)
				}
			}
			bids = append(bids, b)
			ids = append(ids, b.Worker)
		}
		job := JobSubmitted{Job: jobJ, Replicas: 1 + r.IntN(3)}
		for range 1 + r.IntN(100) {
			u := UnitSpec{EstCost: float64(1 + r.IntN(40)), Limits: Limits{Memory: uint64(r.IntN(3)) << 30}}
			for range r.IntN(3) {
				u.Inputs = append(u.Inputs, pool[r.IntN(len(pool))])
			}
			job.Units = append(job.Units, u)
		}

		s, err := New(cfg, rand.New(rand.NewPCG(seed, 0)))
		if err != nil {
			t.Fatal(err)
		}
		s.Observe(WorkersDiscovered{Workers: ids})
		if err := s.Observe(job); err != nil {
			t.Fatalf("seed %d: Observe(job): %v", seed, err)
		}
		s.Next(t0)
		for _, b := range bids {
			s.Observe(b)
		}
		var got []AssignUnit
		for _, a := range s.Next(t0) {
			if a, ok := a.(AssignUnit); ok {
				a.Deadline = time.Time{}
				got = append(got, a)
			}
		}
		want := refPlace(s.Config(), bids, job)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("seed %d: Next() placements differ from the reference (-want +got):\n%s", seed, diff)
		}
	}
}
