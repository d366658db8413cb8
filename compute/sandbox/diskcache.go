package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// DefaultMaxCacheBytes is Config.MaxCacheBytes's default: wazero's code for
// a Go-built module is a few times the module's size (a 2.9 MB module
// takes about 10 MB), so 1 GiB holds about a hundred typical modules, and a
// module evicted costs one compilation (seconds) when it comes back.
const DefaultMaxCacheBytes = 1 << 30

// cacheEntryPrefix starts the name of each module's directory in the
// compilation cache.
const cacheEntryPrefix = "m-"

// The on-disk compilation cache holds one directory per module, named
// after the module's hash, each a wazero cache of its own: wazero's cache
// is a directory of files named by a key it does not expose, so one
// directory per module is what lets the sandbox know which entry a unit
// used. A child marks an entry used by setting its directory's
// modification time, and after each compilation removes the least
// recently used entries until the cache fits its cap. Children share the
// cache: an entry is removed by renaming it away first, and a child whose
// entry vanished while it compiled compiles again without the disk cache.

// moduleCacheDir returns the cache directory of module b under dir.
func moduleCacheDir(dir string, b []byte) string {
	sum := sha256.Sum256(b)
	return filepath.Join(dir, cacheEntryPrefix+hex.EncodeToString(sum[:16]))
}

// moduleRuntime returns a runtime whose compilation cache is entry, with
// WASI instantiated, and marks entry used.
func moduleRuntime(ctx context.Context, rc wazero.RuntimeConfig, entry string) (wazero.Runtime, wazero.CompilationCache, error) {
	cache, err := wazero.NewCompilationCacheWithDir(entry)
	if err != nil {
		return nil, nil, fmt.Errorf("open compilation cache %s: %w", entry, err)
	}
	now := time.Now()
	if err := os.Chtimes(entry, now, now); err != nil {
		cache.Close(ctx)
		return nil, nil, fmt.Errorf("mark cache entry used: %w", err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc.WithCompilationCache(cache))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		cache.Close(ctx)
		return nil, nil, fmt.Errorf("instantiate wasi: %w", err)
	}
	return rt, cache, nil
}

// cacheEntry is one module's directory in the cache.
type cacheEntry struct {
	path  string
	bytes int64
	used  time.Time
}

// cacheEntries lists the entries of the cache dir.
func cacheEntries(dir string) ([]cacheEntry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var entries []cacheEntry
	for _, de := range des {
		if !de.IsDir() || !strings.HasPrefix(de.Name(), cacheEntryPrefix) {
			continue
		}
		e := cacheEntry{path: filepath.Join(dir, de.Name())}
		info, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		e.used = info.ModTime()
		filepath.WalkDir(e.path, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					e.bytes += fi.Size()
				}
			}
			return nil
		})
		entries = append(entries, e)
	}
	return entries, nil
}

// evictCache removes the least recently used entries of the cache dir
// until their total size is at most max bytes; ties go by path. It returns
// the total left. Safe to run in several processes at once.
func evictCache(dir string, max int64) (int64, error) {
	entries, err := cacheEntries(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range entries {
		total += e.bytes
	}
	sort.Slice(entries, func(i, j int) bool {
		if !entries[i].used.Equal(entries[j].used) {
			return entries[i].used.Before(entries[j].used)
		}
		return entries[i].path < entries[j].path
	})
	var errs []error
	for _, e := range entries {
		if total <= max {
			break
		}
		// Renamed first: another process compiling into it sees it gone at
		// once rather than half removed, and two evictors do not both
		// count it.
		trash, err := os.MkdirTemp(dir, ".evicted-")
		if err != nil {
			return total, err
		}
		err = os.Rename(e.path, filepath.Join(trash, "entry"))
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			total -= e.bytes
		} else {
			errs = append(errs, err)
		}
		if err := os.RemoveAll(trash); err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}
