package plan_test

import (
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/enxame/enxame/share/plan"
)

// Example fetches a root and its two leaves from one provider, feeding
// the planner as a shell does and printing the actions it returns.
func Example() {
	sum := func(s string) cid.Cid {
		c, _ := cid.NewPrefixV1(cid.Raw, mh.SHA2_256).Sum([]byte(s))
		return c
	}
	root, left, right := sum("root"), sum("left"), sum("right")
	names := map[cid.Cid]string{root: "root", left: "left", right: "right"}
	prov := peer.ID("provider-1")

	pl, err := plan.New(plan.Config{})
	if err != nil {
		panic(err)
	}
	now := time.Unix(0, 0)
	run := func() {
		for _, a := range pl.Next(now) {
			switch a := a.(type) {
			case plan.RequestBlocks:
				fmt.Print("request from ", string(a.Peer), ":")
				for _, k := range a.Keys {
					fmt.Print(" ", names[k])
				}
				fmt.Println()
			case plan.Done:
				fmt.Println("done")
			default:
				fmt.Printf("%T\n", a)
			}
		}
	}
	_ = pl.Observe(plan.WantAdded{Key: root, Priority: 1})
	_ = pl.Observe(plan.ProviderJoined{Peer: prov, HasAll: true})
	run()

	// The root arrives and is verified; its links become wanted in the
	// same batch of events.
	now = now.Add(20 * time.Millisecond)
	_ = pl.Observe(plan.BlockReceived{Peer: prov, Key: root, Bytes: 100, At: now})
	_ = pl.Observe(plan.WantAdded{Key: left, Size: 256 << 10, Order: 0})
	_ = pl.Observe(plan.WantAdded{Key: right, Size: 1000, Order: 256 << 10})
	run()

	now = now.Add(20 * time.Millisecond)
	_ = pl.Observe(plan.BlockReceived{Peer: prov, Key: left, Bytes: 256 << 10, At: now})
	_ = pl.Observe(plan.BlockReceived{Peer: prov, Key: right, Bytes: 1000, At: now})
	run()

	st := pl.Stats()
	fmt.Printf("%d/%d blocks, %d bytes\n", st.BlocksReceived, st.BlocksWanted, st.BytesReceived)
	// Output:
	// request from provider-1: root
	// request from provider-1: left right
	// done
	// 3/3 blocks, 263244 bytes
}
