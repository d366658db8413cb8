package share

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	pebbleds "github.com/ipfs/go-ds-pebble"
	format "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-base32"
	mh "github.com/multiformats/go-multihash"
)

// ErrClosed is returned by a Store's methods after Close.
var ErrClosed = errors.New("share: store closed")

// CorruptError reports a stored block whose bytes no longer match their
// checksum or their CID. Get returns it (wrapped) instead of the block.
type CorruptError struct {
	CID cid.Cid
	// Reason says which check failed: "crc" or "hash".
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("share: block %s is corrupt on disk (%s mismatch)", e.CID, e.Reason)
}

// Index keys: blockPrefix + base32(multihash) for blocks, pinPrefix + CID
// string for pins.
const (
	blockPrefix = "/b/"
	pinPrefix   = "/p/"
)

// indexEntry says where a block's bytes are: in pack Pack at Offset, Length
// bytes, whose CRC-32C (Castagnoli) is CRC.
type indexEntry struct {
	Pack   uint32
	Offset uint64
	Length uint32
	CRC    uint32
}

const indexEntrySize = 4 + 8 + 4 + 4

// maxBlockSize bounds a block the store accepts: 4 MiB, above boxo's
// Bitswap limit of 2 MiB, so a decoded index entry can never ask for more.
const maxBlockSize = 4 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func (e indexEntry) encode() []byte {
	b := make([]byte, indexEntrySize)
	binary.BigEndian.PutUint32(b[0:], e.Pack)
	binary.BigEndian.PutUint64(b[4:], e.Offset)
	binary.BigEndian.PutUint32(b[12:], e.Length)
	binary.BigEndian.PutUint32(b[16:], e.CRC)
	return b
}

// decodeIndexEntry decodes an index value; it rejects, never panics on, bad
// input.
func decodeIndexEntry(b []byte) (indexEntry, error) {
	if len(b) != indexEntrySize {
		return indexEntry{}, fmt.Errorf("share: index entry of %d bytes, want %d", len(b), indexEntrySize)
	}
	e := indexEntry{
		Pack:   binary.BigEndian.Uint32(b[0:]),
		Offset: binary.BigEndian.Uint64(b[4:]),
		Length: binary.BigEndian.Uint32(b[12:]),
		CRC:    binary.BigEndian.Uint32(b[16:]),
	}
	if e.Length > maxBlockSize {
		return indexEntry{}, fmt.Errorf("share: index entry length %d over the %d limit", e.Length, maxBlockSize)
	}
	if e.Offset > 1<<62 {
		return indexEntry{}, fmt.Errorf("share: index entry offset %d out of range", e.Offset)
	}
	return e, nil
}

func blockKey(h mh.Multihash) ds.Key {
	return ds.RawKey(blockPrefix + base32.RawStdEncoding.EncodeToString(h))
}

func keyMultihash(k string) (mh.Multihash, error) {
	b, err := base32.RawStdEncoding.DecodeString(strings.TrimPrefix(k, blockPrefix))
	if err != nil {
		return nil, fmt.Errorf("share: index key %q: %w", k, err)
	}
	return mh.Cast(b)
}

// Store is a persistent block store: block bytes are appended to pack files
// and indexed by multihash in a pebble database; pins live in the same
// database. It implements boxo's blockstore.Blockstore.
//
// A block becomes visible (Has, Get) only after its bytes are fully written
// to its pack file, because its index entry is committed after the write; a
// torn write at the tail of a pack after a crash has no index entry and is
// never read. Blocks are addressed by multihash, so CIDs that differ only in
// codec or version share one stored block.
//
// Without StoreConfig.Sync, index commits stay in pebble's write-ahead log
// buffer, in this process's memory, until the buffer fills (32 KiB: the
// index entries of up to ~75 MiB of blocks); a timer writes it out (with an
// fsync) at most indexSyncEvery after a Put, so that a process killed with
// SIGKILL keeps every block stored before that.
//
// All methods are safe for concurrent use. The Store starts no goroutines of
// its own except the one AllKeysChan documents and that timer's.
type Store struct {
	cfg StoreConfig
	log *slog.Logger
	idx *pebbleds.Datastore
	dir string // Dir/packs

	// wmu serialises writes: the current pack and every index change of a
	// block (Put, DeleteBlock, compaction).
	wmu    sync.Mutex
	cur    *os.File
	curBuf *bufio.Writer
	curID  uint32
	curOff int64
	nextID uint32
	// used and nblocks are the total size and number of the indexed
	// blocks; they change under wmu, with the index, and are read freely.
	used    atomic.Int64
	nblocks atomic.Int64
	// reserved is the room automatic GCs made for writers that have not
	// stored their blocks yet (see makeRoom); other writers count it as
	// used, so they cannot take it. Changed under wmu.
	reserved atomic.Int64

	// pmu guards packs, the open files for reading.
	pmu   sync.RWMutex
	packs map[uint32]*os.File

	// hmu guards holds and the GC state.
	hmu       sync.Mutex
	holds     map[string]int
	gcRunning bool
	deferred  []string

	gcMu sync.Mutex // one GC at a time

	closeMu sync.RWMutex
	closed  bool

	// amu guards added, the channel Added hands out.
	amu   sync.Mutex
	added chan struct{}

	// smu guards syncTimer, armed by a Put until it syncs the index.
	smu       sync.Mutex
	syncTimer *time.Timer
}

