package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/compute/sandbox"
	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/share"
	sharewire "github.com/enxame/enxame/share/wire"
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// ComputeDir is the worker's scratch directory inside a home, and
// WasmCacheDir wazero's compilation cache.
const (
	ComputeDir   = "compute"
	WasmCacheDir = "wazero-cache"
)

// Compile-time checks of what node hands compute.
var (
	_ compute.Content   = content{}
	_ compute.Discovery = (*dhtDiscovery)(nil)
	_ compute.Runner    = (*sandbox.Pool)(nil)
)

// dhtDiscovery adapts the router to compute's worker discovery.
type dhtDiscovery struct{ dhtFinder }

func (d *dhtDiscovery) Provide(ctx context.Context, c cid.Cid) error {
	err := d.n.router.Provide(ctx, c)
	if errors.Is(err, dht.ErrNoPeers) {
		return fmt.Errorf("%w: %w", compute.ErrAlone, err)
	}
	return err
}

// openCompute builds the submitter and, unless compute is disabled, the
// sandbox pool and the worker. dir holds the worker's scratch space and the
// compile cache.
func (n *Node) openCompute(dir string, deps Deps) error {
	var err error
	if n.computeMet, err = n.newComputeMetrics(); err != nil {
		return err
	}
	disc := &dhtDiscovery{dhtFinder{n}}
	if err := n.openWorker(dir, deps, disc); err != nil {
		return err
	}
	// The submitter reaches this peer's own worker in process (libp2p
	// cannot open a stream to itself), so a peer runs its own jobs too.
	cc := n.cfg.Compute
	sub, err := compute.NewSubmitter(compute.SubmitterConfig{
		Sched:           cc.Sched,
		UnitTimeout:     cc.UnitTimeout,
		Replicas:        cc.Replicas,
		RequestTimeout:  cc.Submitter.RequestTimeout,
		DiscoverCount:   cc.Submitter.DiscoverCount,
		DiscoverTimeout: cc.Submitter.DiscoverTimeout,
		MaxSplitBytes:   int64(cc.Submitter.MaxSplit),
		WatchBuffer:     cc.Submitter.WatchBuffer,
	},
		compute.SubmitterDeps{Host: n.host, Content: content{n}, Discovery: disc, Datastore: n.store,
			Local: n.worker, Logger: n.baseLog, Metrics: n.computeMet})
	if err != nil {
		return fmt.Errorf("start compute submitter: %w", err)
	}
	n.submitter = sub
	return nil
}

// openWorker builds the sandbox pool and the worker unless compute is
// disabled.
func (n *Node) openWorker(dir string, deps Deps, disc *dhtDiscovery) error {
	if n.cfg.Compute.Disabled {
		return nil
	}
	if deps.Runner != nil {
		return n.startWorker(dir, deps.Runner, disc)
	}
	cmd := deps.SandboxCommand
	if len(cmd) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the enxame binary for sandbox children: %w", err)
		}
		cmd = []string{exe, SandboxChildCommand}
	}
	pcfg := sandbox.Config{
		Slots:    n.cfg.Compute.Slots,
		Command:  cmd,
		CacheDir: filepath.Join(dir, WasmCacheDir),
		// The worker's own directory, which outlives its units/ (removed
		// and made again when the worker starts): children may read
		// nothing else of the home.
		UnitDirs: []string{filepath.Join(dir, ComputeDir)},
	}
	if deps.WasmCacheDir != "" {
		pcfg.CacheDir = deps.WasmCacheDir
	}
	// The pool's limits are maxima (a unit's own are capped by them); the
	// worker applies the per-unit defaults and rejects units above its
	// maxima before they reach the pool.
	pcfg.Limits.MemoryMiB = max(n.cfg.Compute.MaxMemoryMiB, n.cfg.Compute.MemoryMiB)
	pcfg.Limits.Timeout = max(n.cfg.Compute.MaxUnitTimeout, n.cfg.Compute.UnitTimeout)
	var err error
	if n.pool, err = sandbox.New(pcfg, n.baseLog); err != nil {
		return fmt.Errorf("start sandbox pool: %w", err)
	}
	return n.startWorker(dir, n.pool, disc)
}

// startWorker builds the worker over runner.
func (n *Node) startWorker(dir string, runner compute.Runner, disc *dhtDiscovery) error {
	w, err := compute.NewWorker(compute.WorkerConfig{
		Dir:           filepath.Join(dir, ComputeDir),
		Slots:         n.cfg.Compute.Slots,
		MemoryMiB:     n.cfg.Compute.MemoryMiB,
		UnitTimeout:   n.cfg.Compute.UnitTimeout,
		OutputTTL:     n.cfg.Compute.OutputTTL,
		MaxInputBytes: int64(n.cfg.Compute.MaxInputMiB) << 20,
		// A unit may state more than the defaults; the maxima follow.
		MaxMemoryMiB:      max(n.cfg.Compute.MaxMemoryMiB, n.cfg.Compute.MemoryMiB),
		MaxUnitTimeout:    max(n.cfg.Compute.MaxUnitTimeout, n.cfg.Compute.UnitTimeout),
		QueueLen:          n.cfg.Compute.QueueLen,
		PeerShare:         n.cfg.Compute.PeerShare,
		MaxOutputBytes:    int64(n.cfg.Compute.MaxOutput),
		MaxModuleBytes:    int64(n.cfg.Compute.MaxModule),
		CacheBytes:        int64(n.cfg.Compute.Cache),
		FetchTimeout:      n.cfg.Compute.FetchTimeout,
		AnnounceInterval:  n.cfg.Compute.AnnounceInterval,
		HeartbeatInterval: n.cfg.Compute.HeartbeatInterval,
	}, compute.WorkerDeps{Host: n.host, Content: content{n}, Discovery: disc, Runner: runner, Logger: n.baseLog, Metrics: n.computeMet})
	if err != nil {
		return fmt.Errorf("start compute worker: %w", err)
	}
	n.worker = w
	return nil
}

