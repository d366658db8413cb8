package node

import (
	"context"

	"github.com/enxame/enxame/node/gateway"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
)

// gatewayFetcher gives the gateway the node's verified fetch (the exchange
// with its Bitswap fallback); the request's deadline bounds it.
type gatewayFetcher struct{ n *Node }

var _ gateway.Fetcher = gatewayFetcher{}

func (f gatewayFetcher) Fetch(ctx context.Context, root cid.Cid) error {
	return f.n.Fetch(ctx, root, share.FetchOptions{NoProvidersTimeout: f.n.cfg.Gateway.WithDefaults().FetchTimeout})
}

// openGateway binds the IPFS HTTP gateway when gateway.listen is set.
func (n *Node) openGateway() error {
	if n.cfg.Gateway.Listen == "" {
		return nil
	}
	gw, err := gateway.New(n.cfg.Gateway, gateway.Deps{Blockstore: n.blocks, Fetcher: gatewayFetcher{n}, Logger: n.baseLog})
	if err != nil {
		return err
	}
	n.gateway = gw
	return nil
}

// GatewayURL is the IPFS HTTP gateway's base URL (http://HOST:PORT), or ""
// when it is off.
func (n *Node) GatewayURL() string {
	if n.gateway == nil {
		return ""
	}
	return n.gateway.URL()
}
