package simnet

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/node"
	"github.com/libp2p/go-libp2p"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	"github.com/marcopolo/simnet"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/quic-go/quic-go"
	"go.uber.org/fx"
)

// Config configures a simulated network. A zero field means the default in
// its comment.
type Config struct {
	// Nodes is how many nodes start. Required (>= 2).
	Nodes int
	// Seed drives every random choice: placement, identities, workloads,
	// churn. The same seed builds the same network.
	Seed uint64
	// Regions the nodes are spread over, round-robin after a seeded
	// shuffle. Default DefaultRegions.
	Regions []Region
	// Bootstraps is how many nodes (the first ones) every other node joins
	// through. Default 3.
	Bootstraps int
	// BitsPerSecond caps each node's uplink and downlink. Default 100 Mbit/s.
	BitsPerSecond int
	// Loss is the fraction of packets each node's uplink drops, in [0, 1).
	// Default 0.
	Loss float64
	// LatencySpread is the range of the stable per-pair offset added to
	// the regions' latency. Default 10ms; negative means none.
	LatencySpread time.Duration
	// DHT is the DHT configuration of every node; simnet turns the
	// diversity filter off (all simulated addresses share one /16).
	// Zero fields take dht's defaults.
	DHT dht.Config
	// AutoRefresh keeps kad-dht's automatic routing-table refresh (on
	// every low-peers event and every RefreshInterval). Default false: a
	// node refreshes its table once, when it joins (dht.Router.Run does),
	// which removes the refresh storm of a whole swarm starting at once.
	AutoRefresh bool
	// ConnLow and ConnHigh are each node's connection-manager watermarks:
	// above ConnHigh connections it trims down to ConnLow (peers in the
	// routing table are protected by kad-dht's tags). Defaults: node's
	// (100 and 400). QUIC connections are most of a node's memory here.
	ConnLow, ConnHigh int
	// ConnGrace is how long a new connection is safe from trimming.
	// Default 10s.
	ConnGrace time.Duration
	// Dir holds the nodes' block stores. Default: a temporary directory
	// removed by Close.
	Dir string
	// Node, when set, adjusts the config of node i before it is built
	// (e.g. its share exchange settings).
	Node func(i int, cfg *node.Config)
	// Links, when set, overrides the link settings of node i (e.g. a
	// provider with a smaller uplink).
	Links func(i int, l *simnet.NodeBiDiLinkSettings)
	// Runner, when set and returning a runner for node i, makes node i a
	// compute worker whose units run on that runner (a modelled cost in
	// virtual time) instead of a sandbox pool. Other nodes keep compute
	// disabled.
	Runner func(i int) compute.Runner
	// Logger receives simnet's and the nodes' logs. Nil discards them.
	Logger *slog.Logger
	// Tier is TierFull (the default: every node is a whole enxame node,
	// node.New on a libp2p host over simulated QUIC) or TierLight (every
	// node is enxame's DHT router alone, kad-dht on an in-memory message
	// layer; see light.go) or TierMem (every node is a whole enxame node
	// on an in-memory go-libp2p mocknet host; see mem.go: no QUIC or TLS,
	// no loss, bandwidth per link instead of per node). Light nodes have no
	// Node: only the DHT scenarios run on them.
	Tier string
	// JoinSpread staggers the joins: of the m nodes after the bootstrap
	// peers, the k-th starts k·JoinSpread/m of virtual time after Start
	// instead of all at once (the bootstrap peers start at once). Churn's
	// new nodes start when they join. Default 0: all at once.
	JoinSpread time.Duration
}

// Tier values for Config.Tier.
const (
	TierFull  = "full"
	TierLight = "light"
	TierMem   = "mem"
)

