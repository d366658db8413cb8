package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/internal/benchutil"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// swarm is a submitter node without compute and its workers, on loopback.
type swarm struct {
	name     string
	sub      *node.Node
	workers  []*node.Node
	module   cid.Cid // primes
	reduce   cid.Cid // sum
	noReduce bool    // jobs have no reduce unit; job adds the counts up
}

// benchSpeedup times the split prime search on a swarm of 1 worker and one
// of 2 workers (1 slot each), alternating their jobs.
func benchSpeedup(ctx context.Context, o options, bins examples, dir, cacheDir string, add func(Row), logf func(string, ...any)) (err error) {
	_, out, err := runNative(ctx, bins.native["primes"], []string{"0", strconv.FormatInt(o.speedupPrimes, 10)})
	if err != nil {
		return err
	}
	want := string(out)
	nodes := newLoopNodes(ctx, o, dir, cacheDir, logf)
	defer func() {
		if cerr := nodes.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	start := nodes.start
	// The job has the sum reduce. The same job without it, on
	// swarms of its own, shows the speedup when every unit costs the same:
	// the scheduler measures a worker's speed from its units' times, and a
	// reduce unit takes milliseconds where a range unit takes seconds.
	var swarms []*swarm
	for _, c := range []struct {
		workers  int
		noReduce bool
	}{{1, false}, {2, false}, {1, true}, {2, true}} {
		s := &swarm{name: fmt.Sprintf("%dw", c.workers), noReduce: c.noReduce}
		if c.noReduce {
			s.name += "-noreduce"
		}
		nw := c.workers
		if s.sub, err = start(s.name+"-submitter", false, nil); err != nil {
			return err
		}
		for i := range nw {
			w, err := start(fmt.Sprintf("%s-worker%d", s.name, i), true, s.sub)
			if err != nil {
				return err
			}
			s.workers = append(s.workers, w)
		}
		swarms = append(swarms, s)
	}
	for _, s := range swarms {
		if err := benchutil.WaitFor(ctx, 30*time.Second, s.name+" swarm's peers to join", func() bool {
			if s.sub.Router().TableSize() < len(s.workers) {
				return false
			}
			for _, w := range s.workers {
				if w.Router().TableSize() < 1 {
					return false
				}
			}
			return true
		}); err != nil {
			return err
		}
		if err := s.addModules(ctx, bins); err != nil {
			return err
		}
	}

	spec := compute.JobSpec{
		Split:   compute.Split{Kind: compute.SplitRange, N: o.units, From: 0, To: o.speedupPrimes},
		Timeout: unitTimeout,
	}
	// Warm-up: jobs until every worker has run a unit, so that each holds
	// the modules and has them compiled; or, when units are so short that
	// the scheduler keeps them on the worker that holds the modules, until
	// the submitter has known every worker for 3 jobs (a worker that then
	// gets its first unit fetches the modules and loads them from the disk
	// cache the nodes share: tens of milliseconds). The submitter looks for
	// workers when it starts and again at each job, in the background.
	for _, s := range swarms {
		t0 := time.Now()
		knownFor := 0
		for {
			_, _, ran, err := s.job(ctx, spec, want)
			if err != nil {
				return fmt.Errorf("%s warm-up: %w", s.name, err)
			}
			if len(ran) == len(s.workers) {
				break
			}
			ws, err := s.sub.Submitter().Workers(ctx)
			if err != nil {
				return err
			}
			if len(ws) < len(s.workers) {
				knownFor = 0
			} else if knownFor++; knownFor == 3 {
				logf("%s warm-up: units ran on %s worker(s) only; going on", s.name, ran.String(s))
				break
			}
			if time.Since(t0) > time.Minute {
				return fmt.Errorf("%s warm-up: after %v the submitter knows %d of %d workers", s.name, time.Since(t0).Round(time.Second), len(ws), len(s.workers))
			}
		}
		logf("%s swarm warmed up in %v", s.name, time.Since(t0).Round(time.Millisecond))
	}
	took := make([][]time.Duration, len(swarms))
	cpus := make([][]time.Duration, len(swarms))
	cores := make([][]float64, len(swarms))
	shares := make([][]string, len(swarms))
	for i := range o.jobs {
		for k, s := range swarms {
			d, cpu, ran, err := s.job(ctx, spec, want)
			if err != nil {
				return fmt.Errorf("%s job %d: %w", s.name, i+1, err)
			}
			took[k] = append(took[k], d)
			cpus[k] = append(cpus[k], cpu)
			cores[k] = append(cores[k], cpu.Seconds()/d.Seconds())
			shares[k] = append(shares[k], ran.String(s))
			logf("%s job %d: %v, workers' CPU %v (%.2f cores), units per worker %s, load average %s", s.name, i+1,
				d.Round(time.Millisecond), cpu.Round(time.Millisecond), cpu.Seconds()/d.Seconds(), ran.String(s), benchutil.LoadAvg())
			if o.verbose {
				ws, _ := s.sub.Submitter().Workers(ctx)
				for _, w := range ws {
					logf("  worker %s: %+v", w.ID.ShortString(), w)
				}
			}
		}
	}
	for k, suffix := range []string{"", ", no reduce"} {
		one, two := median(took[2*k]), median(took[2*k+1])
		job := fmt.Sprintf("primes 0 %d in %d range units + sum reduce", o.speedupPrimes, o.units)
		goal := "≥ 1.8×"
		if k == 1 {
			job = fmt.Sprintf("the same %d units without the reduce (counts added here)", o.units)
			goal = ""
		}
		add(Row{Name: "speedup 1 worker" + suffix, Value: one.Seconds(), Unit: "s", Runs: seconds(took[2*k]),
			CPU: median(cpus[2*k]).Seconds(), CPURuns: seconds(cpus[2*k]),
			Note: job + ", submit → result, 1 slot; CPU: the workers' sandbox children's"})
		add(Row{Name: "speedup 2 workers" + suffix, Value: two.Seconds(), Unit: "s", Runs: seconds(took[2*k+1]),
			CPU: median(cpus[2*k+1]).Seconds(), CPURuns: seconds(cpus[2*k+1]),
			Note: "1 slot each; units per worker " + strings.Join(shares[2*k+1], ", ")})
		add(Row{Name: "speedup 2 vs 1" + suffix, Value: one.Seconds() / two.Seconds(), Unit: "x", Goal: goal})
		var rs []string
		for _, c := range cores[2*k+1] {
			rs = append(rs, strconv.FormatFloat(c, 'f', 2, 64))
		}
		add(Row{Name: "speedup 2 workers: cores used" + suffix, Value: medianF(cores[2*k+1]), Unit: "x",
			Note: "the workers' CPU ÷ wall time, how much of the 2 cores the 2 workers got: " + strings.Join(rs, " ") +
				" (1 worker: " + strconv.FormatFloat(medianF(cores[2*k]), 'f', 2, 64) + ")"})
	}
	return nil
}

// medianF is the median of xs, 0 when empty.
func medianF(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// unitsRan counts, per worker, the units whose accepted receipt it signed.
type unitsRan map[peer.ID]int

// String lists the counts in the swarm's worker order, such as "4+5".
func (r unitsRan) String(s *swarm) string {
	var parts []string
	for _, w := range s.workers {
		parts = append(parts, strconv.Itoa(r[w.Host().ID()]))
	}
	return strings.Join(parts, "+")
}

// job submits spec (with the swarm's modules), waits for its result and
// checks it against want; it returns the submit → result time and the CPU
// time the live sandbox children of this process used meanwhile (only this
// swarm's workers run units then; a child replaced during the job takes its
// CPU time with it, so this can only underestimate).
func (s *swarm) job(ctx context.Context, spec compute.JobSpec, want string) (time.Duration, time.Duration, unitsRan, error) {
	return s.jobWatched(ctx, spec, want, nil)
}

// jobWatched is job, passing the job's events and accepted receipts to st
// unless nil.
func (s *swarm) jobWatched(ctx context.Context, spec compute.JobSpec, want string, st *unitStats) (time.Duration, time.Duration, unitsRan, error) {
	spec.Module, spec.Reduce = s.module, s.reduce
	if s.noReduce {
		spec.Reduce = cid.Undef
	}
	cpu0 := childrenCPU()
	start := time.Now()
	id, err := s.sub.Submitter().Submit(ctx, spec)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("submit: %w", err)
	}
	var watched sync.WaitGroup
	if st != nil {
		evs, err := s.sub.Submitter().Watch(ctx, id)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("watch: %w", err)
		}
		watched.Go(func() {
			for e := range evs {
				st.event(e)
			}
		})
	}
	info, err := s.sub.Submitter().Wait(ctx, id)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("wait for job %s: %w", id, err)
	}
	if info.State != compute.JobDone {
		var fails []string
		for _, u := range info.Units {
			fails = append(fails, u.Failures...)
		}
		return 0, 0, nil, fmt.Errorf("job %s %s: %s; failed runs: %s", id, info.State, info.Error, strings.Join(fails, "; "))
	}
	var got []byte
	if s.noReduce {
		got, err = addCounts(ctx, s.sub, info.Outputs())
	} else {
		got, err = readAll(ctx, s.sub, info.Output())
	}
	took := time.Since(start)
	cpu := max(childrenCPU()-cpu0, 0)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("job %s: %w", id, err)
	}
	if !bytes.Equal(got, []byte(want)) {
		return 0, 0, nil, fmt.Errorf("job %s: result %q, want %q (the native count)", id, got, want)
	}
	watched.Wait()
	ran := unitsRan{}
	for _, u := range info.Units {
		for _, rc := range u.Receipts {
			if st != nil {
				st.sandbox = append(st.sandbox, rc.Took)
			}
			ran[rc.Worker]++
		}
	}
	for w := range ran {
		if !slices.ContainsFunc(s.workers, func(n *node.Node) bool { return n.Host().ID() == w }) {
			return 0, 0, nil, fmt.Errorf("job %s: a unit ran on %s, not a worker of this swarm", id, w)
		}
	}
	return took, cpu, ran, nil
}

