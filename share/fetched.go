package share

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// fetchedPrefix keys the roots a Service shares back because it fetched
// them (ServiceConfig.Provide "fetched"): fetchedPrefix + CID string, in the
// store's index beside the pins, so that they survive a restart.
const fetchedPrefix = "/f/"

func fetchedKey(c cid.Cid) ds.Key { return ds.RawKey(fetchedPrefix + c.String()) }

// MarkFetched records c as the root of a DAG fetched from the swarm, and
// reports whether it was not recorded yet. The mark does not keep the
// blocks from GC: it only says what the peer announces while it has them.
func (s *Store) MarkFetched(ctx context.Context, c cid.Cid) (bool, error) {
	done, err := s.enter()
	if err != nil {
		return false, err
	}
	defer done()
	ok, err := s.idx.Has(ctx, fetchedKey(c))
	if err != nil {
		return false, fmt.Errorf("share: mark fetched %s: %w", c, err)
	}
	if ok {
		return false, nil
	}
	if err := s.idx.Put(ctx, fetchedKey(c), nil); err != nil {
		return false, fmt.Errorf("share: mark fetched %s: %w", c, err)
	}
	return true, nil
}

// UnmarkFetched removes c's fetched mark, if any.
func (s *Store) UnmarkFetched(ctx context.Context, c cid.Cid) error {
	done, err := s.enter()
	if err != nil {
		return err
	}
	defer done()
	if err := s.idx.Delete(ctx, fetchedKey(c)); err != nil {
		return fmt.Errorf("share: unmark fetched %s: %w", c, err)
	}
	return nil
}

// FetchedRoots returns the roots marked fetched, in key order, whether or
// not their blocks are still stored.
func (s *Store) FetchedRoots(ctx context.Context) ([]cid.Cid, error) {
	done, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	res, err := s.idx.Query(ctx, query.Query{Prefix: fetchedPrefix, KeysOnly: true})
	if err != nil {
		return nil, fmt.Errorf("share: list fetched: %w", err)
	}
	defer res.Close()
	var out []cid.Cid
	for r, ok := res.NextSync(); ok; r, ok = res.NextSync() {
		if r.Error != nil {
			return nil, fmt.Errorf("share: list fetched: %w", r.Error)
		}
		c, err := cid.Decode(strings.TrimPrefix(r.Key, fetchedPrefix))
		if err != nil {
			return nil, fmt.Errorf("share: list fetched: bad key %q: %w", r.Key, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Complete reports whether every block of the DAG under root is stored,
// following links as Pin does.
func (s *Store) Complete(ctx context.Context, root cid.Cid) (bool, error) {
	done, err := s.enter()
	if err != nil {
		return false, err
	}
	defer done()
	err = s.walk(ctx, root, func(b cid.Cid) error {
		ok, err := s.hasLocked(ctx, b)
		if err != nil {
			return err
		}
		if !ok {
			return &IncompleteError{Root: root, Missing: b}
		}
		return nil
	})
	if ie := (*IncompleteError)(nil); errors.As(err, &ie) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("share: check %s: %w", root, err)
	}
	return true, nil
}
