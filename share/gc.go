package share

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"sync"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
)

// Hold protects blocks from GC while an operation that has not pinned them
// yet (an Add, a fetch in progress) uses them. A held block may or may not
// be stored: holding a CID before storing its block is how a writer closes
// the race with a concurrent GC. Holds are counted, so several operations
// may hold the same block. The zero Hold is not usable: get one from
// Store.NewHold. Its methods are safe for concurrent use.
type Hold struct {
	s  *Store
	mu sync.Mutex
	// keys are the multihashes this hold counts, as strings.
	keys     []string
	released bool
}

// NewHold returns an empty hold on s.
func (s *Store) NewHold() *Hold { return &Hold{s: s} }

// Add holds the blocks of cids until Release. Adding to a released hold
// does nothing.
func (h *Hold) Add(cids ...cid.Cid) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return
	}
	h.s.hmu.Lock()
	for _, c := range cids {
		k := string(c.Hash())
		h.s.holds[k]++
		h.keys = append(h.keys, k)
	}
	h.s.hmu.Unlock()
}

// Release ends the hold. While a GC runs, the blocks stay held until it
// ends, so that a pin made just before Release is seen by the next GC
// rather than half-seen by the current one. Calling Release again does
// nothing.
func (h *Hold) Release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return
	}
	h.released = true
	s := h.s
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.gcRunning {
		s.deferred = append(s.deferred, h.keys...)
	} else {
		s.unholdLocked(h.keys)
	}
	h.keys = nil
}

func (s *Store) unholdLocked(keys []string) {
	for _, k := range keys {
		if n := s.holds[k]; n <= 1 {
			delete(s.holds, k)
		} else {
			s.holds[k] = n - 1
		}
	}
}

// Hold holds the blocks of cids until release is called; see Hold.
func (s *Store) Hold(cids ...cid.Cid) (release func()) {
	h := s.NewHold()
	h.Add(cids...)
	return h.Release
}

// GCResult is what a GC removed.
type GCResult struct {
	// Removed is the number of blocks removed and Freed their total size
	// in bytes.
	Removed int
	Freed   int64
	// PacksRewritten is the number of pack files compacted or deleted, and
	// DiskFreed the bytes of disk space that gave back.
	PacksRewritten int
	DiskFreed      int64
}

// GC removes every block that no pin reaches and no Hold holds, then
// rewrites the pack files whose live fraction fell under
// StoreConfig.CompactBelow. It never removes a pinned or held block; blocks
// that a pinned DAG lacks are skipped (a pinned DAG stays pinned). Only one
// GC runs at a time; others wait, and so does a write that needs one to
// stay under the quota. Puts, Gets and pins proceed during a GC.
func (s *Store) GC(ctx context.Context) (GCResult, error) {
	done, err := s.enter()
	if err != nil {
		return GCResult{}, err
	}
	defer done()
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	return s.gcLocked(ctx, -1)
}

// gcCand is a block a GC may remove: its multihash and index entry.
type gcCand struct {
	key string
	e   indexEntry
}

