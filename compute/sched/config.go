package sched

import (
	"fmt"
	"math"
	"time"
)

// Config tunes a Scheduler. It is plain data: a zero field means "use the
// default" given in the field's comment, and DefaultConfig returns the
// filled-in values.
type Config struct {
	// BidTimeout is how long a worker has to answer a RequestBids. The first
	// placement of a job waits until every asked worker has answered or this
	// much time has passed, whichever is sooner; a late bid is still used.
	// Default 2s.
	BidTimeout time.Duration `yaml:"bid_timeout" json:"bid_timeout"`

	// RebidInterval is how often bids are refreshed from workers whose last
	// bid is older than this, while a job still has units to place. It also
	// throttles NeedWorkers: at most one per job per interval. Default 30s.
	RebidInterval time.Duration `yaml:"rebid_interval" json:"rebid_interval"`

	// MaxAttempts is how many failed runs a unit may have (each on a distinct
	// worker) before its job fails with every reason collected. A run fails
	// when the worker reports UnitFailed, is lost, stalls or misses its
	// deadline. Default 3.
	MaxAttempts int `yaml:"max_attempts" json:"max_attempts"`

	// MaxExtraReplicas bounds the runs beyond Replicas that are started when
	// the results of a unit disagree without a majority. Default 2; a
	// negative value means none.
	MaxExtraReplicas int `yaml:"max_extra_replicas" json:"max_extra_replicas"`

	// UnitDeadline is the wall time a run is given once it is predicted to
	// start, when its UnitSpec.Limits.WallTime is zero. A run still going at
	// its deadline is cancelled and reassigned. Default 30m.
	UnitDeadline time.Duration `yaml:"unit_deadline" json:"unit_deadline"`

	// DeadlineGrace is added to every run's deadline beyond its wall time,
	// so that a worker enforcing the same wall time (and killing the run a
	// kill grace later) reports its own deterministic timeout, one round
	// trip later, before the scheduler gives up on it: a run cut by the
	// scheduler's deadline counts as the worker's fault and backs it off,
	// whereas the worker's timeout is the unit's. Keep it above the
	// workers' kill grace plus a round trip. Default 10s.
	DeadlineGrace time.Duration `yaml:"deadline_grace" json:"deadline_grace"`

	// StallTimeout is how long a run may go without any sign of life
	// (UnitAccepted, UnitProgressed) before it is declared stalled, cancelled
	// and reassigned. Workers heartbeat every accepted run, queued or
	// running, well within it. Default 30s.
	StallTimeout time.Duration `yaml:"stall_timeout" json:"stall_timeout"`

	// NearTie is the relative tolerance within which predicted finishes count
	// as equal: a unit goes to a random worker among those whose predicted
	// duration from now is within (1+NearTie) of the best, so that many
	// submitters seeing the same bids do not all pile onto one worker.
	// Default 0.10; a negative value disables the randomness (the lowest
	// peer ID wins ties).
	NearTie float64 `yaml:"near_tie" json:"near_tie"`

	// AvoidFor is how long a worker whose result lost a vote gets no new
	// units and no bid requests. Default 1h.
	AvoidFor time.Duration `yaml:"avoid_for" json:"avoid_for"`

	// BackoffFor is how long a worker that stalled or missed a deadline gets
	// no new units. Default 5m.
	BackoffFor time.Duration `yaml:"backoff_for" json:"backoff_for"`

	// QueueAllowance is how many runs beyond its advertised free slots may be
	// queued on one worker. With 0 (the default) units wait in the scheduler
	// instead, which keeps them free to go to whichever worker frees first.
	QueueAllowance int `yaml:"queue_allowance" json:"queue_allowance"`

	// TransferRate is the assumed rate, in bytes per second, at which a worker
	// fetches inputs it does not hold yet, until the scheduler has measured
	// the worker's own rate or its bid states one. Default 12.5e6
	// (100 Mbit/s).
	TransferRate float64 `yaml:"transfer_rate" json:"transfer_rate"`

	// IgnoreLinkRates makes placement predict every transfer at
	// TransferRate, ignoring the link rates measured from the workers'
	// fetch reports or stated in their bids. Off by default; meant for
	// measuring what the measured rates save.
	IgnoreLinkRates bool `yaml:"ignore_link_rates" json:"ignore_link_rates"`

	// IgnoreLocality makes placement ignore which inputs a worker already
	// holds (as said in its bid, or fetched for an earlier run): every
	// worker is predicted to fetch all of a unit's inputs. Off by default;
	// meant for measuring what data locality saves.
	IgnoreLocality bool `yaml:"ignore_locality" json:"ignore_locality"`

	// Backups is how many backup runs one unit may get in a job's end game
	// (MapReduce's backup tasks): once none of the job's units waits for a
	// worker, a worker with a free slot that would finish a unit well before
	// its straggling run is predicted to (by more than 10 %) runs it
	// too; the first result that settles the unit wins and the other run is
	// cancelled. A backup that fails counts as a failed attempt. Default 1;
	// a negative value disables backups.
	Backups int `yaml:"backups" json:"backups"`
}

