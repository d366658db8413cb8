package share

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	format "github.com/ipfs/go-ipld-format"
	_ "github.com/ipld/go-ipld-prime/codec/dagcbor" // registers dag-cbor for link walks
	_ "github.com/ipld/go-ipld-prime/codec/dagjson" // registers dag-json for link walks
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/multicodec"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/ipld/go-ipld-prime/traversal"
)

// ErrNotPinned is returned by Unpin for a CID that is not pinned.
var ErrNotPinned = errors.New("share: not pinned")

// IncompleteError reports a DAG that is not complete in the local store:
// Pin and ImportCAR return it (wrapped) when a block under the root is
// missing. Pin a fetched DAG only after the fetch completes.
type IncompleteError struct {
	Root    cid.Cid
	Missing cid.Cid
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("share: dag %s is incomplete locally: block %s missing", e.Root, e.Missing)
}

func pinKey(c cid.Cid) ds.Key { return ds.RawKey(pinPrefix + c.String()) }

// Pin pins the DAG under c recursively and persistently: GC keeps every
// block reachable from c. The whole DAG must be in the store, else Pin
// returns an *IncompleteError and pins nothing. Pinning a pinned CID is not
// an error. The blocks are held while Pin walks them, so a concurrent GC
// cannot remove them between the walk and the pin.
func (s *Store) Pin(ctx context.Context, c cid.Cid) error {
	done, err := s.enter()
	if err != nil {
		return err
	}
	defer done()
	h := s.NewHold()
	defer h.Release()
	err = s.walk(ctx, c, func(b cid.Cid) error {
		h.Add(b)
		ok, err := s.hasLocked(ctx, b)
		if err != nil {
			return err
		}
		if !ok {
			return &IncompleteError{Root: c, Missing: b}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("share: pin %s: %w", c, err)
	}
	return s.putPin(ctx, c)
}

func (s *Store) putPin(ctx context.Context, c cid.Cid) error {
	if err := s.idx.Put(ctx, pinKey(c), nil); err != nil {
		return fmt.Errorf("share: pin %s: %w", c, err)
	}
	if err := s.idx.Sync(ctx, ds.RawKey("/p")); err != nil {
		return fmt.Errorf("share: pin %s: sync: %w", c, err)
	}
	return nil
}

// hasLocked is Has for callers already inside enter.
func (s *Store) hasLocked(ctx context.Context, c cid.Cid) (bool, error) {
	if isIdentity(c) {
		return true, nil
	}
	_, ok, err := s.lookup(ctx, c.Hash())
	return ok, err
}

// Unpin removes the pin of c; its blocks become garbage for the next GC
// unless another pin reaches them. It returns ErrNotPinned if c is not
// pinned.
func (s *Store) Unpin(ctx context.Context, c cid.Cid) error {
	done, err := s.enter()
	if err != nil {
		return err
	}
	defer done()
	ok, err := s.idx.Has(ctx, pinKey(c))
	if err != nil {
		return fmt.Errorf("share: unpin %s: %w", c, err)
	}
	if !ok {
		return fmt.Errorf("share: unpin %s: %w", c, ErrNotPinned)
	}
	if err := s.idx.Delete(ctx, pinKey(c)); err != nil {
		return fmt.Errorf("share: unpin %s: %w", c, err)
	}
	return nil
}

// IsPinned reports whether c is a pinned root (not whether a pin reaches it).
func (s *Store) IsPinned(ctx context.Context, c cid.Cid) (bool, error) {
	done, err := s.enter()
	if err != nil {
		return false, err
	}
	defer done()
	ok, err := s.idx.Has(ctx, pinKey(c))
	if err != nil {
		return false, fmt.Errorf("share: is pinned %s: %w", c, err)
	}
	return ok, nil
}

// Pins returns the pinned roots, sorted by their binary CID.
func (s *Store) Pins(ctx context.Context) ([]cid.Cid, error) {
	done, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	return s.pins(ctx)
}

func (s *Store) pins(ctx context.Context) ([]cid.Cid, error) {
	res, err := s.idx.Query(ctx, query.Query{Prefix: pinPrefix, KeysOnly: true})
	if err != nil {
		return nil, fmt.Errorf("share: list pins: %w", err)
	}
	defer res.Close()
	var out []cid.Cid
	for r, ok := res.NextSync(); ok; r, ok = res.NextSync() {
		if r.Error != nil {
			return nil, fmt.Errorf("share: list pins: %w", r.Error)
		}
		c, err := cid.Decode(strings.TrimPrefix(r.Key, pinPrefix))
		if err != nil {
			return nil, fmt.Errorf("share: list pins: bad key %q: %w", r.Key, err)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Bytes(), out[j].Bytes()) < 0 })
	return out, nil
}

// walk visits every CID of the DAG under root once, depth first in link
// order (pre-order), calling visit before it reads the block. Raw blocks
// are never read (they have no links). A missing non-raw block ends the
// walk with an *IncompleteError unless visit returned one first.
func (s *Store) walk(ctx context.Context, root cid.Cid, visit func(cid.Cid) error) error {
	seen := map[string]struct{}{}
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := seen[c.KeyString()]; ok {
			continue
		}
		seen[c.KeyString()] = struct{}{}
		if err := visit(c); err != nil {
			return err
		}
		if c.Prefix().Codec == cid.Raw || isIdentity(c) {
			continue
		}
		b, err := s.get(ctx, c)
		if format.IsNotFound(err) {
			return &IncompleteError{Root: root, Missing: c}
		}
		if err != nil {
			return err
		}
		ls, err := blockLinks(b)
		if err != nil {
			return err
		}
		for i := len(ls) - 1; i >= 0; i-- {
			stack = append(stack, ls[i])
		}
	}
	return nil
}

// blockLinks returns the CIDs a block links to, in order: dag-pb and raw
// natively, other codecs through go-ipld-prime's registry (dag-cbor,
// dag-json). A block of an unknown codec has no links as far as pins and GC
// are concerned.
func blockLinks(b blocks.Block) ([]cid.Cid, error) {
	c := b.Cid()
	switch c.Prefix().Codec {
	case cid.Raw:
		return nil, nil
	case cid.DagProtobuf:
		nd, err := dag.DecodeProtobuf(b.RawData())
		if err != nil {
			return nil, fmt.Errorf("share: decode %s: %w", c, err)
		}
		out := make([]cid.Cid, 0, len(nd.Links()))
		for _, l := range nd.Links() {
			out = append(out, l.Cid)
		}
		return out, nil
	}
	dec, err := multicodec.LookupDecoder(c.Prefix().Codec)
	if err != nil {
		return nil, nil
	}
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := dec(nb, bytes.NewReader(b.RawData())); err != nil {
		return nil, fmt.Errorf("share: decode %s: %w", c, err)
	}
	ls, err := traversal.SelectLinks(nb.Build())
	if err != nil {
		return nil, fmt.Errorf("share: links of %s: %w", c, err)
	}
	out := make([]cid.Cid, 0, len(ls))
	for _, l := range ls {
		if cl, ok := l.(cidlink.Link); ok {
			out = append(out, cl.Cid)
		}
	}
	return out, nil
}
