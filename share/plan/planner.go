package plan

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// stallFactor multiplies a provider's expected time per block (RTT plus one
// block at its measured rate) to give its stall timeout, before clamping to
// [Config.MinRequestTimeout, Config.MaxRequestTimeout].
const stallFactor = 4

// endgameScan bounds the in-flight blocks one endgame pass examines, so
// that a provider idle at the end of a fetch costs O(1) per Next however
// many blocks are already duplicated.
const endgameScan = 128

// compactMin is the number of received blocks below which the request
// order is never compacted.
const compactMin = 1024

// Planner decides which blocks to request from which provider. It is a
// deterministic state machine with no I/O: feed it events with Observe and
// execute the actions Next returns (see the package documentation for the
// caller's duties). A Planner is not safe for concurrent use: one goroutine,
// the shell, owns it.
type Planner struct {
	cfg Config
	now time.Time // latest time seen in Next or BlockReceived.At

	blocks    map[cid.Cid]*block
	order     []*block // not-yet-compacted blocks, sorted by cmpBlock
	head      int      // order[:head] holds no pending block
	orderDone int      // received blocks still in order
	seq       uint64   // next WantAdded sequence number

	provs map[peer.ID]*provider
	byID  []*provider // every provider ever seen, sorted by peer ID

	wanted, received  int
	bytesWanted       int64 // known sizes, plus Config.BlockSize per unknown one
	bytesReceived     int64 // first copy of each block
	dupBytes          int64 // further copies
	stuck             int   // wanted, unreceived blocks no active provider can serve
	doneSent, stuckOn bool

	drops   []DropPeer
	cancels []cancel

	// Scratch space reused by Next.
	active []*provider
	tails  []tail
	keys   []cid.Cid
}

type block struct {
	key   cid.Cid
	size  int64 // 0 while unknown
	prio  int
	ord   uint64
	seq   uint64
	done  bool
	avail int         // active providers that advertise it and did not answer not-found
	held  []*provider // providers it is in flight at, in request order
}

func (b *block) pending() bool { return !b.done && len(b.held) == 0 }

// cmpBlock orders blocks for requesting: higher priority first, then lower
// Order, then first added.
func cmpBlock(a, b *block) int {
	if c := cmp.Compare(b.prio, a.prio); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ord, b.ord); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

type cancel struct {
	p   *provider
	key cid.Cid
}

// New returns a Planner with no wanted blocks and no providers. Zero
// fields of cfg take their defaults; New returns an error naming the first
// invalid field.
func New(cfg Config) (*Planner, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Planner{
		cfg:    cfg,
		blocks: make(map[cid.Cid]*block),
		provs:  make(map[peer.ID]*provider),
	}, nil
}

// Config returns the planner's configuration with defaults filled in.
func (pl *Planner) Config() Config { return pl.cfg }

// Observe feeds one event to the planner. It never performs I/O and never
// blocks. It returns an error only when the caller misuses the planner: a
// nil or unknown event type, an undefined key or empty peer ID, a negative
// size, or a BlockReceived or BlockFailed naming a key that was never
// wanted or a peer that never joined. The planner is unchanged then.
func (pl *Planner) Observe(ev Event) error {
	switch ev := ev.(type) {
	case WantAdded:
		return pl.wantAdded(ev)
	case ProviderJoined:
		return pl.providerJoined(ev)
	case ProviderHas:
		return pl.providerHas(ev)
	case ProviderLeft:
		return pl.providerLeft(ev)
	case BlockReceived:
		return pl.blockReceived(ev)
	case BlockFailed:
		return pl.blockFailed(ev)
	case BlockInvalid:
		return pl.blockInvalid(ev)
	case nil:
		return errors.New("plan: observe: nil event")
	default:
		return fmt.Errorf("plan: observe: unknown event type %T", ev)
	}
}

func (pl *Planner) advance(t time.Time) {
	if t.After(pl.now) {
		pl.now = t
	}
}

// est returns the bytes a block is assumed to take.
func (pl *Planner) est(b *block) int64 {
	if b.size > 0 {
		return b.size
	}
	return pl.cfg.BlockSize
}