// indexSyncEvery bounds how long the index entry of a Put stays only in
// this process's memory (see Store).
const indexSyncEvery = 200 * time.Millisecond

// indexWritten arms the timer that syncs the index, unless it is armed or
// every commit syncs anyway.
func (s *Store) indexWritten() {
	if s.cfg.Sync {
		return
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.syncTimer == nil {
		s.syncTimer = time.AfterFunc(indexSyncEvery, s.syncIndex)
	}
}

// syncIndex writes the index's log out to its file and fsyncs it. It
// enters before it disarms the timer, so that once syncTimer is nil the
// sync holds closeMu until it is done (TestPutChild waits on that).
func (s *Store) syncIndex() {
	done, err := s.enter()
	s.smu.Lock()
	s.syncTimer = nil
	s.smu.Unlock()
	if err != nil {
		return // closed: Close flushed it
	}
	defer done()
	if err := s.idx.Sync(context.Background(), blockKeyPrefix); err != nil {
		s.log.Warn("sync store index", "err", err)
	}
}

// OpenStore opens or creates the store in cfg.Dir. Close releases it.
func OpenStore(cfg StoreConfig, deps StoreDeps) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg:   cfg,
		log:   discardIfNil(deps.Logger).With("component", "share"),
		dir:   filepath.Join(cfg.Dir, "packs"),
		packs: map[uint32]*os.File{},
		holds: map[string]int{},
		added: make(chan struct{}),
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("share: open store: %w", err)
	}
	wo := pebble.NoSync
	if cfg.Sync {
		wo = pebble.Sync
	}
	s.idx, err = pebbleds.NewDatastore(filepath.Join(cfg.Dir, "index"), pebbleds.WithPebbleWriteOptions(wo))
	if err != nil {
		return nil, fmt.Errorf("share: open store index: %w", err)
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		s.idx.Close()
		return nil, fmt.Errorf("share: open store: %w", err)
	}
	for _, e := range ents {
		var id uint32
		if _, err := fmt.Sscanf(e.Name(), "%08x.pack", &id); err != nil {
			continue
		}
		f, err := os.Open(filepath.Join(s.dir, e.Name()))
		if err != nil {
			s.closeFiles()
			s.idx.Close()
			return nil, fmt.Errorf("share: open store: %w", err)
		}
		s.packs[id] = f
		if id >= s.nextID {
			s.nextID = id + 1
		}
	}
	if err := s.countBlocks(context.Background()); err != nil {
		s.closeFiles()
		s.idx.Close()
		return nil, fmt.Errorf("share: open store: %w", err)
	}
	s.log.Info("store opened", "dir", cfg.Dir, "packs", len(s.packs), "bytes", s.used.Load(), "blocks", s.nblocks.Load(), "max", cfg.MaxBytes)
	if free := diskFree(cfg.Dir); free >= 0 && cfg.MaxBytes >= 0 && cfg.MaxBytes-s.used.Load() > free {
		s.log.Warn("store quota is larger than the free disk space", "dir", cfg.Dir, "max", cfg.MaxBytes, "used", s.used.Load(), "disk_free", free)
	}
	return s, nil
}

func packName(id uint32) string { return fmt.Sprintf("%08x.pack", id) }

