package sandbox

import (
	"fmt"
	"time"
)

// Defaults and hard maxima of Limits.
const (
	DefaultMemoryMiB      = 256
	DefaultTimeout        = 60 * time.Second
	DefaultMaxOutputBytes = 64 << 20
	DefaultMaxModuleBytes = 64 << 20
	DefaultMaxStderrBytes = 64 << 10

	// MaxMemoryMiB is the most a 32-bit WebAssembly memory can address.
	MaxMemoryMiB = 4096
	// MaxOutputBytesLimit bounds MaxOutputBytes: stdout travels in one
	// protocol frame.
	MaxOutputBytesLimit = 1 << 30
	// MaxModuleBytesLimit bounds MaxModuleBytes.
	MaxModuleBytesLimit = 1 << 30
	// MaxStderrBytesLimit bounds MaxStderrBytes.
	MaxStderrBytesLimit = 16 << 20
)

// Limits bounds what one unit may use. A zero field means the default (in a
// Pool's Config) or the pool's value (in a Unit); a Unit's field above the
// pool's is lowered to the pool's.
type Limits struct {
	// MemoryMiB caps the unit's linear memory, in MiB. Default 256, at most
	// 4096.
	MemoryMiB int
	// Timeout is the unit's wall time from reaching its child process to its
	// result, compilation included. Default 60s.
	Timeout time.Duration
	// MaxOutputBytes caps stdout, in bytes; a unit that writes more is ended
	// with ReasonOutput. Default 64 MiB, at most 1 GiB.
	MaxOutputBytes int64
	// MaxModuleBytes caps the module file's size, in bytes. Default 64 MiB,
	// at most 1 GiB.
	MaxModuleBytes int64
	// MaxStderrBytes caps how much of stderr is kept, in bytes: its first and
	// last halves, for error messages. More stderr is not an error. Default
	// 64 KiB, at most 16 MiB.
	MaxStderrBytes int64
}

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{
		MemoryMiB:      DefaultMemoryMiB,
		Timeout:        DefaultTimeout,
		MaxOutputBytes: DefaultMaxOutputBytes,
		MaxModuleBytes: DefaultMaxModuleBytes,
		MaxStderrBytes: DefaultMaxStderrBytes,
	}
}

// validate reports the first negative or too large field.
func (l Limits) validate() error {
	switch {
	case l.MemoryMiB < 0 || l.MemoryMiB > MaxMemoryMiB:
		return fmt.Errorf("MemoryMiB %d: want 0 to %d", l.MemoryMiB, MaxMemoryMiB)
	case l.Timeout < 0:
		return fmt.Errorf("Timeout %v: want >= 0", l.Timeout)
	case l.MaxOutputBytes < 0 || l.MaxOutputBytes > MaxOutputBytesLimit:
		return fmt.Errorf("MaxOutputBytes %d: want 0 to %d", l.MaxOutputBytes, MaxOutputBytesLimit)
	case l.MaxModuleBytes < 0 || l.MaxModuleBytes > MaxModuleBytesLimit:
		return fmt.Errorf("MaxModuleBytes %d: want 0 to %d", l.MaxModuleBytes, MaxModuleBytesLimit)
	case l.MaxStderrBytes < 0 || l.MaxStderrBytes > MaxStderrBytesLimit:
		return fmt.Errorf("MaxStderrBytes %d: want 0 to %d", l.MaxStderrBytes, MaxStderrBytesLimit)
	}
	return nil
}

// withDefaults fills zero fields with the defaults and keeps the others,
// which may be above them (a pool's maxima, a unit's own limits within
// them); validate bounds them.
func (l Limits) withDefaults() Limits {
	def := DefaultLimits()
	fill := func(v, d int64) int64 {
		if v == 0 {
			return d
		}
		return v
	}
	return Limits{
		MemoryMiB:      int(fill(int64(l.MemoryMiB), int64(def.MemoryMiB))),
		Timeout:        time.Duration(fill(int64(l.Timeout), int64(def.Timeout))),
		MaxOutputBytes: fill(l.MaxOutputBytes, def.MaxOutputBytes),
		MaxModuleBytes: fill(l.MaxModuleBytes, def.MaxModuleBytes),
		MaxStderrBytes: fill(l.MaxStderrBytes, def.MaxStderrBytes),
	}
}

// within fills l's zero fields from max and lowers fields above max's.
func (l Limits) within(max Limits) Limits {
	pick := func(v, m int64) int64 {
		if v == 0 || v > m {
			return m
		}
		return v
	}
	return Limits{
		MemoryMiB:      int(pick(int64(l.MemoryMiB), int64(max.MemoryMiB))),
		Timeout:        time.Duration(pick(int64(l.Timeout), int64(max.Timeout))),
		MaxOutputBytes: pick(l.MaxOutputBytes, max.MaxOutputBytes),
		MaxModuleBytes: pick(l.MaxModuleBytes, max.MaxModuleBytes),
		MaxStderrBytes: pick(l.MaxStderrBytes, max.MaxStderrBytes),
	}
}
