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
	// providers before Bitswap takes over, when IPFS peers are connected;
	// at most half the fetch's no-providers deadline.
	ipfsFirstTry = 3 * time.Second
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
// Each block that does not arrive within wait fails the fetch. Every block
// is held in hold (a hold of its own when nil, released on return).
func (n *Node) fetchBitswap(ctx context.Context, root cid.Cid, wait time.Duration, hold *share.Hold) error {
	if hold == nil {
		hold = n.blocks.NewHold()
		defer hold.Release()
	}
	g := hold.Getter(n.bitswap)
	get := func(ctx context.Context, c cid.Cid) ([]cid.Cid, error) {
		ctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		blk, err := g.Get(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("bitswap: get %s: %w", c, err)
		}
		return blockLinks(c, blk.RawData())
	}
	links, err := get(ctx, root)
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
			links, err := get(ctx, c)
			<-sem
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
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
// provider while IPFS peers are connected, Bitswap, both within one
// no-providers deadline (opts.NoProvidersTimeout, else the exchange's, also
// capped by ctx's deadline): the exchange gets the first ipfsFirstTry of
// it (at most half), Bitswap the rest. Bitswap finds providers in the same DHT as the
// exchange, whose providers all speak the exchange, so without IPFS peers
// it could not help and the exchange gets the whole deadline. Blocks that
// Bitswap fetches go into hold when it is not nil. A fetch that ran out of
// time says after how long.
func (n *Node) fetchWithFallback(ctx context.Context, root cid.Cid, opts share.FetchOptions, hold *share.Hold) error {
	start := time.Now()
	err := n.fetchEither(ctx, root, opts, hold)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return fmt.Errorf("gave up after %v: %w", roundDur(time.Since(start)), err)
	}
	return err
}

func (n *Node) fetchEither(ctx context.Context, root cid.Cid, opts share.FetchOptions, hold *share.Hold) error {
	if n.bitswap == nil || !n.ipfsPeers() {
		return n.exchange.Fetch(ctx, root, opts)
	}
	start := time.Now()
	budget := opts.NoProvidersTimeout
	if budget <= 0 {
		budget = n.cfg.Share.Exchange.NoProvidersTimeout
	}
	if budget <= 0 {
		budget = share.DefaultExchangeConfig().NoProvidersTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		budget = max(min(budget, time.Until(dl)), time.Millisecond)
	}
	first := max(min(ipfsFirstTry, roundDur(budget/2)), time.Millisecond)
	opts.NoProvidersTimeout = first
	err := n.exchange.Fetch(ctx, root, opts)
	if err == nil || !errors.Is(err, share.ErrNoProviders) || ctx.Err() != nil {
		return err
	}
	// The exchange had nothing for first: Bitswap gets the rest.
	rest := max(budget-first, time.Millisecond)
	n.log.Info("no enxame provider; trying Bitswap", "cid", root, "for", rest)
	if berr := n.fetchBitswap(ctx, root, rest, hold); berr != nil {
		return fmt.Errorf("no provider after %v: %w; then Bitswap for %v: %v",
			roundDur(time.Since(start)), err, roundDur(rest), berr)
	}
	if opts.Progress != nil {
		opts.Progress(share.Progress{Root: root, Done: true})
	}
	return nil
}

// roundDur rounds d for a message: to 100 ms under a minute, to seconds
// above.
func roundDur(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
