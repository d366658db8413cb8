package sched

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
)

// cand is a worker considered for one run of a unit.
type cand struct {
	w      *worker
	finish float64 // predicted finish, seconds from now
	start  float64 // predicted start, seconds from now
	room   bool    // can take a run now
	fetch  float64 // predicted transfer of the inputs it lacks, seconds
}

// speed is w's speed in work units per second per slot: measured from
// completed runs when there are any, else as bid, held within the range of
// the speeds measured on other workers (see calibrate).
func (w *worker) speed() float64 {
	if w.nMeasured > 0 && w.measured > 0 {
		return w.measured
	}
	if w.hi > 0 {
		return min(max(w.bidSpeed, w.lo), w.hi)
	}
	return w.bidSpeed
}

// calibrate holds the speed of workers not measured yet within the range of
// those measured: a worker that has never run a unit bids its configured
// hint (compute.WorkerConfig.SpeedHint), which may be off by an order of
// magnitude, and taken at its word it would draw every queued unit into
// waiting for it while measured workers idle, until its first result.
func (s *Scheduler) calibrate() {
	lo, hi := math.Inf(1), 0.0
	for _, w := range s.wlist {
		if w.nMeasured > 0 && w.measured > 0 {
			lo, hi = min(lo, w.measured), max(hi, w.measured)
		}
	}
	if hi == 0 {
		lo = 0
	}
	for _, w := range s.wlist {
		w.lo, w.hi = lo, hi
	}
}

// realFree is how many of w's slots are free for us by our accounting: the
// free slots it bid, less the units queued there when it bid, plus the slots
// our runs have freed since, less our runs it did not know of. It is negative
// when units wait there.
func (w *worker) realFree() int { return w.freeSlots - w.queueLen + w.freed - w.post }

// available is how many more runs w may be given now.
func (w *worker) available(allowance int) int {
	if w.busy {
		allowance = 0
	}
	return w.realFree() + allowance
}

// usableAt reports whether w may get new runs at all at time now.
func (w *worker) usableAt(now time.Time) bool {
	return w.hasBid && !w.lost && !now.Before(w.avoidUntil) && !now.Before(w.backoffUntil)
}

// fits reports whether u's limits fit w.
func (w *worker) fits(u *unit) bool {
	return w.maxMemory == 0 || u.spec.Limits.Memory <= w.maxMemory
}

// excluded reports whether u has run on w or was refused by it for a reason
// other than being busy.
func (u *unit) excluded(w *worker) bool {
	for _, r := range u.runs {
		if r.w == w && !r.busy {
			return true
		}
	}
	for _, x := range u.rejected {
		if x.worker == w.id {
			return true
		}
	}
	return false
}

// plan prepares w's scratch state for a placement pass.
func (w *worker) plan(now time.Time) {
	w.ends = w.ends[:0]
	for _, r := range w.inflight {
		e := r.estEnd.Sub(now).Seconds()
		if e < 0 {
			// Overdue by d: expect it to need about d more.
			e = -e
		}
		w.ends = append(w.ends, e)
	}
	slices.Sort(w.ends)
	w.pfree = w.realFree()
	w.age = 0
	if !w.bidAt.IsZero() && now.After(w.bidAt) {
		w.age = now.Sub(w.bidAt).Seconds()
	}
}

// othersHold reports whether a run of ours on w would wait for slots held
// by units we know nothing about (other submitters', or ours that we
// cancelled and the worker has not freed yet), given this pass's plan.
func (w *worker) othersHold() bool { return w.pfree <= 0 && -w.pfree >= len(w.ends) }

// startAt predicts when a run of u could start on w, in seconds from now,
// given the runs of ours already there (real and planned); cost is the
// unit's scaled cost (see Scheduler.cost).
func (w *worker) startAt(cost float64) float64 {
	if w.pfree > 0 {
		return 0
	}
	need := -w.pfree
	if need < len(w.ends) {
		return w.ends[need]
	}
	// Slots are held by others' units we know nothing about: guess that
	// each takes as long as this one, and, as the worker has not told us
	// of a free slot since it bid age seconds ago, at least as long again
	// as we have waited (the rule for an overdue run in plan). Without the
	// second part a unit would wait for a full fast worker on the strength
	// of a guess made at its bid while slower ones idle, until a rebid.
	base := 0.0
	if n := len(w.ends); n > 0 {
		base = w.ends[n-1]
	}
	per := max(cost/w.speed()/float64(w.slots), w.age)
	return base + float64(need-len(w.ends)+1)*per
}