// mark returns the multihashes (as strings) of the blocks pins reach.
func (s *Store) mark(ctx context.Context) (map[string]struct{}, error) {
	pins, err := s.pins(ctx)
	if err != nil {
		return nil, err
	}
	marked := map[string]struct{}{}
	for _, p := range pins {
		err := s.walkTolerant(ctx, p, func(c cid.Cid) bool {
			k := string(c.Hash())
			if _, ok := marked[k]; ok {
				return false
			}
			marked[k] = struct{}{}
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("mark %s: %w", p, err)
		}
	}
	return marked, nil
}

// gcLocked is GC for a caller inside enter that holds gcMu. With a target
// >= 0 it removes unpinned, unheld blocks oldest first (see
// sortOldestFirst) only until the stored bytes are at most target; with a
// negative one it removes them all.
func (s *Store) gcLocked(ctx context.Context, target int64) (GCResult, error) {
	s.hmu.Lock()
	s.gcRunning = true
	s.hmu.Unlock()
	defer func() {
		s.hmu.Lock()
		s.gcRunning = false
		s.unholdLocked(s.deferred)
		s.deferred = nil
		s.hmu.Unlock()
	}()

	// Mark.
	marked, err := s.mark(ctx)
	if err != nil {
		return GCResult{}, fmt.Errorf("share: gc: %w", err)
	}

	// Sweep.
	var res GCResult
	var cands []gcCand
	err = s.scanIndex(ctx, func(k string, e indexEntry) error {
		h, err := keyMultihash(k)
		if err != nil {
			return err
		}
		if _, ok := marked[string(h)]; !ok {
			cands = append(cands, gcCand{string(h), e})
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("share: gc: %w", err)
	}
	if target >= 0 {
		sortOldestFirst(cands)
	}
	for _, c := range cands {
		if target >= 0 && s.used.Load() <= target {
			break
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		n, err := s.sweepOne(ctx, c.key)
		if err != nil {
			return res, fmt.Errorf("share: gc: %w", err)
		}
		if n >= 0 {
			res.Removed++
			res.Freed += n
		}
	}

	// Compact.
	n, freed, err := s.compact(ctx)
	res.PacksRewritten, res.DiskFreed = n, freed
	if err != nil {
		return res, fmt.Errorf("share: gc: %w", err)
	}
	s.log.Info("gc done", "removed", res.Removed, "freed", res.Freed, "packs", res.PacksRewritten, "disk_freed", res.DiskFreed)
	return res, nil
}

// sweepOne removes the block with multihash key unless it is held, and
// returns its size, or -1 when it kept it or the block was gone already.
// The hold check and the delete happen under hmu, so a writer that holds
// before it checks Has either sees the block deleted (and stores it again)
// or keeps it.
func (s *Store) sweepOne(ctx context.Context, key string) (int64, error) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.holds[key] > 0 {
		return -1, nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.deleteLocked(ctx, []byte(key))
}

// deleteLocked removes the index entry of the block with multihash h and
// takes it off the running counts; the caller holds wmu. It returns the
// block's size, or -1 when it was not stored.
func (s *Store) deleteLocked(ctx context.Context, h []byte) (int64, error) {
	v, err := s.idx.Get(ctx, blockKey(h))
	if errors.Is(err, ds.ErrNotFound) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("index lookup: %w", err)
	}
	if err := s.idx.Delete(ctx, blockKey(h)); err != nil {
		return -1, err
	}
	e, err := decodeIndexEntry(v)
	if err != nil {
		return 0, nil // never counted (see countBlocks)
	}
	s.used.Add(-int64(e.Length))
	s.nblocks.Add(-1)
	return int64(e.Length), nil
}

// walkTolerant walks the DAG under root like walk but skips missing blocks;
// visit returns false for a block already seen.
func (s *Store) walkTolerant(ctx context.Context, root cid.Cid, visit func(cid.Cid) bool) error {
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !visit(c) || c.Prefix().Codec == cid.Raw || isIdentity(c) {
			continue
		}
		b, err := s.get(ctx, c)
		if err != nil {
			s.log.Warn("gc: pinned block unreadable", "cid", c, "err", err)
			continue
		}
		ls, err := blockLinks(b)
		if err != nil {
			s.log.Warn("gc: pinned block undecodable", "cid", c, "err", err)
			continue
		}
		for i := len(ls) - 1; i >= 0; i-- {
			stack = append(stack, ls[i])
		}
	}
	return nil
}

// packLive is a live block of a pack: its index key and entry.
type packLive struct {
	key string
	e   indexEntry
}

var blockKeyPrefix = ds.RawKey("/b")

// compact rewrites or deletes the packs (other than the current one) whose
// live bytes are under CompactBelow of their size.
func (s *Store) compact(ctx context.Context) (int, int64, error) {
	// Only packs closed for writing before the scan qualify: entries never
	// move into them, so the scan saw all their live blocks.
	s.wmu.Lock()
	cur, hasCur, limit := s.curID, s.cur != nil, s.nextID
	s.wmu.Unlock()
	byPack := map[uint32][]packLive{}
	err := s.scanIndex(ctx, func(k string, e indexEntry) error {
		byPack[e.Pack] = append(byPack[e.Pack], packLive{k, e})
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	s.pmu.RLock()
	var ids []uint32
	sizes := map[uint32]int64{}
	for id, f := range s.packs {
		if hasCur && id == cur || id >= limit {
			continue
		}
		fi, err := f.Stat()
		if err != nil {
			s.pmu.RUnlock()
			return 0, 0, fmt.Errorf("stat pack %s: %w", packName(id), err)
		}
		var liveBytes int64
		for _, l := range byPack[id] {
			liveBytes += int64(l.e.Length)
		}
		if fi.Size() == 0 || float64(liveBytes) < s.cfg.CompactBelow*float64(fi.Size()) {
			ids = append(ids, id)
			sizes[id] = fi.Size()
		}
	}
	s.pmu.RUnlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })

	var n int
	var freed int64
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return n, freed, err
		}
		moved, err := s.rewritePack(ctx, id, byPack[id])
		if err != nil {
			return n, freed, err
		}
		n++
		freed += sizes[id] - moved
	}
	return n, freed, nil
}