func (s *Store) closeFiles() {
	s.pmu.Lock()
	for id, f := range s.packs {
		f.Close()
		delete(s.packs, id)
	}
	s.pmu.Unlock()
}

// Close flushes and closes the store. Calls after Close return ErrClosed.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.smu.Lock()
	if s.syncTimer != nil {
		s.syncTimer.Stop()
		s.syncTimer = nil
	}
	s.smu.Unlock()
	s.notifyAdded()
	s.wmu.Lock()
	var errs []error
	if s.cur != nil {
		errs = append(errs, s.curBuf.Flush(), s.cur.Sync(), s.cur.Close())
		s.pmu.Lock()
		delete(s.packs, s.curID)
		s.pmu.Unlock()
		s.cur = nil
	}
	s.wmu.Unlock()
	s.closeFiles()
	errs = append(errs, s.idx.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("share: close store: %w", err)
	}
	return nil
}

// enter guards a call against Close; the caller must call the returned func.
func (s *Store) enter() (func(), error) {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return nil, ErrClosed
	}
	return s.closeMu.RUnlock, nil
}

func (s *Store) lookup(ctx context.Context, h mh.Multihash) (indexEntry, bool, error) {
	v, err := s.idx.Get(ctx, blockKey(h))
	if errors.Is(err, ds.ErrNotFound) {
		return indexEntry{}, false, nil
	}
	if err != nil {
		return indexEntry{}, false, fmt.Errorf("share: index lookup: %w", err)
	}
	e, err := decodeIndexEntry(v)
	if err != nil {
		return indexEntry{}, false, err
	}
	return e, true, nil
}

func isIdentity(c cid.Cid) bool { return c.Prefix().MhType == mh.IDENTITY }

// Has reports whether the block of c is stored.
func (s *Store) Has(ctx context.Context, c cid.Cid) (bool, error) {
	done, err := s.enter()
	if err != nil {
		return false, err
	}
	defer done()
	if isIdentity(c) {
		return true, nil
	}
	_, ok, err := s.lookup(ctx, c.Hash())
	return ok, err
}

// GetSize returns the size of the block of c, or an error matching
// format.ErrNotFound when it is not stored.
func (s *Store) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	done, err := s.enter()
	if err != nil {
		return 0, err
	}
	defer done()
	if isIdentity(c) {
		d, err := mh.Decode(c.Hash())
		if err != nil {
			return 0, err
		}
		return len(d.Digest), nil
	}
	e, ok, err := s.lookup(ctx, c.Hash())
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, format.ErrNotFound{Cid: c}
	}
	return int(e.Length), nil
}

// Get returns the block of c. A block that is not stored gives an error
// matching format.ErrNotFound (ipld.IsNotFound); one whose bytes fail the
// CRC (or, with VerifyOnRead, the hash) gives a *CorruptError. Get never
// returns a block whose stored bytes fail these checks.
func (s *Store) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	done, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	return s.get(ctx, c)
}

// get is Get for callers already inside enter.
func (s *Store) get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if isIdentity(c) {
		d, err := mh.Decode(c.Hash())
		if err != nil {
			return nil, err
		}
		return blocks.NewBlockWithCid(d.Digest, c)
	}
	data, _, err := s.read(ctx, c, nil)
	if err != nil {
		return nil, err
	}
	if err := s.verifyOnRead(c, data); err != nil {
		return nil, err
	}
	return blocks.NewBlockWithCid(data, c)
}

// verifyOnRead hashes data against c when the config asks for it.
func (s *Store) verifyOnRead(c cid.Cid, data []byte) error {
	if !s.cfg.VerifyOnRead {
		return nil
	}
	got, err := c.Prefix().Sum(data)
	if err != nil {
		return fmt.Errorf("share: get %s: %w", c, err)
	}
	if !got.Equals(c) {
		return fmt.Errorf("share: get %s: %w", c, &CorruptError{CID: c, Reason: "hash"})
	}
	return nil
}

