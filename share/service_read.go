// The Service's fetches: Fetch and FetchHeld make a DAG local (with the
// Bitswap fallback, fallback.go); Open reads a file once fetched;
// OpenStream and Get read and write a file while it is fetched.

package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Fetch makes the whole DAG under root local, fetching what is missing from
// the swarm (several providers at once, every block verified). It returns
// at once when the DAG is already complete. When no enxame peer provides
// it, it falls back to Bitswap (IPFS peers such as Kubo) within the same
// deadline (Exchange.FetchFallback): the fetch fails with an error wrapping
// ErrNoProviders once nothing has arrived for opts.NoProvidersTimeout (or
// the exchange's NoProvidersTimeout), whichever protocol it was waiting on.
// The blocks are protected from GC only while Fetch runs: pin the root to
// keep them. A fetched DAG is shared back (ServiceConfig.Provide) unless
// opts.NoShare.
func (s *Service) Fetch(ctx context.Context, root cid.Cid, opts FetchOptions) error {
	if err := s.ex.FetchFallback(ctx, s.bs, root, opts, nil); err != nil {
		return err
	}
	s.shareBack(ctx, root, opts)
	return nil
}

// errIncomplete says that a block of a fetched DAG was gone before hold
// could take it (a GC ran between the fetch's end and the hold).
var errIncomplete = errors.New("fetched DAG lost a block before it was held")

// FetchHeld is Fetch that, when it succeeds, leaves every block of the DAG
// in hold, taken before the fetch lets go of its own holds, so that a GC
// cannot remove a block the caller is about to read. The caller releases
// hold (also after an error: hold may hold part of the DAG). Should a block
// be gone before hold took it (a GC between the fetch's end and the hold,
// were the exchange to release before it reports Done), it fetches again,
// up to three times.
func (s *Service) FetchHeld(ctx context.Context, root cid.Cid, opts FetchOptions, hold *Hold) error {
	tr := s.transfers.start(root) // listed by Transfers
	defer s.transfers.end(tr)
	progress := opts.Progress
	for try := 1; ; try++ {
		held := false
		var herr error
		o := opts
		// The fetch reports Done while it still holds every block of the
		// DAG: hold them from there.
		o.Progress = func(p Progress) {
			s.transfers.update(tr, p)
			if p.Done && !held {
				held, herr = true, s.holdDAG(ctx, root, hold)
			}
			if progress != nil {
				progress(p)
			}
		}
		if err := s.ex.FetchFallback(ctx, s.bs, root, o, hold); err != nil {
			return err
		}
		if !held {
			herr = s.holdDAG(ctx, root, hold)
		}
		if herr == nil {
			s.shareBack(ctx, root, opts)
		}
		if !errors.Is(herr, errIncomplete) || try == 3 {
			return herr
		}
		// The blocks held so far stay held; fetch what went missing.
		s.log.Debug("fetch: a block went before it was held; fetching again", "cid", root)
	}
}

// holdDAG adds every block of the DAG under root to hold with Walk (dag-pb
// links, as the fetch follows them; leaves only sized, not read), each
// held before it is checked, the order that makes a hold race-free against
// GC. It returns an error wrapping errIncomplete if a block is missing.
func (s *Service) holdDAG(ctx context.Context, root cid.Cid, hold *Hold) error {
	_, err := Walk(ctx, root, hold.Getter(s.store), WalkOptions{})
	if ipld.IsNotFound(err) {
		return fmt.Errorf("hold %s: %w: %w", root, errIncomplete, err)
	}
	if err != nil {
		return fmt.Errorf("hold %s: %w", root, err)
	}
	return nil
}

// Open returns a reader of the file root, fetching its DAG from the swarm
// first when it is not complete here. The blocks stay safe from GC until
// the reader is closed.
func (s *Service) Open(ctx context.Context, root cid.Cid) (io.ReadSeekCloser, error) {
	return s.OpenCapped(ctx, root, 0)
}

// OpenCapped is Open of a file of at most maxBytes (0: no cap): the fetch
// fails with an error wrapping ErrTooLarge as soon as the root's declared
// size or the bytes received pass maxBytes, and so does a file already here
// that is larger.
func (s *Service) OpenCapped(ctx context.Context, root cid.Cid, maxBytes int64) (io.ReadSeekCloser, error) {
	hold := s.store.NewHold()
	if err := s.FetchHeld(ctx, root, FetchOptions{MaxBytes: maxBytes}, hold); err != nil {
		hold.Release()
		return nil, err
	}
	r, err := s.store.Open(ctx, root)
	if err != nil {
		hold.Release()
		return nil, fmt.Errorf("open %s: %w", root, err)
	}
	if maxBytes > 0 && int64(r.Size()) > maxBytes {
		r.Close()
		hold.Release()
		return nil, fmt.Errorf("open %s: %d bytes over %d: %w", root, r.Size(), maxBytes, ErrTooLarge)
	}
	return heldReader{r, hold}, nil
}

// heldReader is a reader of a DAG whose blocks hold keeps until Close.
type heldReader struct {
	uio.DagReader
	hold *Hold
}