func (c Config) withDefaults() Config {
	if len(c.Regions) == 0 {
		c.Regions = DefaultRegions
	}
	if c.Bootstraps == 0 {
		c.Bootstraps = 3
	}
	c.Bootstraps = min(c.Bootstraps, c.Nodes)
	if c.Tier == "" {
		c.Tier = TierFull
	}
	if c.BitsPerSecond == 0 {
		c.BitsPerSecond = 100_000_000
	}
	if c.ConnGrace <= 0 {
		c.ConnGrace = 10 * time.Second
	}
	if c.LatencySpread == 0 {
		c.LatencySpread = 10 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Nodes < 2:
		return errors.New("simnet: config: Nodes must be at least 2")
	case c.Loss < 0 || c.Loss >= 1:
		return errors.New("simnet: config: Loss must be in [0, 1)")
	case c.BitsPerSecond < 0:
		return errors.New("simnet: config: BitsPerSecond must not be negative")
	case c.Tier != "" && c.Tier != TierFull && c.Tier != TierLight && c.Tier != TierMem:
		return fmt.Errorf("simnet: config: unknown tier %q (full, mem or light)", c.Tier)
	case c.Tier == TierMem && (c.Loss > 0 || c.Links != nil):
		return errors.New("simnet: config: the mem tier models no loss and no per-node links (use the full tier)")
	case c.Tier == TierLight && (c.Runner != nil || c.Node != nil):
		return errors.New("simnet: config: light nodes have no node config or compute runner")
	}
	return nil
}

// Peer is one simulated node.
type Peer struct {
	Index  int
	Region Region
	// Node is the whole enxame node; nil in the light tier.
	Node   *node.Node
	router *dht.Router
	host   host.Host
	key    crypto.PrivKey // the light tier's identity (search.go signs with it)
	start  time.Duration  // join offset (Config.JoinSpread)
	cancel context.CancelFunc
	done   chan error
	alive  bool
}

// Router is the peer's DHT (in both tiers).
func (p *Peer) Router() *dht.Router { return p.router }

// ID is the peer's libp2p identity.
func (p *Peer) ID() peer.ID { return p.host.ID() }

// AddrInfo is the peer's identity and listen addresses.
func (p *Peer) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: p.host.ID(), Addrs: p.host.Addrs()}
}

// Network is a running simulated network of enxame nodes. Build it with
// Start inside a synctest bubble, and Close it in the same bubble.
type Network struct {
	cfg  Config
	sim  *simnet.Simnet
	lw   *lightWorld // the light tier's network; nil in the other tiers
	mw   *memWorld   // the mem tier's network; nil in the other tiers
	ctx  context.Context
	dir  string
	tmp  bool
	boot []string

	mu      sync.Mutex
	rng     *rand.Rand
	peers   []*Peer
	byIP    map[string]int // IP string → peer index
	regions []Region       // by index, also of peers not started yet
}

// Start builds cfg.Nodes nodes on a new simulated network and runs them
// until Close (or ctx ends). The first cfg.Bootstraps nodes are everyone's
// bootstrap peers. It returns once every node is built and running; they
// join the swarm in the background.
func Start(ctx context.Context, cfg Config) (_ *Network, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	n := &Network{
		cfg:  cfg,
		ctx:  ctx,
		rng:  rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		byIP: map[string]int{},
	}
	n.dir = cfg.Dir
	if n.dir == "" {
		if n.dir, err = os.MkdirTemp("", "enxame-simnet-"); err != nil {
			return nil, fmt.Errorf("simnet: make directory: %w", err)
		}
		n.tmp = true
	}
	if cfg.Tier == TierLight {
		if n.lw, err = newLightWorld(max(cfg.LatencySpread, 0)); err != nil {
			return nil, err
		}
	} else if cfg.Tier == TierMem {
		n.mw = newMemWorld(max(cfg.LatencySpread, 0), cfg.BitsPerSecond)
	} else {
		n.sim = &simnet.Simnet{LatencyFunc: n.latency, Logger: slog.New(slog.DiscardHandler)}
		n.sim.Start()
	}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	// Placement: round-robin over the regions in a seeded order, so every
	// region holds its share of nodes whatever N is.
	order := append([]Region(nil), cfg.Regions...)
	n.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for i := range cfg.Bootstraps {
		p, err := n.newPeer(order[i%len(order)])
		if err != nil {
			return nil, err
		}
		for _, a := range p.host.Addrs() {
			n.boot = append(n.boot, a.String()+"/p2p/"+p.ID().String())
		}
	}
	for i := cfg.Bootstraps; i < cfg.Nodes; i++ {
		p, err := n.newPeer(order[i%len(order)])
		if err != nil {
			return nil, err
		}
		if cfg.JoinSpread > 0 {
			k, m := i-cfg.Bootstraps, cfg.Nodes-cfg.Bootstraps
			p.start = time.Duration(int64(cfg.JoinSpread) * int64(k) / int64(m))
		}
	}
	for _, p := range n.peers {
		n.run(p)
	}
	return n, nil
}