func (pl *Planner) wantAdded(ev WantAdded) error {
	if !ev.Key.Defined() {
		return errors.New("plan: want added: undefined key")
	}
	if ev.Size < 0 {
		return fmt.Errorf("plan: want added %s: negative size %d", ev.Key, ev.Size)
	}
	if b, ok := pl.blocks[ev.Key]; ok {
		if b.size == 0 && ev.Size > 0 && !b.done {
			pl.bytesWanted += ev.Size - pl.est(b)
			b.size = ev.Size
		}
		return nil
	}
	b := &block{key: ev.Key, size: ev.Size, prio: ev.Priority, ord: ev.Order, seq: pl.seq}
	pl.seq++
	for _, p := range pl.byID {
		if p.serves(b.key) {
			b.avail++
		}
	}
	pl.blocks[b.key] = b
	i, _ := slices.BinarySearchFunc(pl.order, b, cmpBlock)
	pl.order = slices.Insert(pl.order, i, b)
	pl.reopenAt(i)
	pl.wanted++
	pl.bytesWanted += pl.est(b)
	if b.avail == 0 {
		pl.stuck++
	}
	return nil
}

// provider returns the state of id, creating it (not yet active) if new.
func (pl *Planner) provider(id peer.ID) *provider {
	if p, ok := pl.provs[id]; ok {
		return p
	}
	p := &provider{id: id, score: 1}
	pl.provs[id] = p
	i, _ := slices.BinarySearchFunc(pl.byID, id, func(q *provider, id peer.ID) int {
		return strings.Compare(string(q.id), string(id))
	})
	pl.byID = slices.Insert(pl.byID, i, p)
	return p
}

// activate makes p an active partial provider with nothing advertised.
func (pl *Planner) activate(p *provider) {
	p.state = StateActive
	p.hasAll = false
	p.has = make(map[cid.Cid]struct{})
	p.scan = 0
	p.failStreak = 0
	p.backoff = time.Time{}
}

func (pl *Planner) providerJoined(ev ProviderJoined) error {
	if ev.Peer == "" {
		return errors.New("plan: provider joined: empty peer ID")
	}
	p := pl.provider(ev.Peer)
	switch p.state {
	case StateDropped:
		return nil
	case StateActive:
	default:
		pl.activate(p)
	}
	if ev.HasAll && !p.hasAll {
		for _, b := range pl.order {
			if !p.serves(b.key) && !p.lacksForever(b.key) {
				pl.addAvail(b, 1)
			}
		}
		p.hasAll = true
		p.has = nil
		p.scan = 0
	}
	return nil
}

func (pl *Planner) providerHas(ev ProviderHas) error {
	if ev.Peer == "" {
		return errors.New("plan: provider has: empty peer ID")
	}
	for _, k := range ev.Keys {
		if !k.Defined() {
			return fmt.Errorf("plan: provider has %s: undefined key", ev.Peer)
		}
	}
	p := pl.provider(ev.Peer)
	switch p.state {
	case StateDropped:
		return nil
	case StateActive:
	default:
		pl.activate(p)
	}
	if p.hasAll {
		return nil
	}
	for _, k := range ev.Keys {
		if _, ok := p.has[k]; ok {
			continue
		}
		p.has[k] = struct{}{}
		b, ok := pl.blocks[k]
		if !ok || b.done || p.lacksForever(k) {
			continue
		}
		pl.addAvail(b, 1)
		if i, found := slices.BinarySearchFunc(pl.order, b, cmpBlock); found && i < p.scan {
			p.scan = i
		}
	}
	return nil
}

func (pl *Planner) providerLeft(ev ProviderLeft) error {
	if p, ok := pl.provs[ev.Peer]; ok && p.state == StateActive {
		pl.deactivate(p, StateLeft)
	}
	return nil
}