// ReadInto copies the bytes of the block of c into p, with the checks Get
// makes, and returns their count. It reads straight from the pack file into
// p, so reading many blocks costs no allocation per block. When p is
// shorter than the block it returns the block's size and an error matching
// io.ErrShortBuffer; a block that is not stored gives an error matching
// format.ErrNotFound and one that fails its checks a *CorruptError. On
// error the contents of p are unspecified. ReadInto never blocks waiting
// for a block (see Added).
func (s *Store) ReadInto(ctx context.Context, c cid.Cid, p []byte) (int, error) {
	done, err := s.enter()
	if err != nil {
		return 0, err
	}
	defer done()
	if isIdentity(c) {
		d, err := mh.Decode(c.Hash())
		if err != nil {
			return 0, err
		}
		if len(d.Digest) > len(p) {
			return len(d.Digest), fmt.Errorf("share: read %s: %d bytes: %w", c, len(d.Digest), io.ErrShortBuffer)
		}
		return copy(p, d.Digest), nil
	}
	data, size, err := s.read(ctx, c, p)
	if err != nil {
		return size, err
	}
	if err := s.verifyOnRead(c, data); err != nil {
		return 0, err
	}
	return len(data), nil
}

// read returns the stored bytes of c after their CRC check, read into dst
// when dst is not nil (then a dst shorter than the block gives the block's
// size and an error matching io.ErrShortBuffer). A pack that GC compacted
// between the index lookup and the read makes it look up again.
func (s *Store) read(ctx context.Context, c cid.Cid, dst []byte) ([]byte, int, error) {
	for attempt := 0; ; attempt++ {
		e, ok, err := s.lookup(ctx, c.Hash())
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			return nil, 0, format.ErrNotFound{Cid: c}
		}
		var data []byte
		if dst == nil {
			data = make([]byte, e.Length)
		} else if int(e.Length) > len(dst) {
			return nil, int(e.Length), fmt.Errorf("share: read %s: %d bytes: %w", c, e.Length, io.ErrShortBuffer)
		} else {
			data = dst[:e.Length]
		}
		err = s.readEntryInto(e, data)
		if errors.Is(err, errPackGone) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("share: get %s: %w", c, err)
		}
		if crc32.Checksum(data, crcTable) != e.CRC {
			return nil, 0, fmt.Errorf("share: get %s: %w", c, &CorruptError{CID: c, Reason: "crc"})
		}
		return data, len(data), nil
	}
}

var errPackGone = errors.New("pack removed")

// readEntry returns the bytes of e in a new slice.
func (s *Store) readEntry(e indexEntry) ([]byte, error) {
	data := make([]byte, e.Length)
	if err := s.readEntryInto(e, data); err != nil {
		return nil, err
	}
	return data, nil
}

// readEntryInto reads the bytes of e into data, which has e.Length bytes.
func (s *Store) readEntryInto(e indexEntry, data []byte) error {
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	f, ok := s.packs[e.Pack]
	if !ok {
		return errPackGone
	}
	// The tail of the current pack may still sit in the write buffer, but
	// index entries are committed only after a flush, so the bytes of every
	// indexed block are in the file.
	if _, err := f.ReadAt(data, int64(e.Offset)); err != nil {
		return fmt.Errorf("read pack %s at %d: %w", packName(e.Pack), e.Offset, err)
	}
	return nil
}

// Added returns a channel that is closed the next time blocks that were
// not stored before become visible (PutMany, Add or Import commits them),
// and when the store closes. A caller waiting for a block takes the
// channel first, then checks Has, then waits on the channel, so no
// addition between the check and the wait is missed. It never blocks and
// is safe for concurrent use; the channel carries no value.
func (s *Store) Added() <-chan struct{} {
	s.amu.Lock()
	defer s.amu.Unlock()
	return s.added
}

// notifyAdded wakes the waiters on Added.
func (s *Store) notifyAdded() {
	s.amu.Lock()
	close(s.added)
	s.added = make(chan struct{})
	s.amu.Unlock()
}

// Put stores b unless a block with its multihash is already stored.
// Put trusts that b's bytes match its CID: verifying blocks that come from
// the network is the caller's job.
func (s *Store) Put(ctx context.Context, b blocks.Block) error {
	return s.PutMany(ctx, []blocks.Block{b})
}

// PutMany stores the blocks not already stored, appending them to the
// current pack and then committing their index entries in one batch. When
// the new blocks would take the store past its quota it first removes
// unpinned, unheld blocks (see StoreConfig.MaxBytes); when that is not
// enough it stores none of them and returns an error matching ErrStoreFull.
func (s *Store) PutMany(ctx context.Context, bs []blocks.Block) error {
	done, err := s.enter()
	if err != nil {
		return err
	}
	defer done()
	return s.putInside(ctx, bs)
}

