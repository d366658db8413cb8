package node

import (
	"context"

	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// bitswapFinder adapts the router to Bitswap's content routing.
type bitswapFinder struct{ n *Node }

func (f bitswapFinder) FindProvidersAsync(ctx context.Context, c cid.Cid, max int) <-chan peer.AddrInfo {
	return f.n.router.FindProviders(ctx, c, max)
}

var _ share.ProviderFinder = bitswapFinder{}

// fetchWithFallback fetches the DAG under root with the exchange, falling
// back to Bitswap for content only IPFS peers have: the policy is
// share.Exchange.FetchFallback's.
func (n *Node) fetchWithFallback(ctx context.Context, root cid.Cid, opts share.FetchOptions, hold *share.Hold) error {
	return n.exchange.FetchFallback(ctx, n.bitswap, root, opts, hold)
}
