package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// BlocksDir is the block store's directory inside a home.
const BlocksDir = "blocks"

// Compile-time checks that the router gives share what it needs.
var _ share.ExchangeFinder = (*dhtFinder)(nil)

// dhtFinder adapts the router to share's provider finder.
type dhtFinder struct{ n *Node }

func (f *dhtFinder) FindProviders(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo {
	return f.n.router.FindProviders(ctx, c, count)
}

// openShare opens the block store (in the home, or in dir for an ephemeral
// node) and builds the exchange.
func (n *Node) openShare(dir string) error {
	st, err := share.OpenStore(share.DefaultStoreConfig(dir), share.StoreDeps{Logger: n.baseLog})
	if err != nil {
		return fmt.Errorf("open block store: %w", err)
	}
	n.blocks = st
	ecfg := n.cfg.Share.Exchange
	ex, err := share.NewExchange(ecfg, share.ExchangeDeps{
		Host:       n.host,
		Blockstore: st,
		Finder:     &dhtFinder{n},
		Hold:       st.Hold,
		Logger:     n.baseLog,
	})
	if err != nil {
		return fmt.Errorf("start exchange: %w", err)
	}
	n.exchange = ex
	n.gater.ex.Store(ex)
	n.reader = share.NewReader(share.ReaderConfig{}, st)
	if !n.cfg.Share.DisableBitswap {
		bs, err := share.NewBitswap(context.Background(), share.BitswapConfig{}, share.BitswapDeps{
			Host: n.host, Store: st, Providers: bitswapFinder{n}, Logger: n.baseLog})
		if err != nil {
			return fmt.Errorf("start bitswap: %w", err)
		}
		n.bitswap = bs
	}
	return nil
}

// Add imports paths (files or directories) into the block store, pins the
// roots and announces them in the DHT.
func (n *Node) Add(ctx context.Context, paths []string, opts share.AddOptions) (share.AddResult, error) {
	res, err := n.blocks.Add(ctx, paths, opts)
	if err != nil {
		return res, err
	}
	n.announce(res.Roots...)
	return res, nil
}

// AddReader imports r as one file named name and announces it.
func (n *Node) AddReader(ctx context.Context, r io.Reader, name string, opts share.AddOptions) (share.AddResult, error) {
	res, err := n.blocks.AddReader(ctx, r, name, opts)
	if err != nil {
		return res, err
	}
	n.announce(res.Roots...)
	return res, nil
}

// announce provides cids in the DHT in the background (a provide is a DHT
// walk: seconds on a large swarm); Run owns the goroutines.
func (n *Node) announce(cids ...cid.Cid) {
	for _, c := range cids {
		select {
		case n.provideQ <- c:
		default:
			n.log.Warn("provide queue full; the reprovide loop will announce it", "cid", c)
		}
	}
}

// Provide retry backoff: a provide that fails (most often because the
// routing table is still empty: a node that added content before it met
// anyone) is tried again after provideRetryMin, doubling up to
// provideRetryMax, until it succeeds or the next reprovide takes over.
const (
	provideRetryMin = 5 * time.Second
	provideRetryMax = 10 * time.Minute
)

// provideResult is how one provide ended.
type provideResult struct {
	c  cid.Cid
	ok bool
}

// provideRetry is one failed provide waiting to be tried again.
type provideRetry struct {
	next  time.Time
	delay time.Duration
}

// runProvider announces queued roots, re-announces every pin each
// ReprovideInterval, and retries failed announcements with backoff, until
// ctx ends.
func (n *Node) runProvider(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, 4)
	results := make(chan provideResult, 64)
	retry := make(map[cid.Cid]provideRetry) // owned by this goroutine
	handle := func(res provideResult) {
		if res.ok {
			delete(retry, res.c)
			return
		}
		r := retry[res.c]
		r.delay = min(max(2*r.delay, provideRetryMin), provideRetryMax)
		r.next = time.Now().Add(r.delay)
		retry[res.c] = r
	}
	provide := func(c cid.Cid) {
		// Wait for a free slot, taking results meanwhile: the running
		// provides may be waiting to hand theirs over.
		for acquired := false; !acquired; {
			select {
			case sem <- struct{}{}:
				acquired = true
			case res := <-results:
				handle(res)
			case <-ctx.Done():
				return
			}
		}
		wg.Go(func() {
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			err := n.router.Provide(pctx, c)
			if ctx.Err() != nil {
				return
			}
			switch {
			case errors.Is(err, dht.ErrNoPeers):
				n.log.Debug("provide deferred: no peers yet", "cid", c)
			case err != nil:
				n.log.Info("provide failed; will retry", "cid", c, "err", err)
			default:
				n.log.Debug("provided", "cid", c)
			}
			select {
			case results <- provideResult{c, err == nil}:
			case <-ctx.Done():
			}
		})
	}
	// attempt provides c now, or defers it while the routing table is empty
	// (a walk of an empty table fails at once and says nothing new).
	attempt := func(c cid.Cid) {
		if n.router.TableSize() == 0 {
			r := retry[c]
			if r.delay == 0 {
				r.delay = provideRetryMin
			}
			r.next = time.Now().Add(provideRetryMin)
			retry[c] = r
			n.log.Debug("provide deferred: no peers yet", "cid", c)
			return
		}
		provide(c)
	}
	tick := time.NewTicker(n.cfg.Share.ReprovideInterval)
	defer tick.Stop()
	retryTick := time.NewTicker(provideRetryMin)
	defer retryTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-n.provideQ:
			attempt(c)
		case res := <-results:
			handle(res)
		case now := <-retryTick.C:
			for c, r := range retry {
				if now.Before(r.next) {
					continue
				}
				if n.router.TableSize() == 0 {
					r.next = now.Add(provideRetryMin)
					retry[c] = r
					continue
				}
				// Tried now: a failure puts it back with a longer delay,
				// keeping its last delay until then.
				r.next = now.Add(provideRetryMax)
				retry[c] = r
				provide(c)
			}
		case <-tick.C:
			pins, err := n.blocks.Pins(ctx)
			if err != nil {
				n.log.Warn("reprovide: list pins", "err", err)
				continue
			}
			n.log.Info("reprovide", "pins", len(pins))
			clear(retry)
			for _, c := range pins {
				attempt(c)
			}
		}
	}
}