// putLocked stores the blocks of bs not already stored; the caller holds
// wmu. own is the room reserved for this write (see makeRoom), which it
// may use. When they would take the store past its quota it stores nothing and
// returns their total size (the caller makes room and calls again);
// otherwise it returns 0.
func (s *Store) putLocked(ctx context.Context, bs []blocks.Block, own int64) (int64, error) {
	seen := make(map[string]struct{}, len(bs))
	var todo []blocks.Block
	var need int64
	for _, b := range bs {
		c := b.Cid()
		if isIdentity(c) {
			continue
		}
		data := b.RawData()
		if len(data) > maxBlockSize {
			return 0, fmt.Errorf("share: put %s: block of %d bytes over the %d limit", c, len(data), maxBlockSize)
		}
		h := c.Hash()
		if _, dup := seen[string(h)]; dup {
			continue
		}
		seen[string(h)] = struct{}{}
		if _, ok, err := s.lookup(ctx, h); err != nil {
			return 0, err
		} else if ok {
			continue
		}
		todo = append(todo, b)
		need += int64(len(data))
	}
	if len(todo) == 0 {
		return 0, nil
	}
	if s.overQuota(need - own) {
		return need, nil
	}
	return 0, s.writeLocked(ctx, todo, need)
}

// writeLocked appends bs, blocks not stored yet of need bytes in all, to
// the current pack and commits their index entries; the caller holds wmu.
func (s *Store) writeLocked(ctx context.Context, bs []blocks.Block, need int64) error {
	batch, err := s.idx.Batch(ctx)
	if err != nil {
		return fmt.Errorf("share: put: %w", err)
	}
	n := 0
	start := s.curOff
	var startID uint32
	for _, b := range bs {
		c := b.Cid()
		data := b.RawData()
		h := c.Hash()
		if err := s.ensurePack(int64(len(data))); err != nil {
			return err
		}
		if n == 0 {
			start, startID = s.curOff, s.curID
		} else if s.curID != startID {
			// ensurePack rolled to a new pack: the previous one was flushed.
			start, startID = s.curOff, s.curID
		}
		off, err := s.appendRecord(h, data)
		if err != nil {
			s.rollback(start)
			return fmt.Errorf("share: put %s: %w", c, err)
		}
		e := indexEntry{Pack: s.curID, Offset: uint64(off), Length: uint32(len(data)), CRC: crc32.Checksum(data, crcTable)}
		if err := batch.Put(ctx, blockKey(h), e.encode()); err != nil {
			return fmt.Errorf("share: put %s: %w", c, err)
		}
		n++
	}
	if n == 0 {
		return nil
	}
	if err := s.curBuf.Flush(); err != nil {
		s.rollback(start)
		return fmt.Errorf("share: put: write pack: %w", err)
	}
	if s.cfg.Sync {
		if err := s.cur.Sync(); err != nil {
			return fmt.Errorf("share: put: sync pack: %w", err)
		}
	}
	if err := batch.Commit(ctx); err != nil {
		return fmt.Errorf("share: put: commit index: %w", err)
	}
	s.used.Add(need)
	s.nblocks.Add(int64(n))
	s.indexWritten()
	s.notifyAdded()
	return nil
}

// rollback drops a failed write at the tail of the current pack.
func (s *Store) rollback(to int64) {
	s.curBuf.Reset(s.cur)
	if err := s.cur.Truncate(to); err != nil {
		s.log.Warn("truncate pack after failed write", "pack", packName(s.curID), "err", err)
	}
	// Writes go to the file's offset, not to curOff: move it back too, or
	// the next record lands past a hole while the index says it is at to.
	if _, err := s.cur.Seek(to, io.SeekStart); err != nil {
		s.log.Warn("seek pack after failed write", "pack", packName(s.curID), "err", err)
	}
	s.curOff = to
}