func (pl *Planner) blockReceived(ev BlockReceived) error {
	p, ok := pl.provs[ev.Peer]
	if !ok {
		return fmt.Errorf("plan: block received %s from %s: unknown peer", ev.Key, ev.Peer)
	}
	b, ok := pl.blocks[ev.Key]
	if !ok {
		return fmt.Errorf("plan: block received %s from %s: never wanted", ev.Key, ev.Peer)
	}
	if ev.Bytes < 0 {
		return fmt.Errorf("plan: block received %s from %s: negative size %d", ev.Key, ev.Peer, ev.Bytes)
	}
	pl.advance(ev.At)
	wasBusy := len(p.flights) > 0
	var f flight
	i := p.flightIndex(b)
	if i >= 0 {
		f = p.removeFlight(i)
		b.held = removeProvider(b.held, p)
	}
	if wasBusy {
		p.measure(ev.At, ev.Bytes, f, i >= 0, pl.cfg.RateHalfLife)
	}
	p.failStreak = 0
	p.score += (1 - p.score) / 8
	if b.done {
		p.dupBytes += ev.Bytes
		pl.dupBytes += ev.Bytes
		return nil
	}
	b.done = true
	pl.received++
	pl.orderDone++
	pl.bytesWanted += ev.Bytes - pl.est(b)
	b.size = ev.Bytes
	pl.bytesReceived += ev.Bytes
	p.bytes += ev.Bytes
	p.blocks++
	if b.avail == 0 {
		pl.stuck--
	}
	for _, q := range b.held {
		if j := q.flightIndex(b); j >= 0 {
			q.removeFlight(j)
		}
		pl.cancels = append(pl.cancels, cancel{q, b.key})
	}
	b.held = nil
	return nil
}

func (pl *Planner) blockFailed(ev BlockFailed) error {
	p, ok := pl.provs[ev.Peer]
	if !ok {
		return fmt.Errorf("plan: block failed %s at %s: unknown peer", ev.Key, ev.Peer)
	}
	b, ok := pl.blocks[ev.Key]
	if !ok {
		return fmt.Errorf("plan: block failed %s at %s: never wanted", ev.Key, ev.Peer)
	}
	i := p.flightIndex(b)
	if i < 0 || p.state != StateActive {
		return nil
	}
	p.removeFlight(i)
	b.held = removeProvider(b.held, p)
	if p.lacks == nil {
		p.lacks = make(map[cid.Cid]time.Time)
	}
	if errors.Is(ev.Err, ErrNotFound) {
		if p.serves(b.key) {
			pl.addAvail(b, -1)
		}
		p.lacks[b.key] = time.Time{}
	} else {
		until := pl.now.Add(pl.cfg.MinRequestTimeout)
		p.lacks[b.key] = until
		if p.lackNext.IsZero() || until.Before(p.lackNext) {
			p.lackNext = until
		}
	}
	if b.pending() {
		pl.reopen(b)
	}
	pl.penalize(p)
	return nil
}

func (pl *Planner) blockInvalid(ev BlockInvalid) error {
	if ev.Peer == "" {
		return errors.New("plan: block invalid: empty peer ID")
	}
	p := pl.provider(ev.Peer)
	if p.state == StateDropped {
		return nil
	}
	p.failures++
	pl.drop(p, DropInvalid)
	return nil
}

// penalize records one failure of p, shrinking its window, and drops it
// after Config.FailureThreshold failures in a row.
func (pl *Planner) penalize(p *provider) {
	p.failures++
	p.failStreak++
	p.score /= 2
	if p.failStreak >= pl.cfg.FailureThreshold {
		pl.drop(p, DropFailures)
	}
}

func (pl *Planner) drop(p *provider, why DropReason) {
	if p.state == StateActive {
		pl.deactivate(p, StateDropped)
	}
	p.state = StateDropped
	pl.drops = append(pl.drops, DropPeer{Peer: p.id, Reason: why})
	pl.cancels = slices.DeleteFunc(pl.cancels, func(c cancel) bool { return c.p == p })
}

// deactivate takes p out of service: its blocks in flight are reassigned
// and it no longer counts towards any block's availability.
func (pl *Planner) deactivate(p *provider, st ProviderState) {
	for _, f := range p.flights {
		f.b.held = removeProvider(f.b.held, p)
		if f.b.pending() {
			pl.reopen(f.b)
		}
	}
	p.flights = p.flights[:0]
	p.inflight = 0
	if p.hasAll {
		for _, b := range pl.order {
			if p.serves(b.key) {
				pl.addAvail(b, -1)
			}
		}
	} else {
		for k := range p.has {
			if b, ok := pl.blocks[k]; ok && p.serves(k) {
				pl.addAvail(b, -1)
			}
		}
	}
	p.state = st
	p.hasAll = false
	p.has = nil
}