// Fetch makes the whole DAG under root local, fetching what is missing from
// the swarm (several providers at once, every block verified). It returns
// at once when the DAG is already complete. When no enxame peer provides
// it, it falls back to Bitswap (IPFS peers such as Kubo).
func (n *Node) Fetch(ctx context.Context, root cid.Cid, opts share.FetchOptions) error {
	return n.fetchWithFallback(ctx, root, opts)
}

// Blocks is the node's block store.
func (n *Node) Blocks() *share.Store { return n.blocks }

// Exchange is the node's block exchange.
func (n *Node) Exchange() *share.Exchange { return n.exchange }

// content backs compute's Content with share: Put adds and announces, Get
// fetches the DAG if needed and reads it.
type content struct{ n *Node }

func (c content) Put(ctx context.Context, r io.Reader) (cid.Cid, error) {
	res, err := c.n.AddReader(ctx, r, "", share.AddOptions{})
	if err != nil {
		return cid.Undef, err
	}
	return res.Root, nil
}

func (c content) Get(ctx context.Context, root cid.Cid) (io.ReadCloser, error) {
	return c.n.Open(ctx, root)
}

// Has reports whether c's root block is stored here (workers bid with it).
func (c content) Has(ctx context.Context, root cid.Cid) (bool, error) {
	return c.n.blocks.Has(ctx, root)
}

// Open returns a reader of the file root, fetching its DAG from the swarm
// first when it is not complete here.
func (n *Node) Open(ctx context.Context, root cid.Cid) (io.ReadSeekCloser, error) {
	if err := n.Fetch(ctx, root, share.FetchOptions{}); err != nil {
		return nil, err
	}
	r, err := n.blocks.Open(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", root, err)
	}
	return r, nil
}
