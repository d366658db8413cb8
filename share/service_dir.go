// The Service's directory operations for compute: building a directory of
// existing DAGs (PutDir), keeping a fetched DAG (Keep) and fetching a
// directory to list it (FetchList).

package share

import (
	"context"
	"errors"
	"fmt"

	"github.com/enxame/enxame/share/wire"
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	cid "github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// Link is one entry of a directory PutDir builds: the DAG CID called Name.
type Link struct {
	Name string
	CID  cid.Cid
}

// PutDir stores a UnixFS directory (one dag-pb block) of links, fetches
// whatever of its entries is not here yet (an input given by CID, an output
// still on its way from its worker), pins it and announces it. The caller
// checks the names.
func (s *Service) PutDir(ctx context.Context, links []Link) (cid.Cid, error) {
	nd, err := DirNode(links, func(k cid.Cid) uint64 { return s.treeSize(ctx, k) })
	if err != nil {
		return cid.Undef, err
	}
	hold := s.store.NewHold()
	defer hold.Release()
	hold.Add(nd.Cid())
	if err := s.store.Put(ctx, nd); err != nil {
		return cid.Undef, fmt.Errorf("put directory: %w", err)
	}
	err = s.store.Pin(ctx, nd.Cid())
	if ie := (*IncompleteError)(nil); errors.As(err, &ie) {
		// Fetch each entry from its own providers: nobody else has the
		// new directory's root to be found by.
		err = nil
		for _, e := range links {
			if err = s.FetchHeld(ctx, e.CID, FetchOptions{}, hold); err != nil {
				err = fmt.Errorf("entry %q: %w", e.Name, err)
				break
			}
		}
		if err == nil {
			err = s.store.Pin(ctx, nd.Cid())
		}
	}
	if err != nil {
		return cid.Undef, fmt.Errorf("put directory %s: %w", nd.Cid(), err)
	}
	s.Announce(nd.Cid())
	return nd.Cid(), nil
}

// DirNode is the UnixFS directory block of links, sizeOf giving each
// entry's cumulative size. It fails when the block is over the size a peer
// may send (wire.MaxBlockSize): nobody could fetch it, and a reduce unit
// reads its job's outputs from it (compute.MaxUnits keeps a job's result
// directory under it).
func DirNode(links []Link, sizeOf func(cid.Cid) uint64) (*merkledag.ProtoNode, error) {
	nd := ft.EmptyDirNode()
	if err := nd.SetCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256}); err != nil {
		return nil, fmt.Errorf("put directory: %w", err)
	}
	for _, e := range links {
		if err := nd.AddRawLink(e.Name, &ipld.Link{Name: e.Name, Cid: e.CID, Size: sizeOf(e.CID)}); err != nil {
			return nil, fmt.Errorf("put directory: entry %q: %w", e.Name, err)
		}
	}
	if n := len(nd.RawData()); n > wire.MaxBlockSize {
		return nil, fmt.Errorf("put directory: %d entries make a block of %d bytes, over the %d a peer may send", len(links), n, wire.MaxBlockSize)
	}
	return nd, nil
}

// treeSize is the cumulative size of the DAG at k as a link records it
// (block sizes and their links'), from its root block when it is here; 0
// when not.
func (s *Service) treeSize(ctx context.Context, k cid.Cid) uint64 {
	b, err := s.store.Get(ctx, k)
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

// Keep fetches root's DAG (at most maxBytes; over it, an error wrapping
// ErrTooLarge) and pins it.
func (s *Service) Keep(ctx context.Context, root cid.Cid, maxBytes int64) error {
	hold := s.store.NewHold()
	defer hold.Release()
	if err := s.FetchHeld(ctx, root, FetchOptions{MaxBytes: maxBytes}, hold); err != nil {
		return err
	}
	return s.store.Pin(ctx, root)
}

// FetchList fetches the directory root's DAG (at most maxBytes; over it,
// an error wrapping ErrTooLarge) and lists it.
func (s *Service) FetchList(ctx context.Context, root cid.Cid, maxBytes int64) ([]Entry, error) {
	hold := s.store.NewHold()
	defer hold.Release()
	if err := s.FetchHeld(ctx, root, FetchOptions{MaxBytes: maxBytes}, hold); err != nil {
		return nil, err
	}
	return s.store.List(ctx, root)
}