// Reputation (see worker.score): a worker whose score is below lowScore
// gets its predicted finishes stretched by 1/score, so it draws fewer units,
// and each unit placed on it gets one more replica and one more vote.
const (
	lowScore     = 0.75
	minScore     = 1.0 / 64
	scoreRecover = 1.0 / 16
)

// transfer predicts the seconds w needs to fetch the inputs of u it lacks:
// at its link rate (worker.linkRate) with measured, else at def; with
// ignore, as if it held none of them. An input of unknown size (Bytes 0)
// is as large as the bids of its holders said (Scheduler.sizes).
func (w *worker) transfer(u *unit, def float64, measured, ignore bool, sizes map[cid.Cid]int64) float64 {
	var missing int64
	for _, in := range u.spec.Inputs {
		size := in.Bytes
		if size == 0 {
			size = sizes[in.CID]
		}
		h, ok := w.held[in.CID]
		switch {
		case ignore || !ok:
			missing += size
		case h > 0 && h < size:
			missing += size - h
		}
	}
	if missing == 0 {
		return 0
	}
	if measured {
		def = w.linkRate(def)
	}
	return float64(missing) / def
}

// reserve records a run of predicted end e (seconds from now) on w.
func (w *worker) reserve(e float64) {
	i, _ := slices.BinarySearch(w.ends, e)
	w.ends = slices.Insert(w.ends, i, e)
	w.pfree--
}

func seconds(f float64) time.Duration {
	return time.Duration(min(f, maxSeconds) * float64(time.Second))
}

// place starts runs for queued units, in job order then queue order, each on
// the worker with the earliest predicted finish. A unit whose best worker is
// full waits for it: the slot is reserved in this pass's plan only, so later
// units see that worker as busier.
func (s *Scheduler) place(now time.Time) {
	rooms, usable := 0, 0
	s.waitAt = time.Time{}
	s.calibrate()
	for _, w := range s.wlist {
		w.usable = w.usableAt(now) && w.speed() > 0
		if !w.usable {
			continue
		}
		usable++
		w.plan(now)
		if w.available(s.cfg.QueueAllowance) > 0 {
			rooms++
		}
	}
	for _, j := range s.jobList {
		j.needy = nil
		if j.status != jobActive || j.window || !j.started {
			continue
		}
		if !s.cfg.IgnoreLocality {
			rooms -= s.placeLocal(j, now, rooms)
		}
		var doomed *unit
		q := j.queue[:0]
		for _, u := range j.queue {
			switch {
			case u.missing == 0:
			case rooms > 0:
				filled, stuck := s.placeUnit(u, now)
				rooms -= filled
				if stuck && j.needy == nil {
					j.needy = u
				}
				if stuck && doomed == nil && s.hopeless(u) {
					doomed = u
				}
			case usable == 0 && j.needy == nil:
				j.needy = u
			}
			if u.missing > 0 {
				q = append(q, u)
			} else {
				u.queued = false
			}
		}
		clear(j.queue[len(q):])
		j.queue = q
		if doomed != nil {
			f := doomed.failures[len(doomed.failures)-1]
			j.needy = nil
			s.failJob(j, doomed, fmt.Sprintf("unit %s failed deterministically on every worker that could run it (%d): %s",
				doomed.id, len(doomed.failures), f.Reason))
		}
	}
	s.backupAt = time.Time{}
	if rooms > 0 && s.cfg.Backups > 0 {
		s.backups(now)
	}
}

// placeLocal starts, before the rest of j's queue is placed, one run of
// each queued unit whose best worker holds all its inputs and has room: in
// queue order, a unit whose holder is slow would otherwise take the slot of
// a fast worker that holds the inputs of a later unit, which then moves its
// inputs elsewhere, and so on. It returns how many workers ran out of room.
func (s *Scheduler) placeLocal(j *job, now time.Time, rooms int) (filled int) {
	for _, u := range j.queue {
		if rooms-filled <= 0 {
			break
		}
		if u.missing == 0 || len(u.spec.Inputs) == 0 {
			continue
		}
		c, ok := s.choose(u, nil)
		if !ok || !c.room || c.fetch > 0 {
			continue
		}
		u.missing--
		s.start(u, c.w, c, now, "")
		if c.w.available(s.cfg.QueueAllowance) <= 0 {
			filled++
		}
	}
	return filled
}

