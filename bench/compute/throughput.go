package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/internal/benchutil"
)

// benchThroughput runs jobs of many tiny units (primes over [0, units·10)
// split -units ways) on a loopback swarm of -peers worker nodes and a
// submitter without compute, with and without the sum reduce, and reports
// units per second end to end (submit → result read) and where a unit's
// time goes, from the job's events (the submitter's clock) and receipts.
func benchThroughput(ctx context.Context, o options, bins examples, dir, cacheDir string, add func(Row), logf func(string, ...any)) (err error) {
	nodes := newLoopNodes(ctx, o, dir, cacheDir, logf)
	defer func() {
		if cerr := nodes.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	start := nodes.start
	s := &swarm{name: "throughput"}
	if s.sub, err = start("submitter", false, nil); err != nil {
		return err
	}
	for i := range o.peers {
		w, err := start(fmt.Sprintf("worker%d", i), true, s.sub)
		if err != nil {
			return err
		}
		s.workers = append(s.workers, w)
	}
	if err := benchutil.WaitFor(ctx, 30*time.Second, "the swarm's peers to join", func() bool {
		return s.sub.Router().TableSize() >= len(s.workers)
	}); err != nil {
		return err
	}
	if err := s.addModules(ctx, bins); err != nil {
		return err
	}
	// Warm-up: small jobs until the submitter knows every worker.
	t0 := time.Now()
	for {
		warm := compute.JobSpec{Split: compute.Split{Kind: compute.SplitRange, N: 2 * o.peers, From: 0, To: 1000}, Timeout: unitTimeout}
		if _, _, _, err := s.job(ctx, warm, "count\t168\n"); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		ws, err := s.sub.Submitter().Workers(ctx)
		if err != nil {
			return err
		}
		if len(ws) >= len(s.workers) || time.Since(t0) > time.Minute {
			logf("warm-up: %v, the submitter knows %d of %d workers", time.Since(t0).Round(time.Millisecond), len(ws), len(s.workers))
			break
		}
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, units := range o.throughputUnits {
		for _, noReduce := range []bool{false, true} {
			s.noReduce = noReduce
			to := int64(units) * 10
			_, out, err := runNative(ctx, bins.native["primes"], []string{"0", strconv.FormatInt(to, 10)})
			if err != nil {
				return err
			}
			spec := compute.JobSpec{Split: compute.Split{Kind: compute.SplitRange, N: units, From: 0, To: to}, Timeout: unitTimeout}
			name := fmt.Sprintf("throughput %d units", units)
			if noReduce {
				name += ", no reduce"
			} else {
				name += " + reduce"
			}
			stats := &unitStats{}
			d, _, ran, err := s.jobWatched(ctx, spec, string(out), stats)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			logf("%s: %v, units per worker %s, load average %s", name, d.Round(time.Millisecond), ran.String(s), benchutil.LoadAvg())
			add(Row{Name: name, Value: float64(units) / d.Seconds(), Unit: "units/s", Goal: "≥ 200/s",
				Note: fmt.Sprintf("%d workers of 1 slot; job %v; per unit (median): %s", len(s.workers), d.Round(time.Millisecond), stats)})
		}
	}
	return nil
}

// unitStats gathers per-unit phase times from a job's events and receipts.
type unitStats struct {
	queued, placed, running, done, verified map[int]time.Time
	sandbox                                 []time.Duration
	submitted, firstPlaced, lastVerified    time.Time
}

func (u *unitStats) event(e compute.Event) {
	if u.placed == nil {
		u.queued, u.placed, u.running, u.done, u.verified = map[int]time.Time{}, map[int]time.Time{}, map[int]time.Time{}, map[int]time.Time{}, map[int]time.Time{}
	}
	m := map[compute.EventKind]map[int]time.Time{compute.EventQueued: u.queued, compute.EventPlaced: u.placed,
		compute.EventRunning: u.running, compute.EventDone: u.done, compute.EventVerified: u.verified}[e.Kind]
	if e.Kind == compute.EventSubmitted {
		u.submitted = e.At
	}
	if e.Kind == compute.EventPlaced && (u.firstPlaced.IsZero() || e.At.Before(u.firstPlaced)) {
		u.firstPlaced = e.At
	}
	if e.Kind == compute.EventVerified && e.At.After(u.lastVerified) {
		u.lastVerified = e.At
	}
	if m != nil {
		m[e.Unit] = e.At
	}
}

func (u *unitStats) phase(from, to map[int]time.Time) time.Duration {
	var ds []time.Duration
	for k, a := range from {
		if b, ok := to[k]; ok {
			ds = append(ds, b.Sub(a))
		}
	}
	if len(ds) == 0 {
		return 0
	}
	return median(ds)
}

func (u *unitStats) String() string {
	sb := time.Duration(0)
	if len(u.sandbox) > 0 {
		sb = median(u.sandbox)
	}
	r := time.Millisecond / 10
	if u.submitted.IsZero() { // not seen: no figure rather than a wild one
		u.submitted = u.firstPlaced
	}
	return fmt.Sprintf("queued→placed %v, placed→running %v, running→done %v (sandbox run %v), done→verified %v; submitted→first placed %v, first placed→last verified %v",
		u.phase(u.queued, u.placed).Round(r), u.phase(u.placed, u.running).Round(r), u.phase(u.running, u.done).Round(r), sb.Round(r),
		u.phase(u.done, u.verified).Round(r), u.firstPlaced.Sub(u.submitted).Round(time.Millisecond), u.lastVerified.Sub(u.firstPlaced).Round(time.Millisecond))
}