// addAvail changes a block's availability and the count of stuck blocks.
func (pl *Planner) addAvail(b *block, d int) {
	if !b.done && b.avail == 0 {
		pl.stuck--
	}
	b.avail += d
	if !b.done && b.avail == 0 {
		pl.stuck++
	}
}

// reopen notes that b became requestable again.
func (pl *Planner) reopen(b *block) {
	if i, found := slices.BinarySearchFunc(pl.order, b, cmpBlock); found {
		pl.reopenAt(i)
	}
}

// reopenAt rewinds every scan cursor to index i of the order.
func (pl *Planner) reopenAt(i int) {
	pl.head = min(pl.head, i)
	for _, p := range pl.byID {
		p.scan = min(p.scan, i)
	}
}

// Next returns what the shell must do now, in order: drops, then cancels,
// then requests, then Done or Stuck. It returns nil when there is nothing
// to do. now is the shell's current time; it also fires stall timeouts and
// back-offs that are due (see Deadline). The returned slices belong to the
// caller.
func (pl *Planner) Next(now time.Time) []Action {
	pl.advance(now)
	now = pl.now
	for _, p := range pl.byID {
		if p.state != StateActive {
			continue
		}
		if !p.lackNext.IsZero() && !now.Before(p.lackNext) {
			p.expireLacks(now)
		}
		if len(p.flights) > 0 && !now.Before(p.lastProgress.Add(p.timeout(&pl.cfg))) {
			pl.stall(p, now)
		}
	}

	var acts []Action
	for _, d := range pl.drops {
		acts = append(acts, d)
	}
	pl.drops = pl.drops[:0]
	acts = pl.appendCancels(acts)

	if pl.received < pl.wanted {
		acts = pl.assign(acts, now)
	}

	complete := pl.wanted > 0 && pl.received == pl.wanted
	if complete && !pl.doneSent {
		acts = append(acts, Done{})
	}
	pl.doneSent = complete
	if pl.stuck > 0 && !pl.stuckOn {
		acts = append(acts, pl.stuckAction())
	}
	pl.stuckOn = pl.stuck > 0
	return acts
}

// stall cancels and reassigns everything in flight at p, which delivered
// nothing within its timeout.
func (pl *Planner) stall(p *provider, now time.Time) {
	pl.penalize(p)
	if p.state != StateActive {
		return
	}
	for _, f := range p.flights {
		pl.cancels = append(pl.cancels, cancel{p, f.b.key})
		f.b.held = removeProvider(f.b.held, p)
		if f.b.pending() {
			pl.reopen(f.b)
		}
	}
	p.flights = p.flights[:0]
	p.inflight = 0
	p.backoff = now.Add(pl.cfg.MinRequestTimeout)
}

// appendCancels groups the pending cancels by provider, in order of first
// appearance, skipping providers no longer active.
func (pl *Planner) appendCancels(acts []Action) []Action {
	start := len(acts)
	for _, c := range pl.cancels {
		if c.p.state != StateActive {
			continue
		}
		found := false
		for j := start; j < len(acts); j++ {
			if cb := acts[j].(CancelBlocks); cb.Peer == c.p.id {
				cb.Keys = append(cb.Keys, c.key)
				acts[j] = cb
				found = true
				break
			}
		}
		if !found {
			acts = append(acts, CancelBlocks{Peer: c.p.id, Keys: []cid.Cid{c.key}})
		}
	}
	clear(pl.cancels)
	pl.cancels = pl.cancels[:0]
	return acts
}

