package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/share"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
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
	scfg := share.DefaultStoreConfig(dir)
	scfg.MaxBytes = int64(n.cfg.Storage.Max)
	st, err := share.OpenStore(scfg, share.StoreDeps{Logger: n.baseLog})
	if err != nil {
		return fmt.Errorf("open block store: %w", err)
	}
	n.blocks = st
	n.shareMet = share.NewMetrics(st)
	ecfg := n.cfg.Share.Exchange
	ex, err := share.NewExchange(ecfg, share.ExchangeDeps{
		Host:       n.host,
		Blockstore: st,
		Finder:     &dhtFinder{n},
		Hold:       st.Hold,
		Logger:     n.baseLog,
		Metrics:    n.shareMet,
	})
	if err != nil {
		return fmt.Errorf("start exchange: %w", err)
	}
	n.exchange = ex
	n.gater.ex.Store(ex)
	n.reader = share.NewReader(share.ReaderConfig{}, st)
	if !n.cfg.Share.DisableBitswap {
		bs, err := share.NewBitswap(context.Background(), share.BitswapConfig{}, share.BitswapDeps{
			Host: n.host, Store: st, Providers: bitswapFinder{n}, Gated: ex.Gated, Logger: n.baseLog})
		if err != nil {
			return fmt.Errorf("start bitswap: %w", err)
		}
		n.bitswap = bs
		n.shareMet.AttachBitswap(bs)
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
// it, it falls back to Bitswap (IPFS peers such as Kubo) within the same
// deadline: the fetch fails with an error wrapping share.ErrNoProviders
// once nothing has arrived for opts.NoProvidersTimeout (or the exchange's
// NoProvidersTimeout), whichever protocol it was waiting on. The blocks are
// protected from GC only while Fetch runs: pin the root to keep them.
func (n *Node) Fetch(ctx context.Context, root cid.Cid, opts share.FetchOptions) error {
	return n.fetchWithFallback(ctx, root, opts, nil)
}

// errIncomplete says that a block of a fetched DAG was gone before hold
// could take it (a GC ran between the fetch's end and the hold).
var errIncomplete = errors.New("fetched DAG lost a block before it was held")

// fetchHeld is Fetch that, when it succeeds, leaves every block of the DAG
// in hold, taken before the fetch lets go of its own holds, so that a GC
// cannot remove a block the caller is about to read. The caller releases
// hold (also after an error: hold may hold part of the DAG). Should a block
// be gone before hold took it (a GC between the fetch's end and the hold,
// were the exchange to release before it reports Done), it fetches again,
// up to three times.
func (n *Node) fetchHeld(ctx context.Context, root cid.Cid, opts share.FetchOptions, hold *share.Hold) error {
	tr := n.transfers.start(root) // listed by GET /api/v1/transfers
	defer n.transfers.end(tr)
	progress := opts.Progress
	for try := 1; ; try++ {
		held := false
		var herr error
		o := opts
		// The fetch reports Done while it still holds every block of the
		// DAG: hold them from there.
		o.Progress = func(p share.Progress) {
			n.transfers.update(tr, p)
			if p.Done && !held {
				held, herr = true, n.holdDAG(ctx, root, hold)
			}
			if progress != nil {
				progress(p)
			}
		}
		if err := n.fetchWithFallback(ctx, root, o, hold); err != nil {
			return err
		}
		if !held {
			herr = n.holdDAG(ctx, root, hold)
		}
		if !errors.Is(herr, errIncomplete) || try == 3 {
			return herr
		}
		// The blocks held so far stay held; fetch what went missing.
		n.log.Debug("fetch: a block went before it was held; fetching again", "cid", root)
	}
}

// holdDAG adds every block of the DAG under root to hold, following the
// links of dag-pb nodes as the exchange does, and checks that each is
// stored after it is held (the order that makes a hold race-free against
// GC). It returns an error wrapping errIncomplete if one is missing.
func (n *Node) holdDAG(ctx context.Context, root cid.Cid, hold *share.Hold) error {
	seen := map[cid.Cid]struct{}{root: {}}
	hold.Add(root)
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c.Prefix().Codec != cid.DagProtobuf {
			ok, err := n.blocks.Has(ctx, c)
			if err != nil {
				return fmt.Errorf("hold %s: %w", c, err)
			}
			if !ok {
				return fmt.Errorf("hold %s: %w", c, errIncomplete)
			}
			continue
		}
		blk, err := n.blocks.Get(ctx, c)
		if ipld.IsNotFound(err) {
			return fmt.Errorf("hold %s: %w", c, errIncomplete)
		}
		if err != nil {
			return fmt.Errorf("hold %s: %w", c, err)
		}
		links, err := share.Links(c, blk.RawData())
		if err != nil {
			return fmt.Errorf("hold: %w", err)
		}
		fresh := links[:0]
		for _, l := range links {
			if _, ok := seen[l]; !ok {
				seen[l] = struct{}{}
				fresh = append(fresh, l)
			}
		}
		hold.Add(fresh...)
		for i := len(fresh) - 1; i >= 0; i-- {
			stack = append(stack, fresh[i])
		}
	}
	return nil
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

// PutTemp adds r unpinned and announces it, holding its blocks until
// release: a worker's output, kept until delivered or expired. The blocks
// are unheld for an instant between the add and the hold; a GC in that
// instant makes PutTemp fail (the worker reports the unit failed), never
// return a CID whose blocks are gone.
func (c content) PutTemp(ctx context.Context, r io.Reader) (cid.Cid, func(), error) {
	res, err := c.n.blocks.AddReader(ctx, r, "", share.AddOptions{NoPin: true})
	if err != nil {
		return cid.Undef, nil, err
	}
	hold := c.n.blocks.NewHold()
	if err := c.n.holdDAG(ctx, res.Root, hold); err != nil {
		hold.Release()
		return cid.Undef, nil, fmt.Errorf("hold output %s: %w", res.Root, err)
	}
	c.n.announce(res.Root)
	return res.Root, hold.Release, nil
}

// Keep fetches root's DAG (at most maxBytes) and pins it: a submitter's
// copy of an output it received.
func (c content) Keep(ctx context.Context, root cid.Cid, maxBytes int64) error {
	hold := c.n.blocks.NewHold()
	defer hold.Release()
	err := c.n.fetchHeld(ctx, root, share.FetchOptions{MaxBytes: maxBytes}, hold)
	if errors.Is(err, share.ErrTooLarge) {
		return fmt.Errorf("%w: %w", compute.ErrTooLarge, err)
	}
	if err != nil {
		return err
	}
	return c.n.blocks.Pin(ctx, root)
}

// Get fetches at most maxBytes of root's DAG (the fetch stops as soon as
// the declared size or the bytes received pass it) and reads it.
func (c content) Get(ctx context.Context, root cid.Cid, maxBytes int64) (io.ReadCloser, error) {
	r, err := c.n.OpenCapped(ctx, root, maxBytes)
	if errors.Is(err, share.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", compute.ErrTooLarge, err)
	}
	if errors.Is(err, uio.ErrIsDir) {
		return nil, fmt.Errorf("%w: %w", compute.ErrIsDir, err)
	}
	return r, err
}

// Has reports whether c's root block is stored here (workers bid with it).
func (c content) Has(ctx context.Context, root cid.Cid) (bool, error) {
	return c.n.blocks.Has(ctx, root)
}

// Open returns a reader of the file root, fetching its DAG from the swarm
// first when it is not complete here. The blocks stay safe from GC until
// the reader is closed.
func (n *Node) Open(ctx context.Context, root cid.Cid) (io.ReadSeekCloser, error) {
	return n.OpenCapped(ctx, root, 0)
}

// OpenCapped is Open of a file of at most maxBytes (0: no cap): the fetch
// fails with an error wrapping share.ErrTooLarge as soon as the root's
// declared size or the bytes received pass maxBytes, and so does a file
// already here that is larger.
func (n *Node) OpenCapped(ctx context.Context, root cid.Cid, maxBytes int64) (io.ReadSeekCloser, error) {
	hold := n.blocks.NewHold()
	if err := n.fetchHeld(ctx, root, share.FetchOptions{MaxBytes: maxBytes}, hold); err != nil {
		hold.Release()
		return nil, err
	}
	r, err := n.blocks.Open(ctx, root)
	if err != nil {
		hold.Release()
		return nil, fmt.Errorf("open %s: %w", root, err)
	}
	if maxBytes > 0 && int64(r.Size()) > maxBytes {
		r.Close()
		hold.Release()
		return nil, fmt.Errorf("open %s: %d bytes over %d: %w", root, r.Size(), maxBytes, share.ErrTooLarge)
	}
	return heldReader{r, hold}, nil
}

// heldReader is a reader of a DAG whose blocks hold keeps until Close.
type heldReader struct {
	uio.DagReader
	hold *share.Hold
}

func (r heldReader) Close() error {
	err := r.DagReader.Close()
	r.hold.Release()
	return err
}
