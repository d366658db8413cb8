package plan

import (
	"fmt"
	"time"
)

// Config tunes a Planner. It is plain data: a zero field means "use the
// default" given in its comment, and DefaultConfig returns every default
// filled in. Sizes are in bytes, rates in bytes per second.
type Config struct {
	// BlockSize is the size assumed for a block whose WantAdded.Size is 0,
	// until it arrives. Default 256 KiB (the UnixFS leaf size).
	BlockSize int64 `yaml:"block_size" json:"block_size"`
	// InitialWindow is the in-flight byte budget of a provider whose rate
	// is not measured yet. Default 1 MiB.
	InitialWindow int64 `yaml:"initial_window" json:"initial_window"`
	// MinWindow and MaxWindow bound a measured provider's window, which is
	// rate × (RTT + QueueTime). Defaults 1 MiB (four 256 KiB blocks, so
	// that a slow provider's link does not idle while the fetcher is
	// briefly busy: with two, a loaded fetcher left 1 MiB/s providers idle
	// a fifth of the time) and 64 MiB. A provider
	// with nothing in flight may always be sent one block, even one larger
	// than its window, and a penalised provider's window (scaled by its
	// score) may fall below MinWindow.
	MinWindow int64 `yaml:"min_window" json:"min_window"`
	MaxWindow int64 `yaml:"max_window" json:"max_window"`
	// QueueTime is the work, in time at the provider's own rate, kept queued
	// at each provider beyond one round trip, so that its link never idles
	// while the next request travels and the shell is busy. Default 200ms.
	QueueTime time.Duration `yaml:"queue_time" json:"queue_time"`
	// MaxBatch caps the blocks named in one RequestBlocks. Default 64.
	MaxBatch int `yaml:"max_batch" json:"max_batch"`
	// RateHalfLife is the half-life, in busy time, of the throughput
	// estimate (an exponentially weighted average of bytes over the time the
	// provider had requests outstanding). Default 500ms.
	RateHalfLife time.Duration `yaml:"rate_half_life" json:"rate_half_life"`
	// MinRequestTimeout and MaxRequestTimeout bound the stall timeout: a
	// provider with blocks in flight that delivers nothing for
	// 4 × (RTT + BlockSize/rate), doubled for each failure in a row, is
	// stalled; its blocks are cancelled and reassigned, and it counts one
	// failure. A provider whose rate is not measured yet gets
	// MaxRequestTimeout. MinRequestTimeout is also the
	// back-off before a stalled provider gets new requests, and before a
	// block that failed at a provider is asked of it again.
	// Defaults 2s and 15s.
	MinRequestTimeout time.Duration `yaml:"min_request_timeout" json:"min_request_timeout"`
	MaxRequestTimeout time.Duration `yaml:"max_request_timeout" json:"max_request_timeout"`
	// FailureThreshold is the number of consecutive failures (BlockFailed or
	// stalls, reset by any block received) after which a provider is
	// dropped. Default 5.
	FailureThreshold int `yaml:"failure_threshold" json:"failure_threshold"`
	// EndgameCopies caps how many providers may have the same block in
	// flight at once during the endgame, counting the first. 1 disables the
	// endgame. Default 2.
	EndgameCopies int `yaml:"endgame_copies" json:"endgame_copies"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{
		BlockSize:         256 << 10,
		InitialWindow:     1 << 20,
		MinWindow:         1 << 20,
		MaxWindow:         64 << 20,
		QueueTime:         200 * time.Millisecond,
		MaxBatch:          64,
		RateHalfLife:      500 * time.Millisecond,
		MinRequestTimeout: 2 * time.Second,
		MaxRequestTimeout: 15 * time.Second,
		FailureThreshold:  5,
		EndgameCopies:     2,
	}
}

// WithDefaults returns c with zero fields replaced by defaults.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.BlockSize == 0 {
		c.BlockSize = d.BlockSize
	}
	if c.InitialWindow == 0 {
		c.InitialWindow = d.InitialWindow
	}
	if c.MinWindow == 0 {
		c.MinWindow = d.MinWindow
	}
	if c.MaxWindow == 0 {
		c.MaxWindow = d.MaxWindow
	}
	if c.QueueTime == 0 {
		c.QueueTime = d.QueueTime
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = d.MaxBatch
	}
	if c.RateHalfLife == 0 {
		c.RateHalfLife = d.RateHalfLife
	}
	if c.MinRequestTimeout == 0 {
		c.MinRequestTimeout = d.MinRequestTimeout
	}
	if c.MaxRequestTimeout == 0 {
		c.MaxRequestTimeout = d.MaxRequestTimeout
	}
	if c.FailureThreshold == 0 {
		c.FailureThreshold = d.FailureThreshold
	}
	if c.EndgameCopies == 0 {
		c.EndgameCopies = d.EndgameCopies
	}
	return c
}

// validate reports the first invalid field of a config with defaults
// applied.
func (c Config) validate() error {
	switch {
	case c.BlockSize < 0:
		return fmt.Errorf("plan: config: BlockSize must be > 0")
	case c.InitialWindow < 0:
		return fmt.Errorf("plan: config: InitialWindow must be > 0")
	case c.MinWindow < 0:
		return fmt.Errorf("plan: config: MinWindow must be > 0")
	case c.MaxWindow < c.MinWindow:
		return fmt.Errorf("plan: config: MaxWindow must be >= MinWindow (%d)", c.MinWindow)
	case c.QueueTime < 0:
		return fmt.Errorf("plan: config: QueueTime must be > 0")
	case c.MaxBatch < 0:
		return fmt.Errorf("plan: config: MaxBatch must be > 0")
	case c.RateHalfLife < 0:
		return fmt.Errorf("plan: config: RateHalfLife must be > 0")
	case c.MinRequestTimeout < 0:
		return fmt.Errorf("plan: config: MinRequestTimeout must be > 0")
	case c.MaxRequestTimeout < c.MinRequestTimeout:
		return fmt.Errorf("plan: config: MaxRequestTimeout must be >= MinRequestTimeout (%v)", c.MinRequestTimeout)
	case c.FailureThreshold < 0:
		return fmt.Errorf("plan: config: FailureThreshold must be > 0")
	case c.EndgameCopies < 0:
		return fmt.Errorf("plan: config: EndgameCopies must be > 0")
	}
	return nil
}
