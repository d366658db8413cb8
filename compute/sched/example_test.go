package sched_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/enxame/enxame/compute/sched"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Example drives a Scheduler the way a shell does: observe events, take the
// actions from Next, carry them out (here: print them), and report results
// back as events.
func Example() {
	s, err := sched.New(sched.Config{}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fast, slow := peer.ID("fast"), peer.ID("slow")
	show := func(actions []sched.Action) {
		for _, a := range actions {
			switch a := a.(type) {
			case sched.RequestBids:
				fmt.Printf("ask %d workers to bid for %s\n", len(a.Workers), a.Job)
			case sched.AssignUnit:
				fmt.Printf("run %s (replica %d) on %s\n", a.Unit, a.Replica, string(a.Worker))
			case sched.AcceptResult:
				fmt.Printf("accept %s from %d worker(s)\n", a.Unit, len(a.Agreeing))
			case sched.FinishJob:
				fmt.Printf("job %s done with %d outputs\n", a.Job, len(a.Outputs))
			default:
				fmt.Printf("%T\n", a)
			}
		}
	}

	s.Observe(sched.WorkersDiscovered{Workers: []peer.ID{fast, slow}})
	s.Observe(sched.JobSubmitted{Job: "render", Units: []sched.UnitSpec{{EstCost: 8}, {EstCost: 2}}})
	show(s.Next(now))

	s.Observe(sched.BidReceived{Worker: fast, Job: "render", Slots: 1, FreeSlots: 1, Speed: 4, At: now})
	s.Observe(sched.BidReceived{Worker: slow, Job: "render", Slots: 1, FreeSlots: 1, Speed: 1, At: now})
	show(s.Next(now))

	now = now.Add(2 * time.Second)
	for i, w := range []peer.ID{fast, slow} {
		out, _ := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: -1}.Sum([]byte{byte(i)})
		s.Observe(sched.UnitCompleted{Unit: sched.UnitID{Job: "render", Index: i}, Worker: w, Output: out, At: now, Took: 2 * time.Second})
	}
	show(s.Next(now))
	u, _ := s.Unit(sched.UnitID{Job: "render", Index: 0})
	fmt.Println("unit", u.ID, u.Status, "by", string(u.Agreeing[0]))

	// Output:
	// ask 2 workers to bid for render
	// run render/0 (replica 0) on fast
	// run render/1 (replica 0) on slow
	// accept render/0 from 1 worker(s)
	// accept render/1 from 1 worker(s)
	// job render done with 2 outputs
	// unit render/0 done by fast
}
