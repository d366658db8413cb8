package plan

import (
	"fmt"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// BenchmarkPlanner measures the planner alone fetching 4096 blocks of
// 256 KiB (1 GiB) from 8 full providers at 128 MiB/s each, with Next
// called after every block as a shell does at worst. One op is one whole
// fetch; ns/block is the planner's cost per block, which must stay far
// below the 244 µs a block takes at 1 GiB/s.
func BenchmarkPlanner(b *testing.B) {
	const (
		nBlocks = 4096
		nProv   = 8
		size    = 256 << 10
	)
	keys := make([]cid.Cid, nBlocks)
	for i := range keys {
		keys[i] = key(fmt.Sprintf("bench/%d", i))
	}
	peers := make([]peer.ID, nProv)
	for i := range peers {
		peers[i] = peer.ID(fmt.Sprintf("p%d", i))
	}
	// Each provider delivers a block every 2 ms (128 MiB/s); together one
	// block every 250 µs, at 1 GiB/s.
	perBlock := time.Second / (1 << 30 / size)
	queues := make([][]cid.Cid, nProv)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		pl, err := New(Config{})
		if err != nil {
			b.Fatal(err)
		}
		for i := range queues {
			queues[i] = queues[i][:0]
		}
		for i, k := range keys {
			_ = pl.Observe(WantAdded{Key: k, Size: size, Order: uint64(i)})
		}
		for _, p := range peers {
			_ = pl.Observe(ProviderJoined{Peer: p, HasAll: true})
		}
		now := t0
		done := false
		exec := func(acts []Action) {
			for _, a := range acts {
				switch a := a.(type) {
				case RequestBlocks:
					i := int(a.Peer[1] - '0')
					queues[i] = append(queues[i], a.Keys...)
				case Done:
					done = true
				}
			}
		}
		exec(pl.Next(now))
		for turn := 0; !done; turn++ {
			i := turn % nProv
			if len(queues[i]) == 0 {
				now = now.Add(perBlock)
				exec(pl.Next(now))
				continue
			}
			k := queues[i][0]
			queues[i] = queues[i][1:]
			now = now.Add(perBlock)
			_ = pl.Observe(BlockReceived{Peer: peers[i], Key: k, Bytes: size, At: now})
			exec(pl.Next(now))
			if turn > 100*nBlocks {
				b.Fatal("fetch did not finish")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nBlocks), "ns/block")
}