// Submitter is the node's job submitter.
func (n *Node) Submitter() *compute.Submitter { return n.submitter }

// Worker is the node's compute worker, nil when compute is disabled.
func (n *Node) Worker() *compute.Worker { return n.worker }

// PutDir stores a UnixFS directory (one dag-pb block) of entries, fetches
// whatever of its entries is not here yet (an input given by CID, an output
// still on its way from its worker), pins it and announces it.
func (c content) PutDir(ctx context.Context, entries []compute.DirEntry) (cid.Cid, error) {
	nd, err := dirNode(entries, func(k cid.Cid) uint64 { return c.treeSize(ctx, k) })
	if err != nil {
		return cid.Undef, err
	}
	hold := c.n.blocks.NewHold()
	defer hold.Release()
	hold.Add(nd.Cid())
	if err := c.n.blocks.Put(ctx, nd); err != nil {
		return cid.Undef, fmt.Errorf("put directory: %w", err)
	}
	err = c.n.blocks.Pin(ctx, nd.Cid())
	if ie := (*share.IncompleteError)(nil); errors.As(err, &ie) {
		// Fetch each entry from its own providers: nobody else has the
		// new directory's root to be found by.
		err = nil
		for _, e := range entries {
			if err = c.n.share.FetchHeld(ctx, e.CID, share.FetchOptions{}, hold); err != nil {
				err = fmt.Errorf("entry %q: %w", e.Name, err)
				break
			}
		}
		if err == nil {
			err = c.n.blocks.Pin(ctx, nd.Cid())
		}
	}
	if err != nil {
		return cid.Undef, fmt.Errorf("put directory %s: %w", nd.Cid(), err)
	}
	c.n.share.Announce(nd.Cid())
	return nd.Cid(), nil
}

// dirNode is the UnixFS directory block of entries, sizeOf giving each
// entry's cumulative size. It fails when the block is over the size a peer
// may send (sharewire.MaxBlockSize): no worker could fetch it, and a
// reduce unit reads its job's outputs from it. compute.MaxUnits keeps a
// job's result directory under it.
func dirNode(entries []compute.DirEntry, sizeOf func(cid.Cid) uint64) (*merkledag.ProtoNode, error) {
	nd := ft.EmptyDirNode()
	if err := nd.SetCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256}); err != nil {
		return nil, fmt.Errorf("put directory: %w", err)
	}
	for _, e := range entries {
		if !compute.ValidName(e.Name) {
			return nil, fmt.Errorf("put directory: bad entry name %q", e.Name)
		}
		if err := nd.AddRawLink(e.Name, &ipld.Link{Name: e.Name, Cid: e.CID, Size: sizeOf(e.CID)}); err != nil {
			return nil, fmt.Errorf("put directory: entry %q: %w", e.Name, err)
		}
	}
	if n := len(nd.RawData()); n > sharewire.MaxBlockSize {
		return nil, fmt.Errorf("put directory: %d entries make a block of %d bytes, over the %d a peer may send", len(entries), n, sharewire.MaxBlockSize)
	}
	return nd, nil
}

// treeSize is the cumulative size of the DAG at k as a link records it
// (block sizes and their links'), from its root block when it is here; 0
// when not.
func (c content) treeSize(ctx context.Context, k cid.Cid) uint64 {
	b, err := c.n.blocks.Get(ctx, k)
	if err != nil {
		return 0
	}
	if k.Type() != cid.DagProtobuf {
		return uint64(len(b.RawData()))
	}
	pn, err := merkledag.DecodeProtobuf(b.RawData())
	if err != nil {
		return 0
	}
	n, err := pn.Size()
	if err != nil {
		return 0
	}
	return n
}

// ReadDir fetches the directory root's DAG (at most maxBytes of it) and
// lists it.
func (c content) ReadDir(ctx context.Context, root cid.Cid, maxBytes int64) ([]compute.DirEntry, error) {
	hold := c.n.blocks.NewHold()
	defer hold.Release()
	err := c.n.share.FetchHeld(ctx, root, share.FetchOptions{MaxBytes: maxBytes}, hold)
	if errors.Is(err, share.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", compute.ErrTooLarge, err)
	}
	if err != nil {
		return nil, err
	}
	ents, err := c.n.blocks.List(ctx, root)
	if err != nil {
		return nil, err
	}
	out := make([]compute.DirEntry, 0, len(ents))
	for _, e := range ents {
		out = append(out, compute.DirEntry{Name: e.Name, CID: e.CID})
	}
	return out, nil
}
