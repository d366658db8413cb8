// The DAG walk both fetch paths share: the exchange's fetch (fetch.go) and
// the Bitswap fallback (Walk, FetchFallback). Each visits every distinct
// block once: a DAG may link one block many times (a file of zeros, or a
// hostile DAG whose every level links twice to the next, which a walk
// without a seen set pays 2^depth for).

package share

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/verifcid"
	"github.com/ipfs/go-cid"
)

// walkSeen is the set of keys a walk has visited. It is not safe for
// concurrent use.
type walkSeen map[cid.Cid]struct{}

// visit marks k visited and reports whether it was new; a key the walk
// must not follow (a CID outside boxo's allowlist) is an error.
func (w walkSeen) visit(k cid.Cid) (bool, error) {
	if _, ok := w[k]; ok {
		return false, nil
	}
	w[k] = struct{}{}
	if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, k); err != nil {
		return false, fmt.Errorf("link %s: %w", k, err)
	}
	return true, nil
}

// fetchLink is one link of a dag-pb node.
type fetchLink struct {
	key  cid.Cid
	size uint64 // cumulative size (Tsize)
}

// fetchLinks returns the links of a dag-pb block (none for other codecs:
// the walk treats them as leaves).
func fetchLinks(k cid.Cid, data []byte) ([]fetchLink, error) {
	if k.Type() != cid.DagProtobuf {
		return nil, nil
	}
	nd, err := merkledag.DecodeProtobuf(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", k, err)
	}
	links := make([]fetchLink, len(nd.Links()))
	for i, l := range nd.Links() {
		links[i] = fetchLink{key: l.Cid, size: l.Size}
	}
	return links, nil
}

// Links returns the CIDs a dag-pb block links to, in order, as the fetch
// walks follow them; a block of another codec has none. A block that does
// not decode gives an error.
func Links(k cid.Cid, data []byte) ([]cid.Cid, error) {
	ls, err := fetchLinks(k, data)
	if err != nil {
		return nil, fmt.Errorf("share: %w", err)
	}
	out := make([]cid.Cid, len(ls))
	for i, l := range ls {
		out[i] = l.key
	}
	return out, nil
}

// WalkOptions bound a Walk. A zero field means its default.
type WalkOptions struct {
	// Parallel is how many blocks are asked of the getter at once.
	// Default 64.
	Parallel int
	// Wait bounds each Get: a block that does not arrive within it fails
	// the walk. Default 0: no bound but ctx.
	Wait time.Duration
	// MaxBlocks caps the distinct blocks the walk visits; the walk fails
	// with an error wrapping ErrTooLarge past it. Default 0: no cap.
	MaxBlocks int
	// MaxBytes caps the bytes of the distinct blocks the walk gets; the
	// walk fails with an error wrapping ErrTooLarge as soon as they pass
	// it. Default 0: no cap.
	MaxBytes int64
}

// defaultWalkParallel is WalkOptions.Parallel's default.
const defaultWalkParallel = 64

// WalkStats describe a finished (or failed) Walk.
type WalkStats struct {
	// Gets counts the calls of the getter: one per distinct block.
	Gets int
	// Bytes sums the sizes of the blocks got.
	Bytes int64
}

// blockSizer is implemented by getters that can tell a block's size without
// reading it (a Store, or a Hold's Getter over one): Walk asks it, not Get,
// for the leaves it need not decode. A block that is missing gives an error
// matching format.ErrNotFound, as Get does.
type blockSizer interface {
	GetSize(ctx context.Context, c cid.Cid) (int, error)
}

// Walk gets every distinct block of the DAG under root through get, each
// exactly once whatever the number of links to it, up to opts.Parallel at
// once, following the links of dag-pb blocks depth first (other codecs are
// leaves, as in Fetch; when get also has GetSize, as a Store does, a leaf
// is only sized, not read). get is trusted to return the block of the CID asked
// (a *Bitswap, a Store or a Hold's Getter verify it); it must be safe for
// concurrent use. Walk returns the first error of get (wrapped), an error
// wrapping ErrTooLarge when a limit of opts is passed, a decoding error
// for a dag-pb block that does not decode, or ctx's error; it returns
// after every goroutine it started has ended.
func Walk(ctx context.Context, root cid.Cid, get BlockGetter, opts WalkOptions) (WalkStats, error) {
	var st WalkStats
	if opts.Parallel < 0 || opts.MaxBlocks < 0 || opts.MaxBytes < 0 || opts.Wait < 0 {
		return st, errors.New("share: walk: options must be >= 0")
	}
	if opts.Parallel == 0 {
		opts.Parallel = defaultWalkParallel
	}
	seen := walkSeen{}
	if _, err := seen.visit(root); err != nil {
		return st, fmt.Errorf("share: walk %s: %w", root, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type result struct {
		key   cid.Cid
		size  int
		links []fetchLink
		err   error
	}
	jobs := make(chan cid.Cid)
	results := make(chan result)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(jobs)
	defer cancel() // runs first: workers blocked on results return
	for range opts.Parallel {
		wg.Go(func() {
			for c := range jobs {
				r := result{key: c}
				gctx, gcancel := ctx, context.CancelFunc(func() {})
				if opts.Wait > 0 {
					gctx, gcancel = context.WithTimeout(ctx, opts.Wait)
				}
				if sz, ok := get.(blockSizer); ok && c.Type() != cid.DagProtobuf {
					n, err := sz.GetSize(gctx, c)
					if err != nil {
						r.err = fmt.Errorf("get %s: %w", c, err)
					}
					r.size = n
				} else if blk, err := get.Get(gctx, c); err != nil {
					r.err = fmt.Errorf("get %s: %w", c, err)
				} else {
					r.size = len(blk.RawData())
					r.links, r.err = fetchLinks(c, blk.RawData())
				}
				gcancel()
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		})
	}

	pending := []cid.Cid{root} // a stack: depth first
	inflight := 0
	for len(pending) > 0 || inflight > 0 {
		var out chan cid.Cid
		var next cid.Cid
		if len(pending) > 0 {
			out, next = jobs, pending[len(pending)-1]
		}
		select {
		case out <- next:
			pending = pending[:len(pending)-1]
			inflight++
			st.Gets++
		case r := <-results:
			inflight--
			if r.err != nil {
				return st, fmt.Errorf("share: walk %s: %w", root, r.err)
			}
			st.Bytes += int64(r.size)
			if opts.MaxBytes > 0 && st.Bytes > opts.MaxBytes {
				return st, fmt.Errorf("share: walk %s: more than %d bytes: %w", root, opts.MaxBytes, ErrTooLarge)
			}
			for i := len(r.links) - 1; i >= 0; i-- {
				k := r.links[i].key
				fresh, err := seen.visit(k)
				if err != nil {
					return st, fmt.Errorf("share: walk %s: in %s: %w", root, r.key, err)
				}
				if !fresh {
					continue
				}
				if opts.MaxBlocks > 0 && len(seen) > opts.MaxBlocks {
					return st, fmt.Errorf("share: walk %s: more than %d blocks: %w", root, opts.MaxBlocks, ErrTooLarge)
				}
				pending = append(pending, k)
			}
		case <-ctx.Done():
			return st, fmt.Errorf("share: walk %s: %w", root, ctx.Err())
		}
	}
	return st, nil
}
