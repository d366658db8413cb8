// The Service: what one peer does with sharing. It composes the store, the
// exchange and Bitswap, announces what the peer shares (Add, fetches it
// shares back, the periodic reprovide) and fetches DAGs with the Bitswap
// fallback (fallback.go), to a path or as a stream (service_read.go).

package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/enxame/enxame/share/provide"
	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ProvideStrategy says what a Service announces in the DHT.
type ProvideStrategy string

// The provide strategies (ServiceConfig.Provide).
const (
	// ProvidePinned announces pinned roots and what the peer adds.
	ProvidePinned ProvideStrategy = "pinned"
	// ProvideFetched also announces the root of every DAG fetched from the
	// swarm, for as long as the DAG stays complete in the store: a peer
	// shares back what it downloaded, as a BitTorrent client seeds.
	ProvideFetched ProvideStrategy = "fetched"
	// ProvideAll announces, at each reprovide, every block in the store
	// (as Kubo's Reprovider.Strategy "all"), besides what ProvideFetched
	// announces: one DHT provide per block.
	ProvideAll ProvideStrategy = "all"
)

// Defaults of ServiceConfig.
const (
	DefaultReprovideInterval = 12 * time.Hour
	DefaultProvideStrategy   = ProvideFetched
)

// ServiceConfig configures a Service. A zero field means its default.
type ServiceConfig struct {
	// ReprovideInterval is how often everything the peer shares is
	// announced again. Default DefaultReprovideInterval (12 h).
	ReprovideInterval time.Duration
	// Provide is what the peer announces. Default ProvideFetched.
	Provide ProvideStrategy
	// Exchange configures the exchange (zero fields take its defaults).
	Exchange ExchangeConfig
	// DisableBitswap turns Bitswap off: no IPFS interop, and no fallback.
	DisableBitswap bool
}

func (c ServiceConfig) withDefaults() (ServiceConfig, error) {
	if c.ReprovideInterval < 0 {
		return c, fmt.Errorf("share: config: ReprovideInterval must be >= 0, got %v", c.ReprovideInterval)
	}
	if c.ReprovideInterval == 0 {
		c.ReprovideInterval = DefaultReprovideInterval
	}
	switch c.Provide {
	case "":
		c.Provide = DefaultProvideStrategy
	case ProvidePinned, ProvideFetched, ProvideAll:
	default:
		return c, fmt.Errorf("share: config: Provide %q: want pinned, fetched or all", c.Provide)
	}
	return c, nil
}