// ensurePack makes sure a current pack exists with room for n more bytes,
// rolling to a new pack when the current one is full.
func (s *Store) ensurePack(n int64) error {
	if s.cur != nil && s.curOff+n <= s.cfg.PackSize {
		return nil
	}
	if s.cur != nil {
		if err := s.curBuf.Flush(); err != nil {
			return fmt.Errorf("share: flush pack: %w", err)
		}
		if s.cfg.Sync {
			if err := s.cur.Sync(); err != nil {
				return fmt.Errorf("share: sync pack: %w", err)
			}
		}
		// Keep the file open for reads; writes go to the new pack.
		s.cur = nil
	}
	id := s.nextID
	path := filepath.Join(s.dir, packName(id))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("share: create pack: %w", err)
	}
	s.nextID++
	s.pmu.Lock()
	s.packs[id] = f
	s.pmu.Unlock()
	s.cur, s.curID, s.curOff = f, id, 0
	if s.curBuf == nil {
		s.curBuf = bufio.NewWriterSize(f, 1<<20)
	} else {
		s.curBuf.Reset(f)
	}
	return nil
}

// directWriteMin is the block size from which appendRecord writes the data
// straight to the pack file instead of through the write buffer.
const directWriteMin = 64 << 10

// appendRecord writes one record, [u32 data length][u16 multihash length]
// [multihash][data], and returns the offset of the data. The header lets a
// pack be scanned without its index.
func (s *Store) appendRecord(h mh.Multihash, data []byte) (int64, error) {
	var hdr [6]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(len(data)))
	binary.BigEndian.PutUint16(hdr[4:], uint16(len(h)))
	if _, err := s.curBuf.Write(hdr[:]); err != nil {
		return 0, err
	}
	if _, err := s.curBuf.Write(h); err != nil {
		return 0, err
	}
	off := s.curOff + int64(len(hdr)+len(h))
	if len(data) < directWriteMin {
		if _, err := s.curBuf.Write(data); err != nil {
			return 0, err
		}
	} else {
		// A large block goes to the file from the caller's slice: copying
		// it into the buffer first costs more than the extra write call.
		if err := s.curBuf.Flush(); err != nil {
			return 0, err
		}
		if _, err := s.cur.Write(data); err != nil {
			return 0, err
		}
	}
	s.curOff = off + int64(len(data))
	return off, nil
}

// DeleteBlock removes the block of c from the index; its bytes stay in
// their pack until GC compacts it. Deleting a block that is not stored is
// not an error. DeleteBlock ignores pins and holds: GC is the safe way to
// remove blocks.
func (s *Store) DeleteBlock(ctx context.Context, c cid.Cid) error {
	done, err := s.enter()
	if err != nil {
		return err
	}
	defer done()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.deleteLocked(ctx, c.Hash()); err != nil {
		return fmt.Errorf("share: delete %s: %w", c, err)
	}
	return nil
}