// latency is the simulated network's LatencyFunc.
func (n *Network) latency(p *simnet.Packet) time.Duration {
	i, ri := n.indexOf(p.From)
	j, rj := n.indexOf(p.To)
	if i < 0 || j < 0 {
		return RegionLatency(EU, EU)
	}
	return PairLatency(ri, rj, i, j, n.cfg.LatencySpread)
}

func (n *Network) indexOf(a net.Addr) (int, Region) {
	ua, ok := a.(*net.UDPAddr)
	if !ok {
		return -1, ""
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	i, ok := n.byIP[ua.IP.String()]
	if !ok {
		return -1, ""
	}
	return i, n.regions[i]
}

// newPeer builds (but does not run) the next node, in region r.
func (n *Network) newPeer(r Region) (*Peer, error) {
	n.mu.Lock()
	idx := len(n.regions)
	n.regions = append(n.regions, r)
	ip := simnet.IntToPublicIPv4(idx)
	n.byIP[ip.String()] = idx
	var seed [ed25519.SeedSize]byte
	for k := range seed {
		seed[k] = byte(n.rng.Uint32())
	}
	var lossSeed = n.rng.Uint64()
	n.mu.Unlock()

	key, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		return nil, fmt.Errorf("simnet: node %d: identity: %w", idx, err)
	}
	if n.cfg.Tier == TierLight {
		return n.newLightPeer(idx, r, ip, key)
	}
	links := simnet.NodeBiDiLinkSettings{
		Downlink: simnet.LinkSettings{BitsPerSecond: n.cfg.BitsPerSecond},
		Uplink:   simnet.LinkSettings{BitsPerSecond: n.cfg.BitsPerSecond},
	}
	if n.cfg.Links != nil {
		n.cfg.Links(idx, &links)
	}
	cc := node.DefaultConfig().Connections
	if n.cfg.ConnLow > 0 {
		cc.Low = n.cfg.ConnLow
	}
	if n.cfg.ConnHigh > 0 {
		cc.High = max(n.cfg.ConnHigh, cc.Low)
	}
	cm, err := connmgr.NewConnManager(cc.Low, cc.High, connmgr.WithGracePeriod(n.cfg.ConnGrace),
		// Trim as often as connections come out of their grace period.
		connmgr.WithSilencePeriod(min(10*time.Second, max(n.cfg.ConnGrace, time.Second))))
	if err != nil {
		return nil, fmt.Errorf("simnet: node %d: connection manager: %w", idx, err)
	}
	var h host.Host
	if n.mw != nil {
		addr, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/%s/udp/8000/quic-v1", ip))
		if err != nil {
			return nil, fmt.Errorf("simnet: node %d: address: %w", idx, err)
		}
		if h, err = n.mw.newHost(idx, r, key, addr, cm); err != nil {
			return nil, fmt.Errorf("simnet: node %d: %w", idx, err)
		}
	} else if h, err = libp2p.New(
		libp2p.Identity(key),
		libp2p.ConnectionManager(cm),
		libp2p.ListenAddrStrings(fmt.Sprintf("/ip4/%s/udp/8000/quic-v1", ip)),
		libp2p.Transport(libp2pquic.NewTransport),
		n.quic(links, n.cfg.Loss, lossSeed),
		// As in x/simlibp2p: identify's address discovery stalls synctest.
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	); err != nil {
		return nil, fmt.Errorf("simnet: node %d: host: %w", idx, err)
	}

	cfg := node.DefaultConfig()
	cfg.DisableMDNS = true
	cfg.Compute.Disabled = true
	cfg.LogLevel = "error"
	cfg.DHT = n.cfg.DHT
	cfg.DHT.DisableDiversityFilter = true
	for _, b := range n.boot {
		if ai, err := dht.ParsePeerAddr(b); err == nil && ai.ID != h.ID() {
			cfg.Bootstrap = append(cfg.Bootstrap, b)
		}
	}
	var runner compute.Runner
	if n.cfg.Runner != nil {
		runner = n.cfg.Runner(idx)
	}
	cfg.Compute.Disabled = runner == nil
	if n.cfg.Node != nil {
		n.cfg.Node(idx, &cfg)
	}
	dataDir := filepath.Join(n.dir, fmt.Sprintf("node-%d", idx))
	var dopts []kaddht.Option
	if !n.cfg.AutoRefresh {
		dopts = append(dopts, kaddht.DisableAutoRefresh())
	}
	nd, err := node.New(cfg, node.Deps{
		DHTOptions: dopts,
		Runner:     runner,
		Host:       h,
		Identity:   key,
		DataDir:    dataDir,
		Logger:     n.cfg.Logger.With("sim_node", idx),
	})
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("simnet: node %d: %w", idx, err)
	}
	p := &Peer{Index: idx, Region: r, Node: nd, router: nd.Router(), host: h}
	n.mu.Lock()
	n.peers = append(n.peers, p)
	n.mu.Unlock()
	return p, nil
}

