package node

import (
	"context"
	"errors"
	"fmt"
	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/compute/sandbox"
	"github.com/enxame/enxame/share"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/node/control"
	"github.com/enxame/enxame/node/gateway"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

// Deps are a Node's optional collaborators. The zero value is valid.
type Deps struct {
	// Logger receives the node's logs. Nil discards them.
	Logger *slog.Logger
	// Host is a prebuilt libp2p host (simnet, tests on other transports).
	// When set, Listen, SwarmKey, Connections, Resources and HostOptions
	// are ignored, and the node does not close the host.
	Host host.Host
	// HostOptions are appended to the options the node builds its host
	// with (e.g. another transport).
	HostOptions []libp2p.Option
	// Identity is the key of an ephemeral node (Config.Home empty). Nil
	// means a fresh Ed25519 key.
	Identity crypto.PrivKey
	// Datastore backs an ephemeral node. Nil means in memory.
	Datastore ds.Batching
	// DataDir is where an ephemeral node keeps its block store and compute
	// scratch space. Empty means a temporary directory removed by Close.
	DataDir string
	// SandboxCommand is the argv that starts a sandbox child process. Nil
	// means this executable with SandboxChildCommand (tests whose binary
	// is not enxame dispatch that argument to SandboxChildMain themselves).
	SandboxCommand []string
	// WasmCacheDir is wazero's on-disk compilation cache. Empty means
	// WasmCacheDir inside the home (or DataDir). Nodes of one process (the
	// demo, simnet) share one so that a module is compiled once.
	WasmCacheDir string
	// DHTOptions are extra kad-dht options appended after the router's own
	// (simnet: e.g. no automatic routing-table refresh). Nil means none.
	DHTOptions []kaddht.Option
	// Runner, when set, runs the worker's units instead of a sandbox pool
	// of child processes (simnet: a modelled cost in virtual time). Nil
	// means the sandbox pool.
	Runner compute.Runner
}

// Node is one enxame peer. Build it with New, run it with Run, and Close it
// after Run has returned.
type Node struct {
	cfg        Config
	log        *slog.Logger
	baseLog    *slog.Logger
	host       host.Host
	ownHost    bool
	router     *dht.Router
	nat        *reach // relay candidates, hole-punch record (reach.go)
	store      ds.Batching
	ownDS      bool
	lock       *homeLock
	apiLn      net.Listener
	apiPath    string
	apiTCP     net.Listener // the TCP API (api.listen), or nil
	apiToken   string       // the token apiTCP asks for
	api        *control.Server
	reg        *prometheus.Registry // metrics served at /metrics
	shareMet   *share.Metrics
	computeMet *compute.Metrics
	reach      *atomicString
	sub        event.Subscription
	started    time.Time
	tmpDir     string // removed by Close

	blocks    *share.Store
	share     *share.Service
	gater     gater
	submitter *compute.Submitter
	pool      *sandbox.Pool
	worker    *compute.Worker
	search    *dht.Search     // keyword search's records and protocol (search.go)
	keywords  *share.Keywords // what this peer publishes, and searches

	gateway *gateway.Gateway // nil when gateway.listen is empty

	closeOnce sync.Once
	closeErr  error
}

type atomicString struct{ v atomic.Value }

func (a *atomicString) Load() string {
	s, _ := a.v.Load().(string)
	return s
}
func (a *atomicString) Store(s string) { a.v.Store(s) }

// New builds a node from cfg: with a Home, it locks the home (failing at
// once with ErrHomeInUse if a daemon holds it), loads the identity, opens
// the datastore and binds the control API socket; then it starts the libp2p
// host and the DHT. It contacts no peer: Run does. On error everything New
// opened is closed again.
func New(cfg Config, deps Deps) (_ *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("node: config: %w", err)
	}
	cfg = cfg.WithDefaults()
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, log: log.With("component", "node"), baseLog: log, reach: &atomicString{},
		started: time.Now(), reg: newRegistry()}
	n.reach.Store("unknown")
	n.nat = &reach{n: n}
	defer func() {
		if err != nil {
			n.release()
		}
	}()

	key := deps.Identity
	if cfg.Home != "" {
		if n.lock, err = lockHome(cfg.Home); err != nil {
			return nil, err
		}
		if key, err = loadIdentity(cfg.Home); err != nil {
			return nil, err
		}
		store, err := pebbleds.NewDatastore(filepath.Join(cfg.Home, DatastoreDir))
		if err != nil {
			return nil, fmt.Errorf("open datastore: %w", err)
		}
		n.store, n.ownDS = store, true
	} else {
		if key == nil {
			if key, _, err = crypto.GenerateEd25519Key(nil); err != nil {
				return nil, fmt.Errorf("generate identity: %w", err)
			}
		}
		n.store = deps.Datastore
		if n.store == nil {
			n.store, n.ownDS = dssync.MutexWrap(ds.NewMapDatastore()), true
		}
	}

	if deps.Host != nil {
		n.host = deps.Host
	} else {
		if err := probeListen(context.Background(), cfg.Listen); err != nil {
			return nil, err
		}
		opts, err := hostOptions(cfg, key, &n.gater, n.nat)
		if err != nil {
			return nil, err
		}
		opts = append(opts, libp2p.PrometheusRegisterer(n.reg))
		opts = append(opts, deps.HostOptions...)
		if n.host, err = libp2p.New(opts...); err != nil {
			return nil, fmt.Errorf("start libp2p host: %w", err)
		}
		n.ownHost = true
	}
	if n.sub, err = n.host.EventBus().Subscribe(new(event.EvtLocalReachabilityChanged)); err != nil {
		return nil, fmt.Errorf("subscribe to reachability: %w", err)
	}

	dcfg := cfg.DHT
	dcfg.Bootstrap = cfg.Bootstrap
	n.router, err = dht.New(dcfg, dht.Deps{Host: n.host, Datastore: n.store, Logger: log, Options: deps.DHTOptions})
	if err != nil {
		return nil, err
	}

	dataDir := cfg.Home
	if dataDir == "" {
		dataDir = deps.DataDir
	}
	if dataDir == "" {
		if n.tmpDir, err = os.MkdirTemp("", "enxame-node-"); err != nil {
			return nil, fmt.Errorf("make data directory: %w", err)
		}
		dataDir = n.tmpDir
	}
	if err := n.openShare(filepath.Join(dataDir, BlocksDir)); err != nil {
		return nil, err
	}
	if err := n.openSearch(); err != nil {
		return nil, err
	}
	if err := n.openCompute(dataDir, deps); err != nil {
		return nil, err
	}
	if err := n.registerMetrics(); err != nil {
		return nil, err
	}
	if err := n.openGateway(); err != nil {
		return nil, err
	}
	if err := n.openAPI(); err != nil {
		return nil, err
	}
	return n, nil
}

