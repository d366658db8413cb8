package node

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/enxame/enxame/share"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// streamPoll is how often a streaming read looks again for a block the
// fetch has not stored yet.
const streamPoll = 500 * time.Microsecond

// waitGetter reads blocks from the store, waiting for those a concurrent
// fetch has not stored yet. It is safe for concurrent use.
type waitGetter struct {
	st   *share.Store
	done <-chan struct{} // closed when the fetch has ended
	err  *error          // the fetch's error, valid once done is closed
}

func (g waitGetter) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	for {
		blk, err := g.st.Get(ctx, c)
		if err == nil || !ipld.IsNotFound(err) {
			return blk, err
		}
		select {
		case <-g.done:
			if blk, err := g.st.Get(ctx, c); err == nil {
				return blk, nil
			}
			if *g.err != nil {
				return nil, *g.err
			}
			return nil, err
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(streamPoll):
		}
	}
}

// streamReader is a file being read while its DAG is fetched.
type streamReader struct {
	io.ReadSeekCloser
	cancel context.CancelFunc
	wg     *sync.WaitGroup
}

// Close stops the fetch if it still runs and waits for it.
func (s *streamReader) Close() error {
	err := s.ReadSeekCloser.Close()
	s.cancel()
	s.wg.Wait()
	return err
}

// OpenStream returns a reader of the file root that starts returning bytes
// while the DAG is still being fetched (leaves arrive roughly in file
// order), so reading and fetching overlap. Close stops the fetch.
func (n *Node) OpenStream(ctx context.Context, root cid.Cid) (io.ReadSeekCloser, error) {
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var ferr error
	wg := &sync.WaitGroup{}
	wg.Go(func() {
		defer close(done)
		ferr = n.Fetch(fctx, root, share.FetchOptions{})
	})
	r, err := share.NewReader(share.ReaderConfig{}, waitGetter{st: n.blocks, done: done, err: &ferr}).Open(fctx, root)
	if err != nil {
		cancel()
		wg.Wait()
		if ferr != nil {
			return nil, ferr
		}
		return nil, err
	}
	return &streamReader{ReadSeekCloser: r, cancel: cancel, wg: wg}, nil
}