// quic is x/simlibp2p's QUICSimnet with a lossy uplink.
func (n *Network) quic(links simnet.NodeBiDiLinkSettings, loss float64, seed uint64) libp2p.Option {
	sel := &sourceIP{}
	opts := []quicreuse.Option{
		quicreuse.OverrideSourceIPSelector(func() (quicreuse.SourceIPSelector, error) { return sel, nil }),
		quicreuse.OverrideListenUDP(func(_ string, addr *net.UDPAddr) (net.PacketConn, error) {
			sel.ip = addr.IP
			c := n.sim.NewEndpoint(addr, links)
			if loss > 0 {
				return &lossyConn{SimConn: c, loss: loss, rng: rand.New(rand.NewPCG(seed, seed+1))}, nil
			}
			return c, nil
		}),
	}
	return libp2p.QUICReuse(func(l fx.Lifecycle, srk quic.StatelessResetKey, tk quic.TokenGeneratorKey, o ...quicreuse.Option) (*quicreuse.ConnManager, error) {
		cm, err := quicreuse.NewConnManager(srk, tk, o...)
		if err != nil {
			return nil, err
		}
		// A conn manager passed in this way is not closed by libp2p.
		l.Append(fx.StopHook(cm.Close))
		return cm, nil
	}, opts...)
}

type sourceIP struct{ ip net.IP } // set once, before any dial

func (s *sourceIP) PreferredSourceIPForDestination(*net.UDPAddr) (net.IP, error) { return s.ip, nil }

// lossyConn drops a fraction of the packets written to it.
type lossyConn struct {
	*simnet.SimConn
	loss float64
	mu   sync.Mutex
	rng  *rand.Rand
}

func (c *lossyConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	drop := c.rng.Float64() < c.loss
	c.mu.Unlock()
	if drop {
		return len(b), nil
	}
	return c.SimConn.WriteTo(b, addr)
}

// run starts p's node (after its join offset); Close or Leave stops it.
func (n *Network) run(p *Peer) {
	ctx, cancel := context.WithCancel(n.ctx)
	p.cancel, p.done, p.alive = cancel, make(chan error, 1), true
	go func() {
		if p.start > 0 && sleepCtx(ctx, p.start) != nil {
			p.done <- nil
			return
		}
		if p.Node == nil {
			p.done <- p.router.Run(ctx)
			return
		}
		p.done <- p.Node.Run(ctx)
	}()
}

// stop ends p's node and releases it.
func (n *Network) stop(p *Peer) error {
	n.mu.Lock()
	if !p.alive {
		n.mu.Unlock()
		return nil
	}
	p.alive = false
	n.mu.Unlock()
	p.cancel()
	err := <-p.done
	if p.Node != nil {
		err = errors.Join(err, p.Node.Close())
	} else {
		err = errors.Join(err, p.router.Close())
	}
	err = errors.Join(err, p.host.Close())
	if err != nil {
		return fmt.Errorf("simnet: stop node %d: %w", p.Index, err)
	}
	return nil
}

