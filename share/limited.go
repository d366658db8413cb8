package share

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// openExchangeStream opens an exchange stream to p. When the only connection is a
// relayed one (both peers behind NAT), libp2p waits for hole punching to
// give a direct connection; openExchangeStream waits up to half of ctx's time for
// it and then, if the relayed connection is still there, runs the session
// over the relay (within the relay's limits), so that a peer behind a
// symmetric NAT, where hole punching fails, still serves (issue 12).
func openExchangeStream(ctx context.Context, h host.Host, p peer.ID) (network.Stream, error) {
	wait := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl) / 2
	}
	st, err := h.NewStream(network.WithDialPeerTimeout(ctx, wait), p, ProtocolID)
	if err == nil || ctx.Err() != nil || !onlyLimited(h, p) {
		return st, err
	}
	return h.NewStream(network.WithAllowLimitedConn(ctx, "enxame share over relay"), p, ProtocolID)
}

// onlyLimited reports whether every connection to p is limited (relayed).
func onlyLimited(h host.Host, p peer.ID) bool {
	conns := h.Network().ConnsToPeer(p)
	for _, c := range conns {
		if !c.Stat().Limited {
			return false
		}
	}
	return len(conns) > 0
}