// socketPath is the control API socket path, or "" for none.
func (n *Node) socketPath() string {
	p := n.cfg.APISocket
	if filepath.IsAbs(p) {
		return p
	}
	if n.cfg.Home == "" {
		return ""
	}
	return filepath.Join(n.cfg.Home, p)
}

// listenUnix binds a unix socket only its owner can connect to. Connecting
// needs write permission on the socket file, which bind gives as 0777 minus
// the umask, so the socket must never be reachable with a laxer mode than
// 0600, not even between bind and chmod, as a peer connecting then stays
// in the listen backlog. Setting the umask around bind would close that
// window but the umask is process-wide: a file another goroutine creates
// meanwhile would get mode 0600 and a directory 0600 (unusable, no x bit),
// as TestListenUnixKeepsUmask saw. Instead the socket is
// bound in a fresh directory of mode 0700 next to path (nobody else can
// reach into it), chmodded to 0600 there, and renamed into place; rename is
// atomic and also replaces a stale socket left by a killed daemon (the home
// lock proves no live daemon owns it). The bound path, DIR/.sNNNNNNNNNN/s,
// is at most 15 bytes longer than DIR (a socket path has at most 107).
// Init makes a new home 0700, but a home that already existed or an
// api_socket outside the home may sit in a laxer directory, so that is not
// relied on. Node.Close removes the socket.
func listenUnix(path string) (net.Listener, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".s")
	if err != nil {
		return nil, fmt.Errorf("make private directory for API socket: %w", err)
	}
	defer os.RemoveAll(tmp)
	bound := filepath.Join(tmp, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: bound, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on API socket %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(bound, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod API socket: %w", err)
	}
	if err := os.Rename(bound, path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("move API socket into place: %w", err)
	}
	return ln, nil
}

// Host is the node's libp2p host.
func (n *Node) Host() host.Host { return n.host }

// Router is the node's DHT.
func (n *Node) Router() *dht.Router { return n.router }

// Config is the node's effective configuration.
func (n *Node) Config() Config { return n.cfg }

// APISocket is the path of the control API socket, or "" when there is none.
func (n *Node) APISocket() string { return n.apiPath }

