package sched

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// BenchmarkPlace measures one placement pass of a 1000-unit job over 50
// heterogeneous workers: with room for every unit ("all-fit"), and with room
// for a fifth of them so that the rest are planned onto busy workers and
// held ("held").
func BenchmarkPlace(b *testing.B) {
	for _, bc := range []struct {
		name  string
		slots int
	}{{"all-fit", 20}, {"held", 4}} {
		b.Run(bc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			ws := make([]peer.ID, 50)
			speeds := make([]float64, 50)
			for i := range ws {
				ws[i] = wid(i)
				speeds[i] = 0.5 + 3.5*rng.Float64()
			}
			units := make([]UnitSpec, 1000)
			for i := range units {
				units[i] = UnitSpec{EstCost: 1 + 19*rng.Float64(), Inputs: []Input{{CID: cidOf(fmt.Sprint(i % 50)), Bytes: 1 << 20}}}
			}
			placed := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				s, _ := New(Config{}, rand.New(rand.NewPCG(1, 1)))
				s.Observe(WorkersDiscovered{Workers: ws})
				s.Observe(JobSubmitted{Job: "J", Units: units})
				s.Next(t0)
				for i, w := range ws {
					s.Observe(BidReceived{Worker: w, Job: "J", Slots: bc.slots, FreeSlots: bc.slots, Speed: speeds[i], At: t0})
				}
				b.StartTimer()
				placed = len(s.Next(t0.Add(time.Millisecond)))
			}
			b.ReportMetric(float64(placed)*float64(b.N)/b.Elapsed().Seconds(), "units/s")
		})
	}
}
