package compute

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/ipfs/go-cid"
)

// errTooLarge means fetched content was over the size allowed for it.
var errTooLarge = errors.New("content over size cap")

// blobCache keeps fetched modules and inputs on disk by CID, least recently
// used first out past a byte budget. Units get hard links (or copies) of
// cached files, so eviction never pulls a file from under a running unit.
// Safe for concurrent use.
type blobCache struct {
	dir    string
	budget int64

	mu    sync.Mutex
	size  int64
	lru   *list.List // of *blobEntry, most recent at the front
	byCID map[string]*list.Element
}

type blobEntry struct {
	key  string
	size int64
}

func newBlobCache(dir string, budget int64) *blobCache {
	return &blobCache{dir: dir, budget: budget, lru: list.New(), byCID: map[string]*list.Element{}}
}

func (b *blobCache) has(c cid.Cid) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.byCID[c.KeyString()]
	return ok
}

// fetch puts c's bytes at dst (a new path), from the cache or from content,
// and returns their size. Content over max bytes fails with errTooLarge
// after reading at most max+1 bytes.
func (b *blobCache) fetch(ctx context.Context, content Content, c cid.Cid, max int64, dst string) (int64, error) {
	path := filepath.Join(b.dir, c.String())
	if n, ok := b.touch(c); ok {
		if n > max {
			return 0, errTooLarge
		}
		if err := linkOrCopy(path, dst); err == nil {
			return n, nil
		}
		// Evicted meanwhile: fetch again.
	}
	rc, err := content.Get(ctx, c)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(b.dir, "fetch-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(rc, max+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", c, err)
	}
	if n > max {
		return 0, errTooLarge
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, err
	}
	if err := linkOrCopy(path, dst); err != nil {
		return 0, err
	}
	b.add(c, n)
	return n, nil
}

func (b *blobCache) touch(c cid.Cid) (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.byCID[c.KeyString()]
	if !ok {
		return 0, false
	}
	b.lru.MoveToFront(e)
	return e.Value.(*blobEntry).size, true
}

func (b *blobCache) add(c cid.Cid, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := c.KeyString()
	if e, ok := b.byCID[k]; ok {
		b.lru.MoveToFront(e)
		return
	}
	b.byCID[k] = b.lru.PushFront(&blobEntry{key: k, size: n})
	b.size += n
	for b.size > b.budget && b.lru.Len() > 1 {
		e := b.lru.Back()
		be := e.Value.(*blobEntry)
		b.lru.Remove(e)
		delete(b.byCID, be.key)
		b.size -= be.size
		if old, err := cid.Cast([]byte(be.key)); err == nil {
			os.Remove(filepath.Join(b.dir, old.String()))
		}
	}
}

// linkOrCopy makes dst a hard link to src, or a copy when linking fails.
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
