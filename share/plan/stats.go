package plan

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Stats is a read-only snapshot of a fetch's progress, for display.
type Stats struct {
	// BlocksWanted and BlocksReceived count distinct blocks.
	BlocksWanted, BlocksReceived int
	// BytesWanted sums the known block sizes, counting Config.BlockSize for
	// each block whose size is still unknown. BytesReceived counts the
	// first copy of each block; DuplicateBytes the further copies (endgame
	// and late arrivals).
	BytesWanted, BytesReceived, DuplicateBytes int64
	// InFlight counts distinct blocks requested and not yet received.
	InFlight int
	// Stuck counts wanted blocks no active provider can serve.
	Stuck int
	// Providers lists every provider seen, sorted by peer ID.
	Providers []ProviderStats
}

// ProviderStats describes one provider.
type ProviderStats struct {
	Peer  peer.ID
	State ProviderState
	// HasAll says the provider serves every block.
	HasAll bool
	// BytesReceived and BlocksReceived count the blocks this provider
	// delivered first; DuplicateBytes the copies it delivered too late.
	BytesReceived  int64
	BlocksReceived int
	DuplicateBytes int64
	// Share is BytesReceived over Stats.BytesReceived, in [0, 1].
	Share float64
	// Rate is the measured throughput in bytes per second, 0 until the
	// first delivery.
	Rate float64
	// Lead is the estimated time from a request to an idle provider to its
	// first block (a round trip plus one block's transfer), 0 until
	// measured.
	Lead time.Duration
	// InFlight and InFlightBytes are the blocks requested and not yet
	// delivered, and their estimated size.
	InFlight      int
	InFlightBytes int64
	// Window is the current in-flight byte budget.
	Window int64
	// Score is 1 for a healthy provider; it halves with each failure and
	// recovers with each delivered block.
	Score float64
	// Failures counts all failures (BlockFailed, stalls, BlockInvalid).
	Failures int
}

// Stats returns a snapshot of the fetch's progress. It allocates; call it
// for display, not on every event.
func (pl *Planner) Stats() Stats {
	s := Stats{
		BlocksWanted:   pl.wanted,
		BlocksReceived: pl.received,
		BytesWanted:    pl.bytesWanted,
		BytesReceived:  pl.bytesReceived,
		DuplicateBytes: pl.dupBytes,
		Stuck:          pl.stuck,
		Providers:      make([]ProviderStats, 0, len(pl.byID)),
	}
	for _, b := range pl.order {
		if !b.done && len(b.held) > 0 {
			s.InFlight++
		}
	}
	for _, p := range pl.byID {
		ps := ProviderStats{
			Peer:           p.id,
			State:          p.state,
			HasAll:         p.hasAll,
			BytesReceived:  p.bytes,
			BlocksReceived: p.blocks,
			DuplicateBytes: p.dupBytes,
			Rate:           p.rate(),
			Lead:           p.lead,
			InFlight:       len(p.flights),
			InFlightBytes:  p.inflight,
			Window:         p.window(&pl.cfg),
			Score:          p.score,
			Failures:       p.failures,
		}
		if pl.bytesReceived > 0 {
			ps.Share = float64(p.bytes) / float64(pl.bytesReceived)
		}
		s.Providers = append(s.Providers, ps)
	}
	return s
}