// Defaults for the Config fields.
const (
	DefaultBidTimeout       = 2 * time.Second
	DefaultRebidInterval    = 30 * time.Second
	DefaultMaxAttempts      = 3
	DefaultMaxExtraReplicas = 2
	DefaultUnitDeadline     = 30 * time.Minute
	DefaultDeadlineGrace    = 10 * time.Second
	DefaultStallTimeout     = 30 * time.Second
	DefaultNearTie          = 0.10
	DefaultAvoidFor         = time.Hour
	DefaultBackoffFor       = 5 * time.Minute
	DefaultQueueAllowance   = 0
	DefaultTransferRate     = 12.5e6
	DefaultBackups          = 1
)

// DefaultConfig returns a Config with every field set to its default.
func DefaultConfig() Config {
	return Config{
		BidTimeout:       DefaultBidTimeout,
		RebidInterval:    DefaultRebidInterval,
		MaxAttempts:      DefaultMaxAttempts,
		MaxExtraReplicas: DefaultMaxExtraReplicas,
		UnitDeadline:     DefaultUnitDeadline,
		DeadlineGrace:    DefaultDeadlineGrace,
		StallTimeout:     DefaultStallTimeout,
		NearTie:          DefaultNearTie,
		AvoidFor:         DefaultAvoidFor,
		BackoffFor:       DefaultBackoffFor,
		QueueAllowance:   DefaultQueueAllowance,
		TransferRate:     DefaultTransferRate,
		Backups:          DefaultBackups,
	}
}

// withDefaults validates c and fills in its zero fields.
func (c Config) withDefaults() (Config, error) {
	durs := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"BidTimeout", &c.BidTimeout, DefaultBidTimeout},
		{"RebidInterval", &c.RebidInterval, DefaultRebidInterval},
		{"UnitDeadline", &c.UnitDeadline, DefaultUnitDeadline},
		{"DeadlineGrace", &c.DeadlineGrace, DefaultDeadlineGrace},
		{"StallTimeout", &c.StallTimeout, DefaultStallTimeout},
		{"AvoidFor", &c.AvoidFor, DefaultAvoidFor},
		{"BackoffFor", &c.BackoffFor, DefaultBackoffFor},
	}
	for _, d := range durs {
		switch {
		case *d.v < 0:
			return c, fmt.Errorf("sched: config: %s must be >= 0", d.name)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	switch {
	case c.MaxAttempts < 0:
		return c, fmt.Errorf("sched: config: MaxAttempts must be >= 0")
	case c.MaxAttempts == 0:
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MaxExtraReplicas == 0 {
		c.MaxExtraReplicas = DefaultMaxExtraReplicas
	}
	switch {
	case math.IsNaN(c.NearTie) || math.IsInf(c.NearTie, 0) || c.NearTie > 1:
		return c, fmt.Errorf("sched: config: NearTie must be a number <= 1")
	case c.NearTie == 0:
		c.NearTie = DefaultNearTie
	}
	if c.Backups == 0 {
		c.Backups = DefaultBackups
	}
	if c.QueueAllowance < 0 {
		return c, fmt.Errorf("sched: config: QueueAllowance must be >= 0")
	}
	switch {
	case math.IsNaN(c.TransferRate) || math.IsInf(c.TransferRate, 0) || c.TransferRate < 0:
		return c, fmt.Errorf("sched: config: TransferRate must be a finite number >= 0")
	case c.TransferRate == 0:
		c.TransferRate = DefaultTransferRate
	}
	return c, nil
}