// Addrs returns the node's dialable addresses, each ending in /p2p/ID.
func (n *Node) Addrs() []string {
	var out []string
	for _, a := range n.host.Addrs() {
		out = append(out, a.String()+"/p2p/"+n.host.ID().String())
	}
	return out
}

// Run runs the node until ctx ends: bootstrap and DHT upkeep, mDNS, and the
// control API. It returns once every goroutine it started has ended.
func (n *Node) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.router.Run(ctx) })
	g.Go(func() error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case ev, ok := <-n.sub.Out():
				if !ok {
					return nil
				}
				r := ev.(event.EvtLocalReachabilityChanged).Reachability
				n.reach.Store(reachString(r))
				n.log.Info("reachability changed", "reachability", reachString(r))
			}
		}
	})
	if n.apiLn != nil {
		g.Go(func() error { return n.api.Serve(ctx, n.apiLn) })
	}
	if n.apiTCP != nil {
		g.Go(func() error { return n.api.ServeAuth(ctx, n.apiTCP, n.apiToken) })
	}
	if !n.cfg.DisableMDNS {
		g.Go(func() error { return n.runMDNS(ctx) })
	}
	g.Go(func() error { return n.share.Run(ctx) })
	g.Go(func() error { return n.search.Run(ctx) })
	g.Go(func() error { return n.keywords.Run(ctx) })
	g.Go(func() error { return n.submitter.Run(ctx) })
	if n.worker != nil {
		g.Go(func() error { return n.worker.Run(ctx) })
	}
	if n.gateway != nil {
		g.Go(func() error { return n.gateway.Run(ctx) })
	}
	n.log.Info("node running", "peer", n.host.ID(), "addrs", n.Addrs())
	return g.Wait()
}

func (n *Node) runMDNS(ctx context.Context) error {
	var wg sync.WaitGroup
	found := make(chan peer.AddrInfo, 16)
	svc := mdns.NewMdnsService(n.host, n.cfg.MDNSService, notifee(func(pi peer.AddrInfo) {
		select {
		case found <- pi:
		default: // a burst of announcements; the next round repeats them
		}
	}))
	if err := svc.Start(); err != nil {
		// A LAN without multicast is not fatal: the DHT still works.
		n.log.Warn("mDNS discovery unavailable", "err", err)
		<-ctx.Done()
		return nil
	}
	defer wg.Wait()
	defer svc.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case pi := <-found:
			if pi.ID == n.host.ID() || n.host.Network().Connectedness(pi.ID) == network.Connected {
				continue
			}
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				if err := n.host.Connect(cctx, pi); err != nil {
					n.log.Debug("mDNS peer unreachable", "peer", pi.ID, "err", err)
					return
				}
				n.log.Info("mDNS peer connected", "peer", pi.ID)
			})
		}
	}
}

type notifee func(peer.AddrInfo)

func (f notifee) HandlePeerFound(pi peer.AddrInfo) { f(pi) }

func reachString(r network.Reachability) string {
	switch r {
	case network.ReachabilityPublic:
		return "public"
	case network.ReachabilityPrivate:
		return "private"
	}
	return "unknown"
}

// Close releases everything the node holds: API socket, DHT, host,
// datastore and home lock. Call it after Run has returned. It is safe to
// call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.release() })
	return n.closeErr
}

func (n *Node) release() error {
	var errs []error
	if n.apiLn != nil {
		n.apiLn.Close() // already closed when Run served it
		os.Remove(n.apiPath)
	}
	if n.apiTCP != nil {
		n.apiTCP.Close() // already closed when Run served it
	}
	if n.sub != nil {
		n.sub.Close()
	}
	if n.gateway != nil {
		if err := n.gateway.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if n.pool != nil {
		if err := n.pool.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close sandbox pool: %w", err))
		}
	}
	if n.share != nil {
		if err := n.share.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if n.blocks != nil {
		if err := n.blocks.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close block store: %w", err))
		}
	}
	if n.search != nil {
		n.search.Close()
	}
	if n.router != nil {
		if err := n.router.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if n.host != nil && n.ownHost {
		if err := n.host.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close host: %w", err))
		}
	}
	if n.store != nil && n.ownDS {
		if err := n.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close datastore: %w", err))
		}
	}
	if n.tmpDir != "" {
		if err := os.RemoveAll(n.tmpDir); err != nil {
			errs = append(errs, fmt.Errorf("remove data directory: %w", err))
		}
	}
	if err := n.lock.release(); err != nil {
		errs = append(errs, fmt.Errorf("unlock home: %w", err))
	}
	return errors.Join(errs...)
}

// uptime is how long the node has existed.
func (n *Node) uptime() time.Duration { return time.Since(n.started) }
