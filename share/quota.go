package share

import (
	"context"
	"errors"
	"fmt"
	"slices"

	blocks "github.com/ipfs/go-block-format"
)

// ErrStoreFull is returned (wrapped) by a write that would take the store
// past its quota (StoreConfig.MaxBytes) although every block it could
// remove is gone: what is left is pinned or held by an operation in
// progress. The error says how much is stored and how to make room.
var ErrStoreFull = errors.New("share: store full")

// storeLowWater is the fraction of the quota an automatic GC frees down
// to, so that a store at its quota does not collect on every write.
const storeLowWater = 0.9

// putAttempts bounds how often a write that found the store over its quota
// collects and tries again (concurrent writers may take the room a GC
// made).
const putAttempts = 3

// StoreUsage is what a Store holds against its quota. Its counts are kept
// as blocks come and go, so reading them costs nothing.
type StoreUsage struct {
	// Dir is the store's directory.
	Dir string
	// Bytes is the total size of the stored blocks and Blocks their number.
	Bytes  int64
	Blocks int64
	// Max is the quota in bytes (StoreConfig.MaxBytes); negative: none.
	Max int64
	// DiskFree is the space left for an unprivileged user on the file
	// system of Dir, in bytes; -1 when unknown.
	DiskFree int64
}

// Usage returns the store's use against its quota. It never blocks on
// writers and is safe for concurrent use.
func (s *Store) Usage() StoreUsage {
	return StoreUsage{
		Dir:      s.cfg.Dir,
		Bytes:    s.used.Load(),
		Blocks:   s.nblocks.Load(),
		Max:      s.cfg.MaxBytes,
		DiskFree: diskFree(s.cfg.Dir),
	}
}

// PinnedBytes returns the total size and number of the stored blocks that
// pins reach. It walks every pinned DAG, reading their interior blocks, so
// it costs about what the mark phase of a GC does.
func (s *Store) PinnedBytes(ctx context.Context) (int64, int, error) {
	done, err := s.enter()
	if err != nil {
		return 0, 0, err
	}
	defer done()
	marked, err := s.mark(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("share: pinned bytes: %w", err)
	}
	var n int64
	var count int
	for k := range marked {
		e, ok, err := s.lookup(ctx, []byte(k))
		if err != nil {
			return 0, 0, fmt.Errorf("share: pinned bytes: %w", err)
		}
		if ok {
			n += int64(e.Length)
			count++
		}
	}
	return n, count, nil
}

// countBlocks sets the running counts of stored blocks and bytes from the
// index; OpenStore calls it once. Entries that do not decode are skipped
// (Get reports them), as are keys that are not blocks.
func (s *Store) countBlocks(ctx context.Context) error {
	var used, n int64
	err := s.scanIndexTolerant(ctx, func(e indexEntry) {
		used += int64(e.Length)
		n++
	})
	if err != nil {
		return err
	}
	s.used.Store(used)
	s.nblocks.Store(n)
	return nil
}

// overQuota reports whether need more bytes would take the store past its
// quota, counting the room reserved for other writers (see makeRoom) as
// used.
func (s *Store) overQuota(need int64) bool {
	return s.cfg.MaxBytes >= 0 && need > 0 && s.used.Load()+s.reserved.Load()+need > s.cfg.MaxBytes
}

// putInside stores bs for a caller already inside enter, making room under
// the quota first when they do not fit: it collects unpinned, unheld
// blocks (see makeRoom) and fails with ErrStoreFull when that is not
// enough. A batch is stored whole or not at all.
func (s *Store) putInside(ctx context.Context, bs []blocks.Block) error {
	var own int64 // room makeRoom reserved for this write
	defer func() {
		if own > 0 {
			s.wmu.Lock()
			s.reserved.Add(-own)
			s.wmu.Unlock()
		}
	}()
	for attempt := 1; ; attempt++ {
		s.wmu.Lock()
		need, err := s.putLocked(ctx, bs, own)
		if need == 0 {
			// Written (or failed): the room made for it is used or no
			// longer needed.
			s.reserved.Add(-own)
			own = 0
		}
		s.wmu.Unlock()
		if err != nil || need == 0 {
			return err
		}
		if need > s.cfg.MaxBytes || attempt == putAttempts {
			return s.fullError(need)
		}
		got, err := s.makeRoom(ctx, need, own)
		if err != nil {
			return err
		}
		own = got
	}
}

// makeRoom runs a GC that removes unpinned, unheld blocks, oldest first,
// until need more bytes fit under storeLowWater of the quota (or under the
// quota, for a write larger than the rest). It reserves need bytes for the
// caller before it waits for the GC, so that writers that did not have to
// wait cannot take the room it makes (they did, and a write could fail as
// "store full" after three GCs although most of the store could be
// collected); they find the store over its quota and queue here too. own
// is the caller's current reservation, which makeRoom replaces; it returns
// the new one (0 when need still does not fit: the caller tries again). It
// returns an error matching ErrStoreFull when need does not fit and the GC
// removed nothing.
func (s *Store) makeRoom(ctx context.Context, need, own int64) (int64, error) {
	s.wmu.Lock()
	s.reserved.Add(need - own)
	s.wmu.Unlock()
	release := func() {
		s.wmu.Lock()
		s.reserved.Add(-need)
		s.wmu.Unlock()
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	if s.used.Load()+s.reserved.Load() <= s.cfg.MaxBytes {
		return need, nil // a GC in progress made room
	}
	max := s.cfg.MaxBytes
	target := int64(float64(max)*storeLowWater) - s.reserved.Load()
	if target < 0 {
		target = max - s.reserved.Load()
	}
	s.log.Info("store over quota: collecting unpinned blocks", "used", s.used.Load(), "reserved", s.reserved.Load(), "max", max, "need", need, "target", target)
	res, err := s.gcLocked(ctx, target)
	if err != nil {
		release()
		return 0, fmt.Errorf("share: make room for %d bytes: %w", need, err)
	}
	if s.used.Load()+s.reserved.Load() <= max {
		return need, nil
	}
	release()
	// A GC that removed nothing cannot help: the store is full. One that
	// removed blocks may not have made enough room while others hold
	// reservations: putInside tries again.
	if res.Removed == 0 {
		return 0, s.fullError(need)
	}
	return 0, nil
}

// fullError is the ErrStoreFull error of a write of need bytes.
func (s *Store) fullError(need int64) error {
	max, used := s.cfg.MaxBytes, s.used.Load()
	if need > max {
		return fmt.Errorf("%w: a write of %s is larger than the whole %s quota (storage.max); raise storage.max",
			ErrStoreFull, formatBytes(need), formatBytes(max))
	}
	return fmt.Errorf("%w: %s stored of a %s quota (storage.max) and %s more do not fit; "+
		"the rest is pinned or in use: unpin with 'enxame pin rm' and run 'enxame gc', or raise storage.max",
		ErrStoreFull, formatBytes(used), formatBytes(max), formatBytes(need))
}

// sortOldestFirst orders GC candidates by where they sit in the packs,
// oldest pack first, so that an automatic GC empties whole old packs and
// compaction deletes them instead of rewriting them.
func sortOldestFirst(cands []gcCand) {
	slices.SortFunc(cands, func(a, b gcCand) int {
		if a.e.Pack != b.e.Pack {
			return cmpUint(uint64(a.e.Pack), uint64(b.e.Pack))
		}
		return cmpUint(a.e.Offset, b.e.Offset)
	})
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// formatBytes writes n in binary units: "512 B", "1.5 MiB", "10 GiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if n%div == 0 {
		return fmt.Sprintf("%d %ciB", n/div, "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}