// closeMem stops the mem tier's live peers all at once, in two rounds:
// every node (its DHT, share and compute) first, then every host. Closing
// one peer at a time makes the others' DHTs see each disconnect and dial
// around it (5 s of virtual time per dead peer), and a host's close waits
// for its streams to drain.
func (n *Network) closeMem(peers []*Peer) []error {
	n.mu.Lock()
	var live []*Peer
	for _, p := range peers {
		if p.alive {
			p.alive = false
			live = append(live, p)
		}
	}
	n.mu.Unlock()
	errs := make([]error, len(live))
	for _, p := range live {
		p.cancel()
	}
	var wg sync.WaitGroup
	for i, p := range live {
		wg.Go(func() { errs[i] = errors.Join(<-p.done, p.Node.Close()) })
	}
	wg.Wait()
	for i, p := range live {
		wg.Go(func() {
			if err := errors.Join(errs[i], p.host.Close()); err != nil {
				errs[i] = fmt.Errorf("simnet: stop node %d: %w", p.Index, err)
			}
		})
	}
	wg.Wait()
	return errs
}

// Peers returns every peer ever started, by index (left ones included).
func (n *Network) Peers() []*Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Peer(nil), n.peers...)
}

// Alive returns the peers currently running, by index.
func (n *Network) Alive() []*Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*Peer
	for _, p := range n.peers {
		if p.alive {
			out = append(out, p)
		}
	}
	return out
}

// IsAlive reports whether peer i is running.
func (n *Network) IsAlive(i int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return i < len(n.peers) && n.peers[i].alive
}

// Leave stops peer i: its host closes and it stops answering.
func (n *Network) Leave(i int) error { return n.stop(n.Peers()[i]) }

// Join starts a new node with a fresh identity in region r; it joins
// through the bootstrap peers.
func (n *Network) Join(r Region) (*Peer, error) {
	p, err := n.newPeer(r)
	if err != nil {
		return nil, err
	}
	n.run(p)
	return p, nil
}

// Rand returns a seeded random source derived from the network's seed
// and salt, for scenarios.
func (n *Network) Rand(salt uint64) *rand.Rand {
	return rand.New(rand.NewPCG(n.cfg.Seed, salt))
}

// Close stops every node and the simulated network and removes the
// temporary directory.
func (n *Network) Close() error {
	peers := n.Peers()
	errs := make([]error, len(peers))
	for i, p := range peers {
		if p.done == nil { // built but never run
			p.alive = true
			p.cancel = func() {}
			p.done = make(chan error, 1)
			p.done <- nil
		}
		if n.mw == nil {
			errs[i] = n.stop(p)
		}
	}
	if n.mw != nil {
		errs = n.closeMem(peers)
	}
	if n.sim != nil {
		n.sim.Close()
	}
	if n.lw != nil {
		errs = append(errs, n.lw.close())
	}
	if n.tmp {
		errs = append(errs, os.RemoveAll(n.dir))
	}
	return errors.Join(errs...)
}

// newLightPeer builds (but does not run) light node idx: enxame's DHT
// router on a light host (see light.go).
func (n *Network) newLightPeer(idx int, r Region, ip net.IP, key crypto.PrivKey) (*Peer, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("simnet: node %d: identity: %w", idx, err)
	}
	addr, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/%s/udp/8000/quic-v1", ip))
	if err != nil {
		return nil, fmt.Errorf("simnet: node %d: address: %w", idx, err)
	}
	h, err := n.lw.newHost(idx, r, id, addr)
	if err != nil {
		return nil, fmt.Errorf("simnet: node %d: %w", idx, err)
	}
	dcfg := n.cfg.DHT
	dcfg.DisableDiversityFilter = true
	for _, b := range n.boot {
		if ai, err := dht.ParsePeerAddr(b); err == nil && ai.ID != id {
			dcfg.Bootstrap = append(dcfg.Bootstrap, b)
		}
	}
	opts := []kaddht.Option{kaddht.WithCustomMessageSender(func(_ host.Host, protos []protocol.ID) pb.MessageSenderWithDisconnect {
		return &lightSender{h: h, protos: protos}
	})}
	if !n.cfg.AutoRefresh {
		opts = append(opts, kaddht.DisableAutoRefresh())
	}
	rt, err := dht.New(dcfg, dht.Deps{Host: h, Options: opts, Logger: n.cfg.Logger.With("sim_node", idx)})
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("simnet: node %d: %w", idx, err)
	}
	p := &Peer{Index: idx, Region: r, router: rt, host: h, key: key}
	n.mu.Lock()
	n.peers = append(n.peers, p)
	n.mu.Unlock()
	return p, nil
}