// hopeless reports whether u failed deterministically (the module trapped,
// ran out of memory, ...) on every worker it failed on, and no known worker
// that is not lost is left to try it: waiting for more workers would most
// likely end the same way, so the job fails now with the reasons instead of
// waiting forever for a worker that may never come.
func (s *Scheduler) hopeless(u *unit) bool {
	if len(u.failures) == 0 {
		return false
	}
	for _, f := range u.failures {
		if !f.Deterministic {
			return false
		}
	}
	for _, w := range s.wlist {
		if !w.lost && !u.excluded(w) && w.fits(u) {
			return false
		}
	}
	return true
}

// minWaitLook is the shortest wait before another placement pass for a unit
// waiting on a worker whose slots others hold.
const minWaitLook = 100 * time.Millisecond

// backupMargin is how much sooner, relatively, a backup must be predicted to
// finish than the run it backs up.
const backupMargin = 0.10

// straggler is an unsettled unit whose runs are all placed, with the
// predicted end of its latest active run, in seconds from now.
type straggler struct {
	u      *unit
	end    float64
	estEnd time.Time // predicted end of that run
}

// backups starts backup runs in the end game of each job with no unit
// waiting: the unit predicted to end last first, each on the worker with
// room that would finish it earliest, when that is sooner than the
// straggling run by more than backupMargin.
func (s *Scheduler) backups(now time.Time) {
	var ss []straggler
	for _, j := range s.jobList {
		if j.status != jobActive || j.window || !j.started || len(j.queue) > 0 {
			continue
		}
		ss = ss[:0]
		for _, u := range j.units {
			if u.accepted || u.missing > 0 || u.backups >= s.cfg.Backups {
				continue
			}
			x := straggler{u: u}
			active := 0
			for _, r := range u.runs {
				if !r.active() {
					continue
				}
				active++
				e := r.estEnd.Sub(now).Seconds()
				if e < 0 {
					e = -e // overdue by d: expect about d more, as in plan
				}
				if e > x.end || active == 1 {
					x.end, x.estEnd = e, r.estEnd
				}
			}
			if active > 0 {
				ss = append(ss, x)
			}
		}
		slices.SortStableFunc(ss, func(a, b straggler) int {
			switch {
			case a.end > b.end:
				return -1
			case a.end < b.end:
				return 1
			}
			return a.u.id.Index - b.u.id.Index
		})
		for _, x := range ss {
			best, bestF := (*worker)(nil), math.Inf(1)
			for _, w := range s.wlist {
				if !w.usable || w.available(s.cfg.QueueAllowance) <= 0 || !w.fits(x.u) || x.u.excluded(w) {
					continue
				}
				cost := s.cost(x.u)
				if f := max(w.startAt(cost), w.transfer(x.u, s.cfg.TransferRate, !s.cfg.IgnoreLinkRates, s.cfg.IgnoreLocality, s.sizes)) + cost/w.speed(); f < bestF {
					best, bestF = w, f
				}
			}
			if best == nil {
				return // no worker has room
			}
			if bestF*(1+backupMargin) >= x.end {
				// Worth it once the straggler is overdue by more than the
				// backup would take: wake up then, as no event may come.
				if at := x.estEnd.Add(seconds(bestF*(1+backupMargin)) + time.Millisecond); at.After(now) &&
					(s.backupAt.IsZero() || at.Before(s.backupAt)) {
					s.backupAt = at
				}
				continue
			}
			x.u.backups++
			s.start(x.u, best, cand{w: best, finish: bestF, room: true}, now, "backup")
		}
	}
}

