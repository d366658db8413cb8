package sandbox

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// The virtual clock starts at 2000-01-01T00:00:00Z and advances by
// clockTick on every reading and by the requested time on every sleep, so a
// unit sees time pass (timers fire, sleeps end at once) without any
// dependence on the host's clock.
const (
	clockEpochSec = 946684800
	clockTick     = 1000 // nanoseconds per reading
)

// virtualClock is a deterministic clock for one unit.
type virtualClock struct {
	elapsed atomic.Int64 // nanoseconds since the epoch
}

func (c *virtualClock) advance(ns int64) int64 {
	for {
		old := c.elapsed.Load()
		next := old + ns
		if next < old || next > math.MaxInt64/2 {
			next = math.MaxInt64 / 2 // saturate: a unit may sleep "forever"
		}
		if c.elapsed.CompareAndSwap(old, next) {
			return next
		}
	}
}

func (c *virtualClock) walltime() (sec int64, nsec int32) {
	e := c.advance(clockTick)
	return clockEpochSec + e/1e9, int32(e % 1e9)
}

func (c *virtualClock) nanotime() int64 {
	return c.advance(clockTick)
}

func (c *virtualClock) nanosleep(ns int64) {
	if ns > 0 {
		c.advance(ns)
	}
}

// randSource returns the unit's deterministic random source.
func randSource(seed uint64) *rand.ChaCha8 {
	var key [32]byte
	copy(key[:], "enxame sandbox rand v1 ........")
	binary.LittleEndian.PutUint64(key[24:], seed)
	return rand.NewChaCha8(key)
}

// cappedMemory allocates a unit's linear memory and refuses to grow it past
// max bytes, remembering that it did. wazero calls it from the unit's one
// goroutine.
type cappedMemory struct {
	max     uint64
	mem     *linearMemory
	initial uint64 // size of the first allocation
}

// Allocate implements experimental.MemoryAllocator.
func (a *cappedMemory) Allocate(_, _ uint64) experimental.LinearMemory {
	a.mem = &linearMemory{owner: a}
	return a.mem
}

// overCap reports whether the memory started above the cap.
func (a *cappedMemory) overCap() bool { return a.initial > a.max }

// refused returns the size of the largest refused grow, or 0.
func (a *cappedMemory) refused() uint64 {
	if a.mem == nil {
		return 0
	}
	return a.mem.refused
}

// peak returns the largest size the memory had, in bytes.
func (a *cappedMemory) peak() uint64 {
	if a.mem == nil {
		return 0
	}
	return a.mem.peak
}

type linearMemory struct {
	owner    *cappedMemory
	reserved []byte // an address-space reservation holding buf, if any
	buf      []byte
	peak     uint64
	refused  uint64
	started  bool
}

// Reallocate implements experimental.LinearMemory. The first call sizes the
// memory at instantiation and must succeed (wazero requires it); the caller
// checks overCap before running the unit.
//
// Where the OS allows, the memory lives in one reservation of the cap's size
// made at the first call: pages cost nothing until the unit touches them,
// growing never copies, and Free gives everything back to the OS at once
// (a Go slice would leave the child holding several times the unit's peak).
func (m *linearMemory) Reallocate(size uint64) []byte {
	if !m.started {
		m.started = true
		m.owner.initial = size
		if r, err := reserveMemory(max(size, m.owner.max)); err == nil {
			m.reserved = r
		}
	} else if size > m.owner.max {
		m.refused = max(m.refused, size)
		return nil
	}
	switch {
	case m.reserved != nil && size <= uint64(len(m.reserved)):
		m.buf = m.reserved[:size]
	case m.reserved != nil:
		m.refused = max(m.refused, size)
		return nil
	case size <= uint64(cap(m.buf)):
		m.buf = m.buf[:size]
	default:
		// append zeroes the grown part and any spare capacity.
		m.buf = append(m.buf, make([]byte, size-uint64(len(m.buf)))...)
	}
	m.peak = max(m.peak, size)
	return m.buf
}

// Free implements experimental.LinearMemory. It may be called more than
// once; the unit must not run after it.
func (m *linearMemory) Free() {
	if m.reserved != nil {
		releaseMemory(m.reserved)
		m.reserved = nil
	}
	m.buf = nil
}

// free releases the unit's memory if wazero has not.
func (a *cappedMemory) free() {
	if a.mem != nil {
		a.mem.Free()
	}
}