// assign hands out pending blocks, fastest provider first, then endgame
// duplicates.
func (pl *Planner) assign(acts []Action, now time.Time) []Action {
	pl.compact()
	for pl.head < len(pl.order) && !pl.order[pl.head].pending() {
		pl.head++
	}
	active := pl.active[:0]
	for _, p := range pl.byID {
		if p.state == StateActive && !now.Before(p.backoff) {
			active = append(active, p)
		}
	}
	slices.SortFunc(active, func(a, b *provider) int {
		if c := cmp.Compare(b.rate(), a.rate()); c != 0 {
			return c
		}
		return strings.Compare(string(a.id), string(b.id))
	})
	for _, p := range active {
		keys := pl.keys[:0]
		w := p.window(&pl.cfg)
		free := w - p.inflight
		if len(p.flights) > 0 && free < w/4 {
			continue
		}
		keys, used, exhausted := pl.fill(p, keys, free, now)
		if exhausted && pl.cfg.EndgameCopies > 1 && len(keys) < pl.cfg.MaxBatch {
			keys = pl.endgame(p, keys, free-used, now)
		}
		if len(keys) > 0 {
			acts = append(acts, RequestBlocks{Peer: p.id, Keys: slices.Clone(keys)})
		}
		pl.keys = keys[:0]
	}
	clear(active)
	pl.active = active[:0]
	return acts
}

// fill appends to keys the first pending blocks p can serve, within free
// bytes (but at least one block if p is idle) and Config.MaxBatch. It
// reports whether it ran out of blocks p can serve.
func (pl *Planner) fill(p *provider, keys []cid.Cid, free int64, now time.Time) (_ []cid.Cid, used int64, exhausted bool) {
	i := max(pl.head, p.scan)
	for ; i < len(pl.order); i++ {
		b := pl.order[i]
		if !b.pending() {
			if i == pl.head {
				pl.head++
			}
			continue
		}
		if !p.canServe(b.key, now) {
			continue
		}
		size := pl.est(b)
		if used+size > free && len(p.flights) > 0 {
			p.scan = i
			return keys, used, false
		}
		pl.send(p, b, size, len(keys) == 0, now)
		keys = append(keys, b.key)
		used += size
		if len(keys) >= pl.cfg.MaxBatch {
			p.scan = i + 1
			return keys, used, false
		}
	}
	p.scan = i
	return keys, used, true
}

// endgame appends to keys duplicates of blocks in flight elsewhere that p
// is expected to deliver sooner than their holders, slowest first. Each
// holder delivers its flights in order, so its expected arrival times grow
// along its queue: merging the holders' queues from their tails visits
// blocks from the latest expected to the earliest, and the walk stops at
// the first block p would not beat, or after endgameScan blocks.
func (pl *Planner) endgame(p *provider, keys []cid.Cid, free int64, now time.Time) []cid.Cid {
	if free < p.window(&pl.cfg)/4 {
		return keys
	}
	tails := pl.tails[:0]
	for _, q := range pl.byID {
		if q != p && q.state == StateActive && len(q.flights) > 0 {
			t := tail{q: q, idx: len(q.flights) - 1, cum: q.inflight, base: q.lastProgress.UnixNano()}
			if r := q.rate(); r > 0 {
				t.nsPerByte = 1e9 / r
			}
			t.eta = t.at(t.cum)
			tails = append(tails, t)
		}
	}
	// A provider not measured yet is assumed to answer within
	// MinRequestTimeout: it may duplicate only blocks held by providers as
	// unknown, or slower than that.
	rate := p.rate()
	nowNS := now.UnixNano()
	var used int64
	for examined := 0; examined < endgameScan && len(keys) < pl.cfg.MaxBatch; examined++ {
		j := -1
		for i := range tails {
			t := &tails[i]
			if t.idx < 0 {
				continue
			}
			if j < 0 || t.eta > tails[j].eta || t.eta == tails[j].eta && cmpBlock(t.q.flights[t.idx].b, tails[j].q.flights[tails[j].idx].b) < 0 {
				j = i
			}
		}
		if j < 0 {
			break
		}
		t := &tails[j]
		f := t.q.flights[t.idx]
		eta := t.eta
		t.cum -= f.size
		t.idx--
		t.eta = t.at(t.cum)

		b := f.b
		if len(b.held) >= pl.cfg.EndgameCopies || slices.Contains(b.held, p) || !p.canServe(b.key, now) {
			continue
		}
		lowered := false
		if len(b.held) > 1 {
			for _, q := range b.held {
				if e := q.etaOf(b); e < eta {
					eta, lowered = e, true
				}
			}
		}
		size := pl.est(b)
		if used+size > free && len(p.flights) > 0 {
			break
		}
		arrive := nowNS + int64(pl.cfg.MinRequestTimeout)
		if rate > 0 {
			arrive = nowNS + int64(p.lead) + int64(seconds(float64(p.inflight+size)/rate))
		}
		if arrive >= eta {
			if lowered {
				continue
			}
			break
		}
		pl.send(p, b, size, len(keys) == 0, now)
		keys = append(keys, b.key)
		used += size
	}
	clear(tails)
	pl.tails = tails[:0]
	return keys
}