func (r heldReader) Close() error {
	err := r.DagReader.Close()
	r.hold.Release()
	return err
}

// fetchSource is a StreamSource over the store that a concurrent fetch
// fills: it waits for a block until the store commits it (Added, no
// polling) or the fetch ends. It is safe for concurrent use.
type fetchSource struct {
	st   *Store
	done <-chan struct{} // closed when the fetch has ended
	err  *error          // the fetch's error, valid once done is closed
}

func (f fetchSource) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	return f.st.Get(ctx, c)
}

func (f fetchSource) ReadInto(ctx context.Context, c cid.Cid, p []byte) (int, error) {
	return f.st.ReadInto(ctx, c, p)
}

// Wait returns nil once the block of c is stored, or the fetch's error (an
// error matching ipld.ErrNotFound if the fetch ended well without it).
func (f fetchSource) Wait(ctx context.Context, c cid.Cid) error {
	for {
		added := f.st.Added()
		if ok, err := f.st.Has(ctx, c); err != nil || ok {
			return err
		}
		select {
		case <-added:
		case <-f.done:
			if ok, err := f.st.Has(ctx, c); err != nil || ok {
				return err
			}
			if *f.err != nil {
				return *f.err
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
	hold   *Hold
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startFetch runs FetchHeld of root with opts in a goroutine that the
// returned bgFetch owns.
func (s *Service) startFetch(ctx context.Context, root cid.Cid, opts FetchOptions) *bgFetch {
	fctx, cancel := context.WithCancel(ctx)
	b := &bgFetch{done: make(chan struct{}), hold: s.store.NewHold(), cancel: cancel}
	b.src = fetchSource{st: s.store, done: b.done, err: &b.err}
	b.wg.Go(func() {
		defer close(b.done)
		b.err = s.FetchHeld(fctx, root, opts, b.hold)
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

// FetchStream is a file being read while its DAG is fetched (OpenStream).
// Its WriteTo (Stream's) is what io.Copy uses.
type FetchStream struct {
	*Stream
	fetch *bgFetch
}

// Fetched returns a channel closed when the fetch behind f has ended (the
// DAG is local, or the fetch failed or was stopped).
func (f *FetchStream) Fetched() <-chan struct{} { return f.fetch.done }

// Close stops the fetch if it still runs, waits for it and lets GC have
// the blocks again.
func (f *FetchStream) Close() error {
	err := f.Stream.Close()
	f.fetch.stop()
	return err
}

// OpenStream returns a reader of the file root that starts returning bytes
// while the DAG is still being fetched (leaves arrive roughly in file
// order), so reading and fetching overlap; it waits for each block until
// the store commits it. Its WriteTo writes up to 1 MiB at a time, and
// writes out what it holds before it waits. The blocks stay safe from GC
// until Close, which also stops the fetch.
func (s *Service) OpenStream(ctx context.Context, root cid.Cid) (*FetchStream, error) {
	bg := s.startFetch(ctx, root, FetchOptions{})
	r, err := OpenStream(ctx, bg.src, root)
	if err != nil {
		bg.end(ctx)
		if bg.err != nil {
			return nil, bg.err
		}
		return nil, err
	}
	return &FetchStream{Stream: r, fetch: bg}, nil
}

// GetOptions are the options of Service.Get.
type GetOptions struct {
	// MaxBytes, when not zero, caps the size the DAG declares and the
	// bytes fetched (FetchOptions.MaxBytes).
	MaxBytes int64
	// Progress receives the fetch's progress (FetchOptions.Progress); it
	// must not block.
	Progress func(Progress)
	// NoShare keeps the fetched DAG from being shared back
	// (FetchOptions.NoShare).
	NoShare bool
}

// Get fetches root and writes it to dst. A file is written while it is
// fetched (WriteStream: in order, into a temporary file renamed when
// complete), so it is on disk when the fetch ends; a directory or symlink
// is written once its DAG is local. Every write goes through an os.Root of
// dst's directory and refuses unsafe directory entries (ErrUnsafeEntry).
// opts.MaxBytes, when not zero, caps the size the DAG declares and the
// bytes fetched; the declared size must also fit in the free space of
// dst's file system (ErrTooLarge). The blocks stay safe from GC until the
// write returns.
func (s *Service) Get(ctx context.Context, root cid.Cid, dst string, opts GetOptions) error {
	bg := s.startFetch(ctx, root, FetchOptions{MaxBytes: opts.MaxBytes, Progress: opts.Progress, NoShare: opts.NoShare})
	wopts := WriteFileOptions{MaxBytes: opts.MaxBytes}
	err := WriteStream(ctx, bg.src, root, dst, wopts)
	if IsNotFile(err) {
		<-bg.done
		defer bg.stop()
		if bg.err != nil {
			return bg.err
		}
		return s.store.WriteToOptions(ctx, root, dst, wopts)
	}
	if err != nil {
		// A failed fetch reached err through src.Wait; when the deadline
		// passed, the fetch's error says after how long.
		bg.end(ctx)
		if ctx.Err() != nil && bg.err != nil {
			return bg.err
		}
		return err
	}
	// Every block is written: the fetch is ending on its own.
	bg.wait()
	return nil
}
