package compute

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sync"

	"github.com/ipfs/go-cid"
)

// errTooLarge means fetched content was over the size allowed for it.
var errTooLarge = errors.New("content over size cap")

// createFlags open a new file for writing inside a unit's directory or the
// cache: exclusively (an existing name, a planted symlink included, is an
// error) and, where the system has it, without following a symlink.
const createFlags = os.O_WRONLY | os.O_CREATE | os.O_EXCL | oNoFollow

// blobCache keeps fetched modules and inputs on disk by CID, least recently
// used first out past a byte budget. Units get hard links (or copies) of
// cached files, so eviction never pulls a file from under a running unit.
// Every file it writes goes through root (the worker's directory), so no
// name, and no symlink planted in the cache or a unit's directory, can
// redirect a write outside it. Safe for concurrent use.
type blobCache struct {
	root   *os.Root // the worker's directory
	dir    string   // the cache, relative to root
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

func newBlobCache(root *os.Root, dir string, budget int64) *blobCache {
	return &blobCache{root: root, dir: dir, budget: budget, lru: list.New(), byCID: map[string]*list.Element{}}
}

func (b *blobCache) has(c cid.Cid) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.byCID[c.KeyString()]
	return ok
}

// sizeOf returns the size of c's cached file, if cached.
func (b *blobCache) sizeOf(c cid.Cid) (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.byCID[c.KeyString()]
	if !ok {
		return 0, false
	}
	return e.Value.(*blobEntry).size, true
}

// fetch puts c's bytes at dst (a new path relative to the root), from the
// cache or from content, and returns their size. Content is asked for at
// most limit bytes; content over limit fails with errTooLarge, as soon as
// content says so or after reading at most limit+1 bytes.
func (b *blobCache) fetch(ctx context.Context, content Content, c cid.Cid, limit int64, dst string) (int64, error) {
	p := path.Join(b.dir, c.String())
	if n, ok := b.touch(c); ok {
		if n > limit {
			return 0, errTooLarge
		}
		if err := linkOrCopy(b.root, p, dst); err == nil {
			return n, nil
		}
		// Evicted meanwhile: fetch again.
	}
	if limit < 0 {
		return 0, errTooLarge
	}
	// A cap of 0 would mean none to Get: ask for 1 byte, read at most 1.
	rc, err := content.Get(ctx, c, max(limit, 1))
	if errors.Is(err, ErrTooLarge) {
		return 0, fmt.Errorf("%w: %w", errTooLarge, err)
	}
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	var rnd [8]byte
	rand.Read(rnd[:])
	tmpName := path.Join(b.dir, "fetch-"+hex.EncodeToString(rnd[:]))
	tmp, err := b.root.OpenFile(tmpName, createFlags, 0o644)
	if err != nil {
		return 0, err
	}
	defer b.root.Remove(tmpName)
	n, err := io.Copy(tmp, io.LimitReader(rc, limit+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, ErrTooLarge) {
		return 0, fmt.Errorf("%w: %w", errTooLarge, err)
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", c, err)
	}
	if n > limit {
		return 0, errTooLarge
	}
	if err := b.root.Rename(tmpName, p); err != nil {
		return 0, err
	}
	if err := linkOrCopy(b.root, p, dst); err != nil {
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
			b.root.Remove(path.Join(b.dir, old.String()))
		}
	}
}

// errNotRegular means a staged file was not a regular file (a symlink
// planted in the cache, say).
var errNotRegular = errors.New("not a regular file")

// linkOrCopy makes dst a hard link to src, or a copy when linking fails,
// both inside root. dst must not exist. A src that is not a regular file
// (a symlink planted in the cache) is refused, never followed.
func linkOrCopy(root *os.Root, src, dst string) error {
	if err := root.Link(src, dst); err == nil {
		// The link is to src's inode, whatever src is now: check it.
		fi, err := root.Lstat(dst)
		if err == nil && fi.Mode().IsRegular() {
			return nil
		}
		root.Remove(dst)
		if err == nil {
			err = fmt.Errorf("stage %s: %w", src, errNotRegular)
		}
		return err
	}
	in, err := root.OpenFile(src, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil {
		return err
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("stage %s: %w", src, errNotRegular)
	}
	out, err := root.OpenFile(dst, createFlags, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