// tail is a cursor walking one holder's queue backwards in endgame. Times
// are Unix nanoseconds.
type tail struct {
	q         *provider
	idx       int     // flight under the cursor; -1 when done
	cum       int64   // bytes queued up to and including that flight
	eta       int64   // its expected arrival
	nsPerByte float64 // the holder's inverse rate; 0 if unknown
	base      int64   // the holder's last progress
}

// at returns when the holder is expected to have delivered cum bytes, or
// math.MaxInt64 if its rate is unknown.
func (t *tail) at(cum int64) int64 {
	if t.nsPerByte <= 0 {
		return math.MaxInt64
	}
	return t.base + int64(min(float64(cum)*t.nsPerByte, math.MaxInt64/4))
}

func seconds(s float64) time.Duration {
	if s > float64(math.MaxInt64/2)/1e9 {
		return math.MaxInt64 / 2
	}
	return time.Duration(s * 1e9)
}

// send records that b is requested from p now.
func (pl *Planner) send(p *provider, b *block, size int64, first bool, now time.Time) {
	idle := len(p.flights) == 0
	if idle {
		p.busySince = now
		p.lastProgress = now
	}
	p.flights = append(p.flights, flight{b: b, size: size, sent: now, first: first, idle: idle})
	p.inflight += size
	b.held = append(b.held, p)
}

// compact removes received blocks from the order once they make up most of
// it, so that scans stay proportional to the blocks still outstanding.
func (pl *Planner) compact() {
	if pl.orderDone < compactMin || pl.orderDone*2 < len(pl.order) {
		return
	}
	n := len(pl.order)
	pl.order = slices.DeleteFunc(pl.order, func(b *block) bool { return b.done })
	clear(pl.order[len(pl.order):n])
	pl.orderDone = 0
	pl.head = 0
	for _, p := range pl.byID {
		p.scan = 0
	}
}

func (pl *Planner) stuckAction() Stuck {
	var first cid.Cid
	for _, b := range pl.order {
		if !b.done && b.avail == 0 {
			first = b.key
			break
		}
	}
	var active, left, dropped int
	for _, p := range pl.byID {
		switch p.state {
		case StateActive:
			active++
		case StateLeft:
			left++
		case StateDropped:
			dropped++
		}
	}
	return Stuck{
		Missing: pl.stuck,
		Reason: fmt.Sprintf("no active provider has %d of %d remaining blocks, first %s (providers: %d active, %d left, %d dropped)",
			pl.stuck, pl.wanted-pl.received, first, active, left, dropped),
	}
}

// Deadline returns the earliest time at which Next would act without any
// new event: a stall timeout, or the end of a back-off. ok is false when no
// timer is pending. The shell should call Next at that time (a timer), in
// addition to after each batch of events.
func (pl *Planner) Deadline() (t time.Time, ok bool) {
	consider := func(d time.Time) {
		if !ok || d.Before(t) {
			t, ok = d, true
		}
	}
	for _, p := range pl.byID {
		if p.state != StateActive {
			continue
		}
		if len(p.flights) > 0 {
			consider(p.lastProgress.Add(p.timeout(&pl.cfg)))
		}
		if p.backoff.After(pl.now) && pl.received < pl.wanted {
			consider(p.backoff)
		}
		if !p.lackNext.IsZero() {
			consider(p.lackNext)
		}
	}
	return t, ok
}
