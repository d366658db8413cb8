package plan

import (
	"math"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ProviderState says whether a provider is in use.
type ProviderState int

// Provider states.
const (
	// StateActive: joined and serving.
	StateActive ProviderState = iota + 1
	// StateLeft: left (ProviderLeft); it may join again.
	StateLeft
	// StateDropped: dropped by the planner (DropPeer); never used again.
	StateDropped
)

// String returns "active", "left" or "dropped".
func (s ProviderState) String() string {
	switch s {
	case StateActive:
		return "active"
	case StateLeft:
		return "left"
	case StateDropped:
		return "dropped"
	}
	return "unknown"
}

type provider struct {
	id     peer.ID
	state  ProviderState
	hasAll bool
	has    map[cid.Cid]struct{} // advertised keys of a partial provider
	// lacks holds keys not to ask p for: forever (zero time) after
	// ErrNotFound, else until the time given, after another failure.
	lacks    map[cid.Cid]time.Time
	lackNext time.Time // earliest temporary lack to expire; zero if none

	flights  []flight // in request order, which is delivery order
	inflight int64    // bytes, as estimated when requested
	scan     int      // order[max(head, scan):] may hold blocks p can serve

	// Throughput: bytes and busy seconds, both decayed with
	// Config.RateHalfLife of busy time; rate = rateBytes / rateSecs.
	rateBytes, rateSecs float64
	busySince           time.Time // start of the current measurement interval
	lastProgress        time.Time // last delivery, or start of busy period
	// lead estimates the time from sending a request to an idle provider
	// to receiving its first block: a round trip plus one block's transfer.
	lead      time.Duration
	leadKnown bool

	score      float64 // 1 healthy; halved per failure, recovers per block
	failStreak int
	failures   int
	backoff    time.Time // no new requests before this

	bytes, dupBytes int64
	blocks          int
}

type flight struct {
	b     *block
	size  int64 // bytes counted in provider.inflight
	sent  time.Time
	first bool // first block of its request
	idle  bool // first block of a request sent while nothing was in flight
}

// serves reports whether p counts towards the availability of key: it is
// active, advertises key, and did not answer not-found for it.
func (p *provider) serves(key cid.Cid) bool {
	if p.state != StateActive {
		return false
	}
	if !p.hasAll {
		if _, ok := p.has[key]; !ok {
			return false
		}
	}
	return !p.lacksForever(key)
}

func (p *provider) lacksForever(key cid.Cid) bool {
	t, ok := p.lacks[key]
	return ok && t.IsZero()
}

// canServe reports whether key may be requested from p now.
func (p *provider) canServe(key cid.Cid, now time.Time) bool {
	if !p.hasAll {
		if _, ok := p.has[key]; !ok {
			return false
		}
	}
	if t, ok := p.lacks[key]; ok && (t.IsZero() || now.Before(t)) {
		return false
	}
	return true
}

// expireLacks forgets the temporary lacks due by now.
func (p *provider) expireLacks(now time.Time) {
	p.lackNext = time.Time{}
	for k, t := range p.lacks {
		switch {
		case t.IsZero():
		case !now.Before(t):
			delete(p.lacks, k)
		case p.lackNext.IsZero() || t.Before(p.lackNext):
			p.lackNext = t
		}
	}
	p.scan = 0
}

func (p *provider) flightIndex(b *block) int {
	for i := range p.flights {
		if p.flights[i].b == b {
			return i
		}
	}
	return -1
}

func (p *provider) removeFlight(i int) flight {
	f := p.flights[i]
	p.flights = slices.Delete(p.flights, i, i+1)
	p.inflight -= f.size
	return f
}

func removeProvider(s []*provider, p *provider) []*provider {
	if i := slices.Index(s, p); i >= 0 {
		return slices.Delete(s, i, i+1)
	}
	return s
}

// measure folds one delivery into the rate and lead-time estimates. f is
// the delivered flight if requested says it was in flight at p.
func (p *provider) measure(at time.Time, bytes int64, f flight, requested bool, halfLife time.Duration) {
	if at.Before(p.busySince) {
		at = p.busySince
	}
	dt := at.Sub(p.busySince).Seconds()
	decay := math.Exp2(-dt / halfLife.Seconds())
	p.rateBytes = p.rateBytes*decay + float64(bytes)
	p.rateSecs = p.rateSecs*decay + dt
	p.busySince = at
	if at.After(p.lastProgress) {
		p.lastProgress = at
	}
	if requested && f.first {
		// A request sent to an idle provider measures the lead time. One
		// sent behind others also waited in the provider's queue, so it
		// only bounds the lead time from above: taking it only when lower
		// keeps queueing, which a larger window causes, from inflating
		// the estimate that sizes the window.
		sample := at.Sub(f.sent)
		switch {
		case !p.leadKnown:
			p.lead, p.leadKnown = sample, true
		case f.idle:
			p.lead += (sample - p.lead) / 4
		case sample < p.lead:
			p.lead = sample
		}
	}
}

// etaOf returns when p is expected to deliver b, which is in flight at p,
// in Unix nanoseconds: its last progress plus the bytes queued up to b at
// its rate, or math.MaxInt64 if its rate is unknown.
func (p *provider) etaOf(b *block) int64 {
	var cum int64
	for _, f := range p.flights {
		cum += f.size
		if f.b == b {
			break
		}
	}
	r := p.rate()
	if r <= 0 {
		return math.MaxInt64
	}
	return p.lastProgress.UnixNano() + int64(seconds(float64(cum)/r))
}

// rate returns the measured throughput in bytes per second, or 0 if
// unknown.
func (p *provider) rate() float64 {
	if p.rateSecs <= 0 {
		return 0
	}
	return p.rateBytes / p.rateSecs
}

// window returns p's in-flight byte budget: rate × (lead + QueueTime)
// within [MinWindow, MaxWindow], or InitialWindow while the rate is
// unknown, scaled by p's score.
func (p *provider) window(cfg *Config) int64 {
	w := float64(cfg.InitialWindow)
	if r := p.rate(); r > 0 {
		w = r * (p.lead + cfg.QueueTime).Seconds()
		w = min(max(w, float64(cfg.MinWindow)), float64(cfg.MaxWindow))
	}
	return int64(w * p.score)
}

// timeout returns how long p may deliver nothing while it has blocks in
// flight before it counts as stalled. It doubles with each failure in a row
// (up to MaxRequestTimeout), as TCP's retransmission timer backs off: on a
// lossy or overloaded link a provider that is slow for a moment is not
// stalled five times in ten seconds and dropped, which loses a fetch whose
// only source it is.
func (p *provider) timeout(cfg *Config) time.Duration {
	r := p.rate()
	if r <= 0 {
		return cfg.MaxRequestTimeout
	}
	t := stallFactor * (p.lead + seconds(float64(cfg.BlockSize)/r))
	t = max(t, cfg.MinRequestTimeout)
	for i := 0; i < p.failStreak && t < cfg.MaxRequestTimeout; i++ {
		t *= 2
	}
	return min(t, cfg.MaxRequestTimeout)
}