// Router is what a Service needs of the DHT; *dht.Router implements it.
// Its methods must be safe for concurrent use.
type Router interface {
	// FindProviders streams up to count providers of c (0: no limit) on the
	// returned channel, which it closes when the lookup ends or ctx ends.
	FindProviders(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo
	// Provide announces that this peer provides c; it blocks for the DHT
	// walk (seconds) and fails at once while the routing table is empty.
	Provide(ctx context.Context, c cid.Cid) error
	// TableSize is the number of peers in the routing table; it does not
	// block.
	TableSize() int
}

// ServiceDeps are the collaborators of a Service.
type ServiceDeps struct {
	// Host is the libp2p host the exchange and Bitswap speak on. Required.
	Host host.Host
	// Store is the block store. Required; the caller closes it after the
	// Service.
	Store *Store
	// Router finds providers and announces. Required.
	Router Router
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
	// Metrics, when set, counts what the exchange and Bitswap move.
	Metrics *Metrics
}

// Service is one peer's file sharing: it adds and announces content,
// shares back what it fetches (ServiceConfig.Provide), reprovides, serves
// blocks (the exchange, and Bitswap for IPFS peers) and fetches DAGs from
// the swarm with the Bitswap fallback. Build it with NewService, run it
// with Run, Close it after Run has returned. Its methods are safe for
// concurrent use.
type Service struct {
	cfg     ServiceConfig
	store   *Store
	router  Router
	ex      *Exchange
	bs      *Bitswap // nil with DisableBitswap
	log     *slog.Logger
	provQ   chan cid.Cid // roots to announce, taken by Run
	withdrQ chan cid.Cid // roots no longer shared, taken by Run

	transfers transfers // fetches in progress
}

// provideQueueLen bounds the announcements waiting for Run; past it an
// announcement is left to the next reprovide.
const provideQueueLen = 1024

// NewService builds a Service: the exchange and, unless disabled, Bitswap.
// It starts nothing but Bitswap (see Run).
func NewService(cfg ServiceConfig, deps ServiceDeps) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Host == nil || deps.Store == nil || deps.Router == nil {
		return nil, errors.New("share: service deps: Host, Store and Router are required")
	}
	log := discardIfNil(deps.Logger)
	s := &Service{cfg: cfg, store: deps.Store, router: deps.Router,
		log:   log.With("component", "share"),
		provQ: make(chan cid.Cid, provideQueueLen), withdrQ: make(chan cid.Cid, provideQueueLen)}
	s.ex, err = NewExchange(cfg.Exchange, ExchangeDeps{
		Host:       deps.Host,
		Blockstore: deps.Store,
		Finder:     deps.Router,
		Hold:       deps.Store.Hold,
		Logger:     log,
		Metrics:    deps.Metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("start exchange: %w", err)
	}
	if !cfg.DisableBitswap {
		s.bs, err = NewBitswap(context.Background(), BitswapConfig{}, BitswapDeps{
			Host: deps.Host, Store: deps.Store, Providers: bitswapRouter{deps.Router}, Gated: s.ex.Gated, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("start bitswap: %w", err)
		}
		if deps.Metrics != nil {
			deps.Metrics.AttachBitswap(s.bs)
		}
	}
	return s, nil
}

// bitswapRouter adapts a Router to Bitswap's content routing.
type bitswapRouter struct{ r Router }

func (b bitswapRouter) FindProvidersAsync(ctx context.Context, c cid.Cid, max int) <-chan peer.AddrInfo {
	return b.r.FindProviders(ctx, c, max)
}

// Store is the block store.
func (s *Service) Store() *Store { return s.store }

// Exchange is the block exchange.
func (s *Service) Exchange() *Exchange { return s.ex }

// Config is the effective configuration.
func (s *Service) Config() ServiceConfig { return s.cfg }

// Close stops Bitswap. Call it after Run has returned; it does not close
// the store.
func (s *Service) Close() error {
	if s.bs == nil {
		return nil
	}
	return s.bs.Close()
}

// Run serves the exchange and announces what the peer shares (queued
// roots, retries, a reprovide every ReprovideInterval) until ctx ends, or
// the exchange fails (its error is returned). It returns once every
// goroutine it started has ended.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var exErr error
	wg.Go(func() {
		if exErr = s.ex.Run(ctx); exErr != nil {
			cancel()
		}
	})
	err := s.runProvider(ctx)
	wg.Wait()
	return errors.Join(exErr, err)
}

// Add imports paths (files or directories) into the store, pins the roots
// (unless opts.NoPin) and announces them.
func (s *Service) Add(ctx context.Context, paths []string, opts AddOptions) (AddResult, error) {
	res, err := s.store.Add(ctx, paths, opts)
	if err != nil {
		return res, err
	}
	s.Announce(res.Roots...)
	return res, nil
}

// AddReader imports r as one file named name and announces it.
func (s *Service) AddReader(ctx context.Context, r io.Reader, name string, opts AddOptions) (AddResult, error) {
	res, err := s.store.AddReader(ctx, r, name, opts)
	if err != nil {
		return res, err
	}
	s.Announce(res.Roots...)
	return res, nil
}

// AddTemp adds r unpinned and announces it, holding its blocks until
// release is called (a worker's output, kept until delivered). The blocks
// are unheld for an instant between the add and the hold; a GC in that
// instant makes AddTemp fail, never return a CID whose blocks are gone.
func (s *Service) AddTemp(ctx context.Context, r io.Reader) (cid.Cid, func(), error) {
	res, err := s.store.AddReader(ctx, r, "", AddOptions{NoPin: true})
	if err != nil {
		return cid.Undef, nil, err
	}
	hold := s.store.NewHold()
	if err := s.holdDAG(ctx, res.Root, hold); err != nil {
		hold.Release()
		return cid.Undef, nil, fmt.Errorf("hold output %s: %w", res.Root, err)
	}
	s.Announce(res.Root)
	return res.Root, hold.Release, nil
}

// ImportCAR imports a CAR stream (see Store.ImportCAR) and announces its
// roots when it succeeds.
func (s *Service) ImportCAR(ctx context.Context, r io.Reader) ([]cid.Cid, error) {
	roots, err := s.store.ImportCAR(ctx, r)
	if err == nil {
		s.Announce(roots...)
	}
	return roots, err
}

// Pin makes root's DAG local (fetching what is missing, reporting through
// opts.Progress), pins it and announces it.
func (s *Service) Pin(ctx context.Context, root cid.Cid, opts FetchOptions) error {
	// Held until pinned: a GC between the fetch and the pin would leave
	// the pin nothing to pin.
	hold := s.store.NewHold()
	defer hold.Release()
	if err := s.FetchHeld(ctx, root, opts, hold); err != nil {
		return err
	}
	if err := s.store.Pin(ctx, root); err != nil {
		return err
	}
	s.Announce(root)
	return nil
}

// GC runs the store's GC (Store.GC) and then withdraws the fetched roots
// whose DAGs it broke: they are announced no more, and their provider
// records expire (a DHT has no un-provide).
func (s *Service) GC(ctx context.Context) (GCResult, error) {
	res, err := s.store.GC(ctx)
	if err != nil {
		return res, err
	}
	if _, err := s.fetchedShared(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// ProvideQueueLen is how many roots wait to be announced.
func (s *Service) ProvideQueueLen() int { return len(s.provQ) }

// Announce provides cids in the DHT in the background (a provide is a DHT
// walk: seconds on a large swarm), retrying failures (see share/provide).
// It does not block: past provideQueueLen waiting roots, a root is left to
// the next reprovide.
func (s *Service) Announce(cids ...cid.Cid) {
	for _, c := range cids {
		select {
		case s.provQ <- c:
		default:
			s.log.Warn("provide queue full; the reprovide loop will announce it", "cid", c)
		}
	}
}

// shareBack announces root, fetched without opts.NoShare, when the
// strategy shares fetched content and root is neither pinned nor marked
// fetched already (those are announced already).
func (s *Service) shareBack(ctx context.Context, root cid.Cid, opts FetchOptions) {
	if opts.NoShare || s.cfg.Provide == ProvidePinned {
		return
	}
	if pinned, err := s.store.IsPinned(ctx, root); err != nil || pinned {
		return
	}
	fresh, err := s.store.MarkFetched(ctx, root)
	if err != nil {
		s.log.Warn("share back: mark fetched", "cid", root, "err", err)
		return
	}
	if fresh {
		s.log.Debug("sharing back", "cid", root)
		s.Announce(root)
	}
}

// Shared returns what the next reprovide announces under the strategy:
// pinned roots; with ProvideFetched and ProvideAll, also the fetched roots
// whose DAGs are complete; with ProvideAll, every stored block. Fetched
// roots found incomplete are withdrawn (unmarked, and no longer retried).
func (s *Service) Shared(ctx context.Context) ([]cid.Cid, error) {
	out, err := s.store.Pins(ctx)
	if err != nil {
		return nil, err
	}
	if s.cfg.Provide == ProvidePinned {
		return out, nil
	}
	fetched, err := s.fetchedShared(ctx)
	if err != nil {
		return nil, err
	}
	out = append(out, fetched...)
	if s.cfg.Provide == ProvideAll {
		keys, err := s.store.AllKeysChan(ctx)
		if err != nil {
			return nil, err
		}
		for k := range keys {
			out = append(out, k)
		}
	}
	return out, nil
}

// fetchedShared returns the fetched roots still complete in the store, and
// withdraws the others.
func (s *Service) fetchedShared(ctx context.Context) ([]cid.Cid, error) {
	roots, err := s.store.FetchedRoots(ctx)
	if err != nil {
		return nil, err
	}
	var out []cid.Cid
	for _, c := range roots {
		ok, err := s.store.Complete(ctx, c)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, c)
			continue
		}
		if err := s.store.UnmarkFetched(ctx, c); err != nil {
			return nil, err
		}
		s.log.Info("no longer sharing: blocks removed", "cid", c)
		select {
		case s.withdrQ <- c:
		default: // the reprovide replaces the retry set anyway
		}
	}
	return out, nil
}

// provideResult is how one provide ended.
type provideResult struct {
	c  cid.Cid
	ok bool
}

// provideTimeout bounds one provide.
const provideTimeout = 2 * time.Minute

// runProvider is the shell of the provide.Queue: it feeds it queued roots,
// withdrawals, provide results, the routing table's size and the
// reprovide set, runs the provides it asks for (up to its in-flight limit,
// each in a goroutine it waits for) and sleeps until the next is due.
func (s *Service) runProvider(ctx context.Context) error {
	q, err := provide.New(provide.Config{})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	results := make(chan provideResult, provide.DefaultMaxInflight)
	tick := time.NewTicker(s.cfg.ReprovideInterval)
	defer tick.Stop()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	for {
		q.Observe(provide.TableSized{Size: s.router.TableSize()})
		now := time.Now()
		for _, a := range q.Next(now) {
			wg.Go(func() { s.provide(ctx, a.Key, results) })
		}
		var wakeC <-chan time.Time
		// A provide due but waiting for a slot wakes no timer: a result
		// frees the slot.
		if at, ok := q.Wake(); ok && q.Inflight() < provide.DefaultMaxInflight {
			wake.Reset(max(at.Sub(now), 0))
			wakeC = wake.C
		}
		select {
		case <-ctx.Done():
			return nil
		case c := <-s.provQ:
			q.Observe(provide.Requested{Key: c})
		case c := <-s.withdrQ:
			q.Observe(provide.Withdrawn{Key: c})
		case r := <-results:
			q.Observe(provide.Finished{Key: r.c, OK: r.ok})
		case <-wakeC:
		case <-tick.C:
			keys, err := s.Shared(ctx)
			if err != nil {
				s.log.Warn("reprovide: list shared content", "err", err)
				continue
			}
			s.log.Info("reprovide", "cids", len(keys))
			q.Observe(provide.Reprovided{Keys: keys})
		}
	}
}

// provide announces c and reports the result on results (unless ctx ends).
func (s *Service) provide(ctx context.Context, c cid.Cid, results chan<- provideResult) {
	pctx, cancel := context.WithTimeout(ctx, provideTimeout)
	defer cancel()
	err := s.router.Provide(pctx, c)
	if ctx.Err() != nil {
		return
	}
	switch {
	case err != nil && s.router.TableSize() == 0:
		s.log.Debug("provide deferred: no peers yet", "cid", c)
	case err != nil:
		s.log.Info("provide failed; will retry", "cid", c, "err", err)
	default:
		s.log.Debug("provided", "cid", c)
	}
	select {
	case results <- provideResult{c, err == nil}:
	case <-ctx.Done():
	}
}
