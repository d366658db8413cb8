package share

import (
	"errors"
	"fmt"
	"log/slog"
)

// Defaults of StoreConfig and AddOptions.
const (
	// DefaultChunkSize is the leaf size of imported files: 256 KiB, Kubo's
	// size-262144 chunker.
	DefaultChunkSize = 256 << 10
	// MaxChunkSize is the largest leaf Add accepts: 1 MiB, boxo's
	// BlockSizeLimit (Bitswap peers refuse larger blocks).
	MaxChunkSize = 1 << 20
	// DefaultPackSize is the size at which the store starts a new pack file.
	DefaultPackSize = 256 << 20
	// DefaultCompactBelow is the live fraction under which GC rewrites a pack.
	DefaultCompactBelow = 0.5
	// DefaultMaxBytes is the store's default quota: 10 GiB, Kubo's
	// Datastore.StorageMax (see docs/RATIONALE.md, "Why a 10 GiB store
	// quota?").
	DefaultMaxBytes = 10 << 30
)

// StoreConfig configures a Store. A zero field means its default.
type StoreConfig struct {
	// Dir is the directory the store owns: pack files in Dir/packs and the
	// index and pins in a pebble database in Dir/index. Required; created if
	// missing.
	Dir string
	// PackSize is the size in bytes past which new blocks go to a new pack
	// file. Default DefaultPackSize (256 MiB).
	PackSize int64
	// Sync makes every Put fdatasync the pack file and commit the index
	// synchronously, so that a stored block survives power loss. Default
	// false: a block is still never visible before it is fully written, and
	// one stored more than 200 ms before a crash (kill -9) of the process
	// survives it, but the last writes may be lost on power loss.
	Sync bool
	// VerifyOnRead rehashes every block on Get and returns a *CorruptError
	// when its bytes do not match its CID. Default false: Get checks a
	// CRC-32C of the stored bytes (cheap) and Verify checks hashes on demand.
	VerifyOnRead bool
	// CompactBelow is the fraction of live bytes under which GC rewrites a
	// pack file to reclaim the space of removed blocks, in (0, 1]. Default
	// DefaultCompactBelow (0.5).
	CompactBelow float64
	// MaxBytes is the store's quota: the most bytes of blocks it keeps
	// (the sum of their sizes; pack files add record headers and the space
	// of removed blocks not yet compacted). A write that would pass it first
	// removes unpinned, unheld blocks, oldest first, down to 90 % of it;
	// when pinned and held blocks alone would pass it the write fails with
	// an error matching ErrStoreFull. Default DefaultMaxBytes (10 GiB); a
	// negative value means no quota.
	MaxBytes int64
}

// DefaultStoreConfig returns the defaults of StoreConfig, with dir as Dir.
func DefaultStoreConfig(dir string) StoreConfig {
	return StoreConfig{Dir: dir, PackSize: DefaultPackSize, CompactBelow: DefaultCompactBelow, MaxBytes: DefaultMaxBytes}
}

func (c StoreConfig) withDefaults() (StoreConfig, error) {
	if c.Dir == "" {
		return c, errors.New("share: config: Dir is required")
	}
	if c.PackSize < 0 {
		return c, fmt.Errorf("share: config: PackSize must be >= 0, got %d", c.PackSize)
	}
	if c.PackSize == 0 {
		c.PackSize = DefaultPackSize
	}
	if c.CompactBelow < 0 || c.CompactBelow > 1 {
		return c, fmt.Errorf("share: config: CompactBelow must be in [0, 1], got %v", c.CompactBelow)
	}
	if c.CompactBelow == 0 {
		c.CompactBelow = DefaultCompactBelow
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	return c, nil
}

// StoreDeps are the collaborators of a Store.
type StoreDeps struct {
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
}

func discardIfNil(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
