package share

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ipfs/boxo/bitswap"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockservice"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
)

// ProviderFinder finds peers that provide a CID, for Bitswap's content
// routing; node passes a wrapper of its *dht.Router. FindProvidersAsync
// returns at once; it sends at most max providers (0: no limit) on the
// returned channel as it finds them and closes the channel when done or
// when ctx ends. It must be safe for concurrent use.
type ProviderFinder interface {
	FindProvidersAsync(ctx context.Context, c cid.Cid, max int) <-chan peer.AddrInfo
}

// BitswapConfig configures Bitswap. A zero field means its default.
type BitswapConfig struct {
	// ProviderSearchDelay is how long a want waits for connected peers
	// before Bitswap asks the ProviderFinder. Default 1s (boxo's).
	ProviderSearchDelay time.Duration
	// WantsPerSecond caps the wants (of blocks or of haves) one peer may
	// have served per second (a token bucket holding a second's worth);
	// wants past it are answered DontHave. Default 1000: a fetch of 256
	// KiB blocks at 250 MB/s.
	WantsPerSecond int
	// MaxOutstandingBytesPerPeer caps the bytes of blocks queued to send
	// to one peer. Default 1 MiB.
	MaxOutstandingBytesPerPeer int
	// MaxQueuedWantsPerPeer caps the wants of one peer queued at once.
	// Default 1024.
	MaxQueuedWantsPerPeer int
	// TaskWorkers is the number of goroutines that serve wants, for all
	// peers. Default 8.
	TaskWorkers int
}

func (c BitswapConfig) withDefaults() BitswapConfig {
	if c.WantsPerSecond == 0 {
		c.WantsPerSecond = 1000
	}
	if c.MaxOutstandingBytesPerPeer == 0 {
		c.MaxOutstandingBytesPerPeer = 1 << 20
	}
	if c.MaxQueuedWantsPerPeer == 0 {
		c.MaxQueuedWantsPerPeer = 1024
	}
	if c.TaskWorkers == 0 {
		c.TaskWorkers = 8
	}
	return c
}

// BitswapDeps are the collaborators of Bitswap.
type BitswapDeps struct {
	// Host is the libp2p host Bitswap speaks on (/ipfs/bitswap/*).
	// Required.
	Host host.Host
	// Store serves blocks to peers and keeps fetched ones. Required.
	Store *Store
	// Providers finds providers of wanted blocks; nil means connected
	// peers only.
	Providers ProviderFinder
	// Gated, if not nil, reports whether a peer is refused for
	// misbehaving (the exchange's Gated): its wants are all denied, so
	// one offence score covers both protocols. It must be safe for
	// concurrent use and must not block.
	Gated func(peer.ID) bool
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

// Bitswap speaks IPFS's Bitswap (boxo's client and server) on a host, over
// a Store, for interop with Kubo and other IPFS nodes: it serves every
// stored block to any peer that asks, and Get fetches missing blocks from
// connected peers (and providers). It is a BlockGetter, so a Reader over it
// reads what only IPFS peers have. Its methods are safe for concurrent use.
// Close stops it; boxo's goroutines live until then.
type Bitswap struct {
	bs    *bitswap.Bitswap
	bsvc  blockservice.BlockService
	host  host.Host
	store *Store
	log   *slog.Logger
	wants *wantLimiter
}

// NewBitswap starts Bitswap on deps.Host. ctx scopes boxo's metrics only;
// Close ends it.
func NewBitswap(ctx context.Context, cfg BitswapConfig, deps BitswapDeps) (*Bitswap, error) {
	if deps.Host == nil {
		return nil, errors.New("share: bitswap: Host is required")
	}
	if deps.Store == nil {
		return nil, errors.New("share: bitswap: Store is required")
	}
	if cfg.ProviderSearchDelay < 0 {
		return nil, fmt.Errorf("share: bitswap: config: ProviderSearchDelay must be >= 0, got %v", cfg.ProviderSearchDelay)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"WantsPerSecond", cfg.WantsPerSecond},
		{"MaxOutstandingBytesPerPeer", cfg.MaxOutstandingBytesPerPeer},
		{"MaxQueuedWantsPerPeer", cfg.MaxQueuedWantsPerPeer},
		{"TaskWorkers", cfg.TaskWorkers},
	} {
		if f.v < 0 {
			return nil, fmt.Errorf("share: bitswap: config: %s must be > 0, got %d", f.name, f.v)
		}
	}
	cfg = cfg.withDefaults()
	wl := newWantLimiter(float64(cfg.WantsPerSecond), deps.Gated)
	opts := []bitswap.Option{
		bitswap.WithPeerBlockRequestFilter(wl.allow),
		bitswap.MaxOutstandingBytesPerPeer(cfg.MaxOutstandingBytesPerPeer),
		bitswap.MaxQueuedWantlistEntriesPerPeer(uint(cfg.MaxQueuedWantsPerPeer)),
		bitswap.TaskWorkerCount(cfg.TaskWorkers),
	}
	if cfg.ProviderSearchDelay > 0 {
		opts = append(opts, bitswap.ProviderSearchDelay(cfg.ProviderSearchDelay))
	}
	var pf routing.ContentDiscovery
	if deps.Providers != nil {
		pf = deps.Providers
	}
	net := bsnet.NewFromIpfsHost(deps.Host)
	bs := bitswap.New(ctx, net, pf, deps.Store, opts...)
	b := &Bitswap{
		bs:    bs,
		bsvc:  blockservice.New(deps.Store, bs),
		host:  deps.Host,
		store: deps.Store,
		log:   discardIfNil(deps.Logger).With("component", "share"),
		wants: wl,
	}
	b.log.Info("bitswap started", "peer", deps.Host.ID())
	return b, nil
}