// AllKeysChan streams the CID (CIDv1, raw codec, as boxo's blockstore does)
// of every stored block. A goroutine owned by the call sends them and closes
// the channel when done or when ctx ends; the caller must drain the channel
// or cancel ctx.
func (s *Store) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	done, err := s.enter()
	if err != nil {
		return nil, err
	}
	res, err := s.idx.Query(ctx, query.Query{Prefix: blockPrefix, KeysOnly: true})
	done()
	if err != nil {
		return nil, fmt.Errorf("share: list blocks: %w", err)
	}
	ch := make(chan cid.Cid, 64)
	go func() {
		defer close(ch)
		defer res.Close()
		for r, ok := res.NextSync(); ok; r, ok = res.NextSync() {
			if r.Error != nil {
				s.log.Warn("list blocks", "err", r.Error)
				return
			}
			h, err := keyMultihash(r.Key)
			if err != nil {
				s.log.Warn("list blocks: bad key", "err", err)
				continue
			}
			select {
			case ch <- cid.NewCidV1(cid.Raw, h):
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// StoreStat is a summary of a Store's contents.
type StoreStat struct {
	// Blocks is the number of stored blocks and Bytes their total size.
	Blocks int
	Bytes  int64
	// Packs is the number of pack files and PackBytes their total size on
	// disk, which exceeds Bytes by record headers and by removed blocks not
	// yet compacted.
	Packs     int
	PackBytes int64
}

// Stat summarises the store; it scans the whole index.
func (s *Store) Stat(ctx context.Context) (StoreStat, error) {
	done, err := s.enter()
	if err != nil {
		return StoreStat{}, err
	}
	defer done()
	var st StoreStat
	err = s.scanIndex(ctx, func(_ string, e indexEntry) error {
		st.Blocks++
		st.Bytes += int64(e.Length)
		return nil
	})
	if err != nil {
		return st, err
	}
	s.wmu.Lock()
	if s.cur != nil {
		if err := s.curBuf.Flush(); err != nil {
			s.wmu.Unlock()
			return st, fmt.Errorf("share: flush pack: %w", err)
		}
	}
	s.wmu.Unlock()
	s.pmu.RLock()
	defer s.pmu.RUnlock()
	for _, f := range s.packs {
		fi, err := f.Stat()
		if err != nil {
			return st, fmt.Errorf("share: stat pack: %w", err)
		}
		st.Packs++
		st.PackBytes += fi.Size()
	}
	return st, nil
}

// scanIndex calls fn for every block index entry, in key order.
func (s *Store) scanIndex(ctx context.Context, fn func(key string, e indexEntry) error) error {
	res, err := s.idx.Query(ctx, query.Query{Prefix: blockPrefix})
	if err != nil {
		return fmt.Errorf("share: scan index: %w", err)
	}
	defer res.Close()
	for r, ok := res.NextSync(); ok; r, ok = res.NextSync() {
		if r.Error != nil {
			return fmt.Errorf("share: scan index: %w", r.Error)
		}
		e, err := decodeIndexEntry(r.Value)
		if err != nil {
			return fmt.Errorf("share: scan index at %s: %w", r.Key, err)
		}
		if err := fn(r.Key, e); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// scanIndexTolerant calls fn for every block index entry that decodes,
// skipping (and logging) those that do not.
func (s *Store) scanIndexTolerant(ctx context.Context, fn func(e indexEntry)) error {
	res, err := s.idx.Query(ctx, query.Query{Prefix: blockPrefix})
	if err != nil {
		return fmt.Errorf("share: scan index: %w", err)
	}
	defer res.Close()
	for r, ok := res.NextSync(); ok; r, ok = res.NextSync() {
		if r.Error != nil {
			return fmt.Errorf("share: scan index: %w", r.Error)
		}
		e, err := decodeIndexEntry(r.Value)
		if err != nil {
			s.log.Warn("store index: bad entry", "key", r.Key, "err", err)
			continue
		}
		fn(e)
	}
	return ctx.Err()
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	// Checked is the number of blocks read and hashed.
	Checked int
	// Corrupt lists the blocks whose bytes fail their CRC or hash.
	Corrupt []cid.Cid
	// Removed is true when the corrupt blocks were removed from the index.
	Removed bool
}

// Verify reads every stored block and checks its bytes against its
// multihash. With remove, corrupt blocks are removed from the index, so a
// later fetch can bring them back intact.
func (s *Store) Verify(ctx context.Context, remove bool) (VerifyResult, error) {
	done, err := s.enter()
	if err != nil {
		return VerifyResult{}, err
	}
	defer done()
	var res VerifyResult
	var keys []string
	err = s.scanIndex(ctx, func(k string, _ indexEntry) error {
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return res, err
	}
	for _, k := range keys {
		h, err := keyMultihash(k)
		if err != nil {
			return res, err
		}
		c := cid.NewCidV1(cid.Raw, h)
		data, _, err := s.read(ctx, c, nil)
		var ce *CorruptError
		switch {
		case errors.As(err, &ce):
		case format.IsNotFound(err):
			continue
		case err != nil:
			return res, err
		default:
			res.Checked++
			got, err := c.Prefix().Sum(data)
			if err != nil {
				return res, fmt.Errorf("share: verify %s: %w", c, err)
			}
			if got.Equals(c) {
				continue
			}
		}
		res.Corrupt = append(res.Corrupt, c)
	}
	sort.Slice(res.Corrupt, func(i, j int) bool { return bytes.Compare(res.Corrupt[i].Bytes(), res.Corrupt[j].Bytes()) < 0 })
	if remove && len(res.Corrupt) > 0 {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		for _, c := range res.Corrupt {
			if _, err := s.deleteLocked(ctx, c.Hash()); err != nil {
				return res, fmt.Errorf("share: verify: remove %s: %w", c, err)
			}
		}
		res.Removed = true
	}
	return res, nil
}

var _ io.Closer = (*Store)(nil)