// readAll reads the content c from n.
func readAll(ctx context.Context, n *node.Node, c cid.Cid) ([]byte, error) {
	r, err := n.Open(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("open result: %w", err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	return b, nil
}

// addCounts reads the primes outputs outs ("count\tN\n" each) from n and
// returns their sum in the same form, as the sum reduce would.
func addCounts(ctx context.Context, n *node.Node, outs []cid.Cid) ([]byte, error) {
	var total uint64
	for _, c := range outs {
		b, err := readAll(ctx, n, c)
		if err != nil {
			return nil, err
		}
		v, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "count\t")
		k, err := strconv.ParseUint(v, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("unit output %q: want count\tN", b)
		}
		total += k
	}
	return fmt.Appendf(nil, "count\t%d\n", total), nil
}

// addModules adds the primes module and the sum reduce to s's submitter.
func (s *swarm) addModules(ctx context.Context, bins examples) error {
	for name, b := range map[string]string{"primes": bins.wasm["primes"], "sum": bins.wasm["sum"]} {
		f, err := os.Open(b)
		if err != nil {
			return err
		}
		res, err := s.sub.AddReader(ctx, f, name+".wasm", share.AddOptions{})
		f.Close()
		if err != nil {
			return fmt.Errorf("add %s: %w", name, err)
		}
		if name == "primes" {
			s.module = res.Root
		} else {
			s.reduce = res.Root
		}
	}
	return nil
}
