package node

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/share"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// BlocksDir is the block store's directory inside a home.
const BlocksDir = "blocks"

// Compile-time check that the router gives share what it needs.
var _ share.Router = (*dht.Router)(nil)

// dhtFinder adapts the router to finding providers (compute's discovery
// embeds it).
type dhtFinder struct{ n *Node }

func (f *dhtFinder) FindProviders(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo {
	return f.n.router.FindProviders(ctx, c, count)
}

// openShare opens the block store (in the home, or in dir for an ephemeral
// node) and builds the share service over it.
func (n *Node) openShare(dir string) error {
	scfg := share.DefaultStoreConfig(dir)
	scfg.MaxBytes = int64(n.cfg.Storage.Max)
	st, err := share.OpenStore(scfg, share.StoreDeps{Logger: n.baseLog})
	if err != nil {
		return fmt.Errorf("open block store: %w", err)
	}
	n.blocks = st
	n.shareMet = share.NewMetrics(st)
	svc, err := share.NewService(share.ServiceConfig{
		ReprovideInterval: n.cfg.Share.ReprovideInterval,
		Provide:           n.cfg.Share.Provide,
		Exchange:          n.cfg.Share.Exchange,
		DisableBitswap:    n.cfg.Share.DisableBitswap,
	}, share.ServiceDeps{Host: n.host, Store: st, Router: n.router, Logger: n.baseLog,
		Metrics: n.shareMet})
	if err != nil {
		return err
	}
	n.share = svc
	n.gater.ex.Store(svc.Exchange())
	return nil
}

// Share is the node's file sharing service.
func (n *Node) Share() *share.Service { return n.share }

// Blocks is the node's block store.
func (n *Node) Blocks() *share.Store { return n.blocks }

// Exchange is the node's block exchange.
func (n *Node) Exchange() *share.Exchange { return n.share.Exchange() }

// Add imports paths into the block store, pins the roots and announces
// them (share.Service.Add).
func (n *Node) Add(ctx context.Context, paths []string, opts share.AddOptions) (share.AddResult, error) {
	return n.share.Add(ctx, paths, opts)
}

// AddReader imports r as one file named name and announces it
// (share.Service.AddReader).
func (n *Node) AddReader(ctx context.Context, r io.Reader, name string, opts share.AddOptions) (share.AddResult, error) {
	return n.share.AddReader(ctx, r, name, opts)
}

// Fetch makes the DAG under root local (share.Service.Fetch).
func (n *Node) Fetch(ctx context.Context, root cid.Cid, opts share.FetchOptions) error {
	return n.share.Fetch(ctx, root, opts)
}

// Open returns a reader of the file root, fetched first
// (share.Service.Open).
func (n *Node) Open(ctx context.Context, root cid.Cid) (io.ReadSeekCloser, error) {
	return n.share.Open(ctx, root)
}

// OpenStream returns a reader of the file root that reads while it
// fetches (share.Service.OpenStream).
func (n *Node) OpenStream(ctx context.Context, root cid.Cid) (io.ReadSeekCloser, error) {
	r, err := n.share.OpenStream(ctx, root)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// content backs compute's Content with share: Put adds and announces, Get
// fetches the DAG if needed and reads it.
type content struct{ n *Node }

func (c content) Put(ctx context.Context, r io.Reader) (cid.Cid, error) {
	res, err := c.n.share.AddReader(ctx, r, "", share.AddOptions{})
	if err != nil {
		return cid.Undef, err
	}
	return res.Root, nil
}

// PutTemp adds r unpinned and announces it, holding its blocks until
// release: a worker's output, kept until delivered or expired (a GC in the
// instant between add and hold makes it fail: the unit fails).
func (c content) PutTemp(ctx context.Context, r io.Reader) (cid.Cid, func(), error) {
	return c.n.share.AddTemp(ctx, r)
}

var _ compute.LocalContent = content{}

// PutTempLocal is PutTemp unannounced (compute.LocalContent): a worker's
// tiny output, sent inline with its result, and a submitter's copy of it
// before it is checked against its CID.
func (c content) PutTempLocal(ctx context.Context, r io.Reader) (cid.Cid, func(), error) {
	res, err := c.n.blocks.AddReader(ctx, r, "", share.AddOptions{NoPin: true})
	if err != nil {
		return cid.Undef, nil, err
	}
	hold := c.n.blocks.NewHold()
	if _, err := share.Walk(ctx, res.Root, hold.Getter(c.n.blocks), share.WalkOptions{}); err != nil {
		hold.Release()
		return cid.Undef, nil, fmt.Errorf("hold output %s: %w", res.Root, err)
	}
	return res.Root, hold.Release, nil
}

// PinLocal pins root, stored here, unannounced (compute.LocalContent): a
// submitter's copy of a tiny output; the job's result directory is
// announced.
func (c content) PinLocal(ctx context.Context, root cid.Cid) error {
	return c.n.blocks.Pin(ctx, root)
}

// Keep fetches root's DAG (at most maxBytes) and pins it: a submitter's
// copy of an output it received (share.Service.Keep).
func (c content) Keep(ctx context.Context, root cid.Cid, maxBytes int64) error {
	err := c.n.share.Keep(ctx, root, maxBytes)
	if errors.Is(err, share.ErrTooLarge) {
		return fmt.Errorf("%w: %w", compute.ErrTooLarge, err)
	}
	return err
}

// Get fetches at most maxBytes of root's DAG (the fetch stops as soon as
// the declared size or the bytes received pass it) and reads it.
func (c content) Get(ctx context.Context, root cid.Cid, maxBytes int64) (io.ReadCloser, error) {
	r, err := c.n.share.OpenCapped(ctx, root, maxBytes)
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

// HeldSize returns the size of the file under root, from its root block
// stored here (workers bid with it); an error for a directory or a root
// not stored.
func (c content) HeldSize(ctx context.Context, root cid.Cid) (int64, error) {
	r, err := c.n.blocks.Open(ctx, root)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return int64(r.Size()), nil
}
