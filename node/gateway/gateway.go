// Package gateway serves the IPFS HTTP gateway (/ipfs/CID/...) of a peer:
// boxo's gateway handler (path and trustless gateway) over the peer's block
// store, with blocks that are not stored fetched from the swarm, verified,
// under a deadline. It is read-only: nothing is added, pinned or announced.
//
// node builds it from its Config and hands it the block store and a
// Fetcher (share's verified fetch with its Bitswap fallback). It imports
// neither node nor cli; share, compute and dht do not import it.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	bgw "github.com/ipfs/boxo/gateway"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures the gateway. A zero field means its default.
type Config struct {
	// Listen is the multiaddr the gateway serves HTTP on, like
	// /ip4/127.0.0.1/tcp/8080 (port 0 picks a free one). Default empty:
	// no gateway. Anyone who can reach the address can make this peer
	// fetch from the swarm, so keep it on loopback unless it sits behind
	// a proxy that limits who asks.
	Listen string `yaml:"listen" json:"listen"`
	// FetchTimeout is how long a request waits for content this peer does
	// not hold (providers found, blocks fetched and verified) before it
	// is answered 504 Gateway Timeout naming the CID. A response that
	// stalls between two writes for this long plus max(this, 5s) is cut.
	// Default 30s.
	FetchTimeout time.Duration `yaml:"fetch_timeout" json:"fetch_timeout"`
	// MaxConcurrentRequests caps the requests served at once; more are
	// answered 429. Default 256.
	MaxConcurrentRequests int `yaml:"max_concurrent_requests" json:"max_concurrent_requests"`
}

// Defaults.
const (
	DefaultFetchTimeout          = 30 * time.Second
	DefaultMaxConcurrentRequests = 256
)

// WithDefaults returns c with every zero field replaced by its default.
func (c Config) WithDefaults() Config {
	if c.FetchTimeout == 0 {
		c.FetchTimeout = DefaultFetchTimeout
	}
	if c.MaxConcurrentRequests == 0 {
		c.MaxConcurrentRequests = DefaultMaxConcurrentRequests
	}
	return c
}

// FieldError reports an invalid Config field by its config-file name.
type FieldError struct {
	Field string // "listen", "fetch_timeout", ...
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Validate reports the first invalid field of c as a *FieldError.
func (c Config) Validate() error {
	if c.Listen != "" {
		if _, err := listenAddr(c.Listen); err != nil {
			return &FieldError{Field: "listen", Err: err}
		}
	}
	if c.FetchTimeout < 0 {
		return &FieldError{Field: "fetch_timeout", Err: fmt.Errorf("must be >= 0, got %s", c.FetchTimeout)}
	}
	if c.MaxConcurrentRequests < 0 {
		return &FieldError{Field: "max_concurrent_requests", Err: fmt.Errorf("must be >= 0, got %d", c.MaxConcurrentRequests)}
	}
	return nil
}

// listenAddr turns a /ip4|ip6/…/tcp/PORT multiaddr into a host:port.
func listenAddr(s string) (string, error) {
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		return "", fmt.Errorf("malformed multiaddr %q: %w", s, err)
	}
	network, addr, err := manet.DialArgs(m)
	if err != nil || (network != "tcp" && network != "tcp4" && network != "tcp6") {
		return "", fmt.Errorf("%q: want /ip4/ADDR/tcp/PORT or /ip6/ADDR/tcp/PORT", s)
	}
	return addr, nil
}

// Fetcher makes content local.
type Fetcher interface {
	// Fetch stores every block of the DAG under root in the block store,
	// each verified against its CID before it is stored. It blocks until
	// done, ctx ends or the fetch fails, and must be safe for concurrent
	// use. Blocks already stored are not fetched again.
	Fetch(ctx context.Context, root cid.Cid) error
}

// Deps are the gateway's collaborators.
type Deps struct {
	// Blockstore holds the blocks served. Required.
	Blockstore blockstore.Blockstore
	// Fetcher fetches what Blockstore lacks. Nil serves stored blocks only
	// (a miss is a 504 at once).
	Fetcher Fetcher
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

// Gateway is an IPFS HTTP gateway bound to a TCP address. New binds it,
// Run serves it, Close releases it.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	ln      net.Listener
	handler http.Handler
	ex      *exchange
}

// New validates cfg, binds cfg.Listen and builds the handler. It starts no
// goroutine: Run serves.
func New(cfg Config, deps Deps) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway: config: %w", err)
	}
	if cfg.Listen == "" {
		return nil, errors.New("gateway: config: listen is empty")
	}
	if deps.Blockstore == nil {
		return nil, errors.New("gateway: Blockstore is required")
	}
	cfg = cfg.WithDefaults()
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "gateway")
	h, ex, err := newHandler(cfg, deps)
	if err != nil {
		return nil, err
	}
	addr, _ := listenAddr(cfg.Listen) // validated
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen on %s: %w", cfg.Listen, err)
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		log.Warn("gateway listens beyond loopback: anyone who reaches it can make this peer fetch from the swarm", "addr", ln.Addr())
	}
	return &Gateway{cfg: cfg, log: log, ln: ln, handler: h, ex: ex}, nil
}

