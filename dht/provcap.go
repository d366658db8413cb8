package dht

import (
	"context"

	"fmt"
	"strings"
	"sync"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-base32"
)

// providersPrefix is where kad-dht's provider manager keeps its records:
// /providers/<base32 key>/<base32 peer ID>.
const providersPrefix = "/providers/"

// provCap is the provider datastore of the DHT: it passes everything to ds
// but drops (silently, as a full store would) a new provider record past
// maxPerPeer records of one peer or maxPerKey providers of one key, so
// that one peer announcing without end cannot fill this node's memory or
// disk. (kad-dht v0.42 takes no custom ProviderStore; its provider manager
// writes every record through this datastore, in batches, and its own
// write buffer is bounded.) A refreshed record (a reprovide) is not new.
// It is safe for concurrent use.
type provCap struct {
	ds.Batching
	maxPerPeer, maxPerKey int

	mu      sync.Mutex
	perPeer map[string]int // records per base32 peer ID
	perKey  map[string]int // records per base32 key
}

// newProvCap wraps d, counting the provider records it already holds.
func newProvCap(ctx context.Context, d ds.Batching, maxPerPeer, maxPerKey int) (*provCap, error) {
	c := &provCap{Batching: d, maxPerPeer: maxPerPeer, maxPerKey: maxPerKey,
		perPeer: make(map[string]int), perKey: make(map[string]int)}
	res, err := d.Query(ctx, dsq.Query{Prefix: providersPrefix, KeysOnly: true})
	if err != nil {
		return nil, fmt.Errorf("count provider records: %w", err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return nil, fmt.Errorf("count provider records: %w", r.Error)
		}
		if k, p, ok := splitProvKey(r.Key); ok {
			c.perKey[k]++
			c.perPeer[p]++
		}
	}
	return c, nil
}

// splitProvKey returns the key and peer parts of a provider record's key.
func splitProvKey(key string) (k, p string, ok bool) {
	rest, found := strings.CutPrefix(key, providersPrefix)
	if !found {
		return "", "", false
	}
	k, p, ok = strings.Cut(rest, "/")
	return k, p, ok && k != "" && p != "" && !strings.Contains(p, "/")
}

// admit reports whether a put of key may go through, counting it when it
// adds a record. staged holds the keys put earlier in the same batch.
func (c *provCap) admit(ctx context.Context, key ds.Key, staged map[ds.Key]bool) (bool, error) {
	k, p, ok := splitProvKey(key.String())
	if !ok {
		return true, nil
	}
	if staged[key] {
		return true, nil
	}
	has, err := c.Batching.Has(ctx, key)
	if err != nil {
		return false, err
	}
	if has {
		return true, nil // a refresh
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.perPeer[p] >= c.maxPerPeer || c.perKey[k] >= c.maxPerKey {
		return false, nil
	}
	c.perPeer[p]++
	c.perKey[k]++
	if staged != nil {
		staged[key] = true
	}
	return true, nil
}

// forget uncounts a record that is deleted.
func (c *provCap) forget(ctx context.Context, key ds.Key) error {
	k, p, ok := splitProvKey(key.String())
	if !ok {
		return nil
	}
	has, err := c.Batching.Has(ctx, key)
	if err != nil || !has {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	dec := func(m map[string]int, s string) {
		if m[s]--; m[s] <= 0 {
			delete(m, s)
		}
	}
	dec(c.perPeer, p)
	dec(c.perKey, k)
	return nil
}

// Put stores value unless it is a provider record past a cap.
func (c *provCap) Put(ctx context.Context, key ds.Key, value []byte) error {
	ok, err := c.admit(ctx, key, nil)
	if err != nil || !ok {
		return err
	}
	return c.Batching.Put(ctx, key, value)
}

// Delete deletes key, uncounting a provider record.
func (c *provCap) Delete(ctx context.Context, key ds.Key) error {
	if err := c.forget(ctx, key); err != nil {
		return err
	}
	return c.Batching.Delete(ctx, key)
}

// Batch returns a batch whose puts and deletes are capped and counted as
// Put's and Delete's (counted when staged: a failed commit leaves the
// counts high, which errs on the side of refusing).
func (c *provCap) Batch(ctx context.Context) (ds.Batch, error) {
	b, err := c.Batching.Batch(ctx)
	if err != nil {
		return nil, err
	}
	return &provCapBatch{Batch: b, c: c, staged: make(map[ds.Key]bool)}, nil
}

type provCapBatch struct {
	ds.Batch
	c      *provCap
	staged map[ds.Key]bool
}

func (b *provCapBatch) Put(ctx context.Context, key ds.Key, value []byte) error {
	ok, err := b.c.admit(ctx, key, b.staged)
	if err != nil || !ok {
		return err
	}
	return b.Batch.Put(ctx, key, value)
}

func (b *provCapBatch) Delete(ctx context.Context, key ds.Key) error {
	if err := b.c.forget(ctx, key); err != nil {
		return err
	}
	delete(b.staged, key)
	return b.Batch.Delete(ctx, key)
}

// encodePeer returns p as it appears in a provider record's key.
func encodePeer(p peer.ID) string { return base32.RawStdEncoding.EncodeToString([]byte(p)) }