// rewritePack moves the live blocks of pack id to the current pack and
// deletes the pack file. It returns the bytes moved.
func (s *Store) rewritePack(ctx context.Context, id uint32, lives []packLive) (int64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	batch, err := s.idx.Batch(ctx)
	if err != nil {
		return 0, err
	}
	var moved, dropped, droppedN int64
	start := s.curOff
	for _, l := range lives {
		// The entry may have changed since the scan (deleted by a
		// concurrent DeleteBlock, or GC of a later round): re-read it.
		h, err := keyMultihash(l.key)
		if err != nil {
			return moved, err
		}
		e, ok, err := s.lookup(ctx, h)
		if err != nil {
			return moved, err
		}
		if !ok || e.Pack != id {
			continue
		}
		data, err := s.readEntry(e)
		if err != nil {
			return moved, err
		}
		if crc32.Checksum(data, crcTable) != e.CRC {
			s.log.Warn("gc: dropping corrupt block while compacting", "pack", packName(id), "offset", e.Offset)
			if err := batch.Delete(ctx, blockKey(h)); err != nil {
				return moved, err
			}
			dropped += int64(e.Length)
			droppedN++
			continue
		}
		if err := s.ensurePack(int64(len(data))); err != nil {
			return moved, err
		}
		if s.curOff == 0 {
			start = 0
		}
		off, err := s.appendRecord(h, data)
		if err != nil {
			s.rollback(start)
			return moved, fmt.Errorf("compact pack %s: %w", packName(id), err)
		}
		e2 := indexEntry{Pack: s.curID, Offset: uint64(off), Length: e.Length, CRC: e.CRC}
		if err := batch.Put(ctx, blockKey(h), e2.encode()); err != nil {
			return moved, err
		}
		moved += int64(len(data))
	}
	if s.cur != nil {
		if err := s.curBuf.Flush(); err != nil {
			s.rollback(start)
			return moved, fmt.Errorf("compact pack %s: %w", packName(id), err)
		}
		if err := s.cur.Sync(); err != nil {
			return moved, fmt.Errorf("compact pack %s: %w", packName(id), err)
		}
	}
	if err := batch.Commit(ctx); err != nil {
		return moved, fmt.Errorf("compact pack %s: commit index: %w", packName(id), err)
	}
	s.used.Add(-dropped)
	s.nblocks.Add(-droppedN)
	// The old pack goes only once the index no longer points into it; the
	// index must reach disk first, or a crash could leave entries pointing
	// at a deleted file.
	if err := s.idx.Sync(ctx, blockKeyPrefix); err != nil {
		return moved, fmt.Errorf("compact pack %s: sync index: %w", packName(id), err)
	}
	s.pmu.Lock()
	f := s.packs[id]
	delete(s.packs, id)
	s.pmu.Unlock()
	if f != nil {
		f.Close()
	}
	if err := os.Remove(filepath.Join(s.dir, packName(id))); err != nil {
		return moved, fmt.Errorf("compact: remove pack %s: %w", packName(id), err)
	}
	return moved, nil
}

// Getter returns a BlockGetter that holds every CID in h before it asks bg
// for it, so that blocks a fetch brings into the store (through a *Bitswap,
// say) are protected from GC from the moment they land until the caller
// pins the root and releases h. When bg can size a block without reading
// it (GetSize, as a Store can), so can the returned getter, holding first.
func (h *Hold) Getter(bg BlockGetter) BlockGetter {
	if sz, ok := bg.(blockSizer); ok {
		return holdingSizer{holdingGetter{h, bg}, sz}
	}
	return holdingGetter{h, bg}
}

type holdingSizer struct {
	holdingGetter
	sz blockSizer
}

func (g holdingSizer) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	g.h.Add(c)
	return g.sz.GetSize(ctx, c)
}

type holdingGetter struct {
	h  *Hold
	bg BlockGetter
}

func (g holdingGetter) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	g.h.Add(c)
	return g.bg.Get(ctx, c)
}