// NewHandler returns the gateway's HTTP handler without binding an
// address (for tests and for serving on a listener of the caller's).
// Requests run their fetches within the request's context; nothing
// outlives a request.
func NewHandler(cfg Config, deps Deps) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway: config: %w", err)
	}
	if deps.Blockstore == nil {
		return nil, errors.New("gateway: Blockstore is required")
	}
	h, _, err := newHandler(cfg.WithDefaults(), deps)
	return h, err
}

func newHandler(cfg Config, deps Deps) (http.Handler, *exchange, error) {
	ex := &exchange{bs: deps.Blockstore, f: deps.Fetcher, timeout: cfg.FetchTimeout}
	bsvc := blockservice.New(deps.Blockstore, ex)
	reg := prometheus.NewRegistry() // boxo's metrics; node may expose them later
	backend, err := bgw.NewBlocksBackend(bsvc, bgw.WithNameSystem(noNames{}), bgw.WithPrometheusRegistry(reg))
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: backend: %w", err)
	}
	ipfs := bgw.NewHandler(bgw.Config{
		DeserializedResponses: true,
		NoDNSLink:             true,
		// boxo's own timeout (no bytes for this long: 504 or a cut
		// response) comes after ours, so that a miss ends with our error,
		// which names the CID, even on a loaded machine.
		RetrievalTimeout:      cfg.FetchTimeout + max(cfg.FetchTimeout, 5*time.Second),
		MaxConcurrentRequests: cfg.MaxConcurrentRequests,
		MetricsRegistry:       reg,
	}, backend)
	mux := http.NewServeMux()
	mux.Handle("/ipfs/", ipfs)
	mux.HandleFunc("/ipns/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "IPNS and DNSLink are not supported by this gateway: use /ipfs/CID", http.StatusNotImplemented)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found: this gateway serves /ipfs/CID[/PATH]", http.StatusNotFound)
	})
	return mux, ex, nil
}

// Addr is the address the gateway listens on, as a multiaddr.
func (g *Gateway) Addr() ma.Multiaddr {
	m, err := manet.FromNetAddr(g.ln.Addr())
	if err != nil {
		panic(fmt.Sprintf("gateway: TCP listener has no multiaddr: %v", err))
	}
	return m
}

// URL is the gateway's base URL, like http://127.0.0.1:8080.
func (g *Gateway) URL() string { return "http://" + g.ln.Addr().String() }

// Handler is the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Run serves until ctx ends, then closes open connections and returns once
// every request handler has returned.
func (g *Gateway) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           g.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() { errc <- srv.Serve(g.ln) })
	g.log.Info("gateway serving", "url", g.URL())
	var err error
	select {
	case <-ctx.Done():
		// Requests see ctx end through BaseContext; Close ends idle and
		// hijacked connections. Shutdown waits for handlers to return.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if serr := srv.Shutdown(sctx); serr != nil {
			srv.Close()
		}
		cancel()
	case err = <-errc:
	}
	wg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: serve: %w", err)
	}
	return nil
}

// Close releases the listener (Run closes it too).
func (g *Gateway) Close() error {
	if err := g.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("gateway: close listener: %w", err)
	}
	return nil
}

// exchange is the blockservice's exchange: a block that is not stored is
// fetched with the Fetcher (its DAG made local, every block verified) under
// the gateway's deadline, then read from the store. A failed or late fetch
// is a 504.
type exchange struct {
	bs      blockstore.Blockstore
	f       Fetcher
	timeout time.Duration
	wg      sync.WaitGroup // GetBlocks goroutines
}

func (e *exchange) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if e.f == nil {
		return nil, bgw.NewErrorStatusCode(fmt.Errorf("block %s is not stored and this gateway fetches nothing", c), http.StatusGatewayTimeout)
	}
	fctx, cancel := context.WithTimeout(ctx, e.timeout)
	err := e.f.Fetch(fctx, c)
	late := fctx.Err() != nil && ctx.Err() == nil
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("fetch %s: %w", c, ctx.Err())
		}
		if late {
			err = fmt.Errorf("no provider delivered %s within %s: %w", c, e.timeout, context.DeadlineExceeded)
		}
		return nil, bgw.NewErrorStatusCode(fmt.Errorf("fetch %s from the swarm: %w", c, err), http.StatusGatewayTimeout)
	}
	blk, err := e.bs.Get(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("read fetched block %s: %w", c, err)
	}
	return blk, nil
}

// GetBlocks fetches ks one after the other; the goroutine ends when all
// are sent, one fails or ctx ends.
func (e *exchange) GetBlocks(ctx context.Context, ks []cid.Cid) (<-chan blocks.Block, error) {
	out := make(chan blocks.Block)
	e.wg.Go(func() {
		defer close(out)
		for _, c := range ks {
			blk, err := e.GetBlock(ctx, c)
			if err != nil {
				return
			}
			select {
			case out <- blk:
			case <-ctx.Done():
				return
			}
		}
	})
	return out, nil
}

func (e *exchange) NotifyNewBlocks(context.Context, ...blocks.Block) error { return nil }

// Close waits for GetBlocks goroutines (each ends with its ctx).
func (e *exchange) Close() error {
	e.wg.Wait()
	return nil
}
