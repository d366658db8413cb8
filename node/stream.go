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

// streamReader is a file being read while its DAG is fetched. Its WriteTo
// (share.Stream's) is what io.Copy uses.
type streamReader struct {
	*share.Stream
	cancel context.CancelFunc
	wg     *sync.WaitGroup
}

// Close stops the fetch if it still runs and waits for it.
func (s *streamReader) Close() error {
	err := s.Stream.Close()
	s.cancel()
	s.wg.Wait()
	return err
}

// OpenStream returns a reader of the file root that starts returning bytes
// while the DAG is still being fetched (leaves arrive roughly in file
// order), so reading and fetching overlap; it waits for each block until
// the store commits it. Its WriteTo writes up to 1 MiB at a time, and
// writes out what it holds before it waits. Close stops the fetch.
func (n *Node) OpenStream(ctx context.Context, root cid.Cid) (io.ReadSeekCloser, error) {
	r, err := n.openStream(ctx, root)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (n *Node) openStream(ctx context.Context, root cid.Cid) (*streamReader, error) {
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var ferr error
	wg := &sync.WaitGroup{}
	wg.Go(func() {
		defer close(done)
		ferr = n.Fetch(fctx, root, share.FetchOptions{})
	})
	r, err := share.OpenStream(fctx, fetchSource{st: n.blocks, done: done, err: &ferr}, root)
	if err != nil {
		cancel()
		wg.Wait()
		if ferr != nil {
			return nil, ferr
		}
		return nil, err
	}
	return &streamReader{Stream: r, cancel: cancel, wg: wg}, nil
}