// placeUnit starts as many of u's missing runs as it can. It returns how
// many workers ran out of room doing so, and whether some run of u found no
// worker that could ever take it.
func (s *Scheduler) placeUnit(u *unit, now time.Time) (filled int, stuck bool) {
	var planned []*worker // workers reserved for u in this pass
	for range u.missing {
		c, ok := s.choose(u, planned)
		if !ok {
			return filled, true
		}
		w := c.w
		if !c.room {
			if w.othersHold() {
				// The guess in startAt grows as time passes: look again,
				// sooner while the wait is young.
				d := min(max(time.Duration(w.age*float64(time.Second)), minWaitLook), s.cfg.RebidInterval)
				if at := now.Add(d); s.waitAt.IsZero() || at.Before(s.waitAt) {
					s.waitAt = at
				}
			}
			w.reserve(c.finish)
			planned = append(planned, w)
			continue
		}
		u.missing--
		s.start(u, w, c, now, "")
		if w.available(s.cfg.QueueAllowance) <= 0 {
			filled++
		}
	}
	return filled, false
}

// start assigns a run of u to c.w; kind is "" or "backup".
func (s *Scheduler) start(u *unit, w *worker, c cand, now time.Time, kind string) {
	wall := u.spec.Limits.WallTime
	if wall == 0 {
		wall = s.cfg.UnitDeadline
	}
	begin := c.finish - s.cost(u)/w.speed()
	r := &run{
		u:            u,
		w:            w,
		replica:      u.replicas,
		state:        runAssigned,
		assignSeq:    s.next(),
		assignedAt:   now,
		lastProgress: now,
		estEnd:       now.Add(seconds(c.finish)),
		deadline:     now.Add(seconds(begin) + wall + s.cfg.DeadlineGrace),
		kind:         kind,
	}
	u.replicas++
	if w.score < lowScore && u.extra == 0 && kind == "" {
		u.extra = 1
		u.missing++
	}
	u.runs = append(u.runs, r)
	w.inflight = append(w.inflight, r)
	w.post++
	w.reserve(c.finish)
	for _, in := range u.spec.Inputs {
		w.held[in.CID] = 0 // fetched for the run: all of it
	}
	s.emit(AssignUnit{Unit: u.id, Replica: r.replica, Worker: w.id, Deadline: r.deadline, Backup: kind == "backup"})
}

// choose picks the worker for one more run of u: the earliest predicted
// finish, random among near-ties, preferring near-tied workers with room
// now. ok is false when no worker can take u at all.
func (s *Scheduler) choose(u *unit, planned []*worker) (best cand, ok bool) {
	cs := s.cands[:0]
	bestF := math.Inf(1)
	cost := s.cost(u)
	for _, w := range s.wlist {
		if !w.usable || !w.fits(u) || u.excluded(w) || slices.Contains(planned, w) {
			continue
		}
		sp := w.speed()
		st := w.startAt(cost)
		fetch := w.transfer(u, s.cfg.TransferRate, !s.cfg.IgnoreLinkRates, s.cfg.IgnoreLocality, s.sizes)
		room := w.available(s.cfg.QueueAllowance) > 0
		// A run given now (room) fetches its inputs while it waits in the
		// worker's queue, if it does; one that waits here for a slot
		// fetches them only once given, when the slot is free.
		f := st + fetch + cost/sp
		if room {
			f = max(st, fetch) + cost/sp
		}
		if w.score < lowScore {
			f /= w.score
		}
		cs = append(cs, cand{w: w, finish: f, start: st, room: room, fetch: fetch})
		bestF = min(bestF, f)
	}
	s.cands = cs
	if len(cs) == 0 {
		return cand{}, false
	}
	limit := bestF
	if s.cfg.NearTie > 0 {
		limit = bestF * (1 + s.cfg.NearTie)
	}
	near := cs[:0]
	anyRoom := false
	for _, c := range cs {
		if c.finish <= limit {
			near = append(near, c)
			anyRoom = anyRoom || c.room
		}
	}
	if anyRoom {
		near = slices.DeleteFunc(near, func(c cand) bool { return !c.room })
	}
	// Among near ties, move the fewest bytes: a worker that would fetch
	// the inputs takes a slot a holder of other inputs may need next.
	least := math.Inf(1)
	for _, c := range near {
		least = min(least, c.fetch)
	}
	near = slices.DeleteFunc(near, func(c cand) bool { return c.fetch > least })
	pick := near[0]
	if len(near) > 1 && s.cfg.NearTie >= 0 {
		pick = near[s.rng.IntN(len(near))]
	}
	return pick, true
}
