package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/enxame/enxame/share"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// bitswapProtocol is the newest Bitswap protocol; a connected peer that
// speaks it but not share.ProtocolID is an IPFS node (Kubo).
const bitswapProtocol protocol.ID = "/ipfs/bitswap/1.2.0"

// Bitswap fallback bounds.
const (
	// ipfsFirstTry is how long the enxame exchange looks for enxame
	// providers before Bitswap takes over, when IPFS peers are connected.
	ipfsFirstTry = 3 * time.Second
	// bitswapRootTimeout bounds the wait for the first block over Bitswap.
	bitswapRootTimeout = 30 * time.Second
	// bitswapParallel is how many blocks the Bitswap walk wants at once.
	bitswapParallel = 64
)

// bitswapFinder adapts the router to Bitswap's content routing.
type bitswapFinder struct{ n *Node }

func (f bitswapFinder) FindProvidersAsync(ctx context.Context, c cid.Cid, max int) <-chan peer.AddrInfo {
	return f.n.router.FindProviders(ctx, c, max)
}

var _ share.ProviderFinder = bitswapFinder{}

// ipfsPeers reports whether a connected peer speaks Bitswap but not the
// enxame exchange.
func (n *Node) ipfsPeers() bool {
	for _, p := range n.host.Network().Peers() {
		bs, _ := n.host.Peerstore().SupportsProtocols(p, bitswapProtocol)
		ours, _ := n.host.Peerstore().SupportsProtocols(p, share.ProtocolID)
		if len(bs) > 0 && len(ours) == 0 {
			return true
		}
	}
	return false
}

// fetchBitswap makes the DAG under root local over Bitswap (for content
// only IPFS peers have), walking it with bitswapParallel blocks wanted at
// once. Every block is verified against its CID by Bitswap and the store.
func (n *Node) fetchBitswap(ctx context.Context, root cid.Cid) error {
	hold := n.blocks.NewHold()
	defer hold.Release()
	g := hold.Getter(n.bitswap)

	rctx, cancel := context.WithTimeout(ctx, bitswapRootTimeout)
	blk, err := g.Get(rctx, root)
	cancel()
	if err != nil {
		return fmt.Errorf("bitswap: get root %s: %w", root, err)
	}
	links, err := blockLinks(root, blk.RawData())
	if err != nil {
		return err
	}
	ctx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, bitswapParallel)
	var want func(c cid.Cid)
	want = func(c cid.Cid) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			blk, err := g.Get(ctx, c)
			var links []cid.Cid
			if err == nil {
				links, err = blockLinks(c, blk.RawData())
			}
			<-sem
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("bitswap: get %s: %w", c, err)
					cancelAll()
				}
				mu.Unlock()
				return
			}
			for _, l := range links {
				want(l)
			}
		})
	}
	for _, l := range links {
		want(l)
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// blockLinks returns the links of a dag-pb block; raw blocks have none.
func blockLinks(c cid.Cid, data []byte) ([]cid.Cid, error) {
	switch c.Prefix().Codec {
	case cid.Raw:
		return nil, nil
	case cid.DagProtobuf:
		nd, err := merkledag.DecodeProtobuf(data)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", c, err)
		}
		out := make([]cid.Cid, 0, len(nd.Links()))
		for _, l := range nd.Links() {
			out = append(out, l.Cid)
		}
		return out, nil
	}
	return nil, fmt.Errorf("block %s: codec %#x is not dag-pb or raw", c, c.Prefix().Codec)
}

// fetchWithFallback runs the enxame exchange and, when it finds no enxame
// provider, Bitswap (for content that only IPFS peers have).
func (n *Node) fetchWithFallback(ctx context.Context, root cid.Cid, opts share.FetchOptions) error {
	if n.bitswap == nil {
		return n.exchange.Fetch(ctx, root, opts)
	}
	ipfs := n.ipfsPeers()
	if ipfs && opts.NoProvidersTimeout == 0 {
		opts.NoProvidersTimeout = ipfsFirstTry
	}
	err := n.exchange.Fetch(ctx, root, opts)
	if err == nil || !errors.Is(err, share.ErrNoProviders) || ctx.Err() != nil {
		return err
	}
	n.log.Info("no enxame provider; trying Bitswap", "cid", root, "ipfs_peers", ipfs)
	if berr := n.fetchBitswap(ctx, root); berr != nil {
		return fmt.Errorf("%w (and %v)", err, berr)
	}
	if opts.Progress != nil {
		opts.Progress(share.Progress{Root: root, Done: true})
	}
	return nil
}
