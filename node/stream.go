package node

import (
	"context"
	"io"
	"sync"

	"github.com/enxame/enxame/share"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// fetchSource is a share.StreamSource over the store that a concurrent
// fetch fills: it waits for a block until the store commits it (Added, no
// polling) or the fetch ends. It is safe for concurrent use.
type fetchSource struct {
	st   *share.Store
	done <-chan struct{} // closed when the fetch has ended
	err  *error          // the fetch's error, valid once done is closed
}

func (s fetchSource) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	return s.st.Get(ctx, c)
}

func (s fetchSource) ReadInto(ctx context.Context, c cid.Cid, p []byte) (int, error) {
	return s.st.ReadInto(ctx, c, p)
}

// Wait returns nil once the block of c is stored, or the fetch's error (an
// error matching ipld.ErrNotFound if the fetch ended well without it).
func (s fetchSource) Wait(ctx context.Context, c cid.Cid) error {
	for {
		added := s.st.Added()
		if ok, err := s.st.Has(ctx, c); err != nil || ok {
			return err
		}
		select {
		case <-added:
		case <-s.done:
			if ok, err := s.st.Has(ctx, c); err != nil || ok {
				return err
			}
			if *s.err != nil {
				return *s.err
			}
			return ipld.ErrNotFound{Cid: c}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// bgFetch is a fetch running in the background while its caller reads the
// blocks it stores through src. The fetch leaves every block of the DAG in
// hold when it succeeds, so that a GC cannot remove a block the caller has
// yet to read once the fetch has ended; the hold lasts until stop or wait.
type bgFetch struct {
	src    fetchSource
	done   chan struct{} // closed when the fetch has ended
	err    error         // the fetch's error, valid once done is closed
	hold   *share.Hold
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startFetch runs fetch(ctx, hold) in a goroutine that the returned
// bgFetch owns; fetch must leave the DAG's blocks in hold when it succeeds
// (fetchHeld does).
func (n *Node) startFetch(ctx context.Context, fetch func(ctx context.Context, hold *share.Hold) error) *bgFetch {
	fctx, cancel := context.WithCancel(ctx)
	b := &bgFetch{done: make(chan struct{}), hold: n.blocks.NewHold(), cancel: cancel}
	b.src = fetchSource{st: n.blocks, done: b.done, err: &b.err}
	b.wg.Go(func() {
		defer close(b.done)
		b.err = fetch(fctx, b.hold)
	})
	return b
}

// wait waits for the fetch to end, releases the hold and returns the
// fetch's error.
func (b *bgFetch) wait() error {
	b.wg.Wait()
	b.cancel()
	b.hold.Release()
	return b.err
}

// stop cancels the fetch if it still runs, waits for it and releases the
// hold.
func (b *bgFetch) stop() {
	b.cancel()
	b.wg.Wait()
	b.hold.Release()
}

// end ends the fetch after its reader failed: it stops the fetch, but when
// ctx is done lets the fetch end on its own, so that its error (which says
// after how long it gave up) is not a cancellation of ours.
func (b *bgFetch) end(ctx context.Context) {
	if ctx.Err() != nil {
		b.wait()
		return
	}
	b.stop()
}

// streamReader is a file being read while its DAG is fetched. Its WriteTo
// (share.Stream's) is what io.Copy uses.
type streamReader struct {
	*share.Stream
	fetch *bgFetch
}

// Close stops the fetch if it still runs, waits for it and lets GC have
// the blocks again.
func (s *streamReader) Close() error {
	err := s.Stream.Close()
	s.fetch.stop()
	return err
}

// OpenStream returns a reader of the file root that starts returning bytes
// while the DAG is still being fetched (leaves arrive roughly in file
// order), so reading and fetching overlap; it waits for each block until
// the store commits it. Its WriteTo writes up to 1 MiB at a time, and
// writes out what it holds before it waits. The blocks stay safe from GC
// until Close, which also stops the fetch.
func (n *Node) OpenStream(ctx context.Context, root cid.Cid) (io.ReadSeekCloser, error) {
	r, err := n.openStream(ctx, root)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (n *Node) openStream(ctx context.Context, root cid.Cid) (*streamReader, error) {
	bg := n.startFetch(ctx, func(ctx context.Context, hold *share.Hold) error {
		return n.fetchHeld(ctx, root, share.FetchOptions{}, hold)
	})
	r, err := share.OpenStream(ctx, bg.src, root)
	if err != nil {
		bg.end(ctx)
		if bg.err != nil {
			return nil, bg.err
		}
		return nil, err
	}
	return &streamReader{Stream: r, fetch: bg}, nil
}