// Get returns the block of c from the store, or fetches it over Bitswap
// (blocking until a peer sends it or ctx ends), checks it against c and
// stores it. Hold c first if a GC must not remove it before it is pinned.
func (b *Bitswap) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	blk, err := b.bsvc.GetBlock(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("share: bitswap get %s: %w", c, err)
	}
	return blk, nil
}

// fetch makes the DAG under root local over Bitswap with Walk (each
// distinct block got once), every block held in hold (a hold of its own
// when nil, released on return).
func (b *Bitswap) fetch(ctx context.Context, root cid.Cid, opts WalkOptions, hold *Hold) error {
	if hold == nil {
		hold = b.store.NewHold()
		defer hold.Release()
	}
	if _, err := Walk(ctx, root, hold.Getter(b), opts); err != nil {
		return fmt.Errorf("bitswap: %w", err)
	}
	return nil
}

// ipfsPeers reports whether a connected peer speaks Bitswap but not the
// enxame exchange.
func (b *Bitswap) ipfsPeers() bool {
	ps := b.host.Peerstore()
	for _, p := range b.host.Network().Peers() {
		bs, _ := ps.SupportsProtocols(p, BitswapProtocol)
		ours, _ := ps.SupportsProtocols(p, ProtocolID)
		if len(bs) > 0 && len(ours) == 0 {
			return true
		}
	}
	return false
}

// Denied returns the wants of p that Bitswap refused to serve (over
// WantsPerSecond, or while p was gated) since it started.
func (b *Bitswap) Denied(p peer.ID) int64 { return b.wants.denied(p) }

// NotifyNewBlocks tells peers that want them that blocks are now stored
// (call it after an Add, so that pending wants are answered).
func (b *Bitswap) NotifyNewBlocks(ctx context.Context, blks ...blocks.Block) error {
	return b.bs.NotifyNewBlocks(ctx, blks...)
}

// Close stops Bitswap and waits for its goroutines. It does not close the
// host or the store.
func (b *Bitswap) Close() error {
	err := b.bsvc.Close()
	if err != nil {
		return fmt.Errorf("share: close bitswap: %w", err)
	}
	return nil
}
