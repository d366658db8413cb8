package simnet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/compute/sandbox"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// ComputeConfig configures the compute scenario. A zero field means the
// default in its comment.
type ComputeConfig struct {
	Net Config // Net.Nodes is set to Workers + 1
	// Workers is how many worker nodes there are; each gets 1, 2 or 4
	// slots and a speed of 0.5, 1 or 2 (seeded). Default 50.
	Workers int
	// Units is how many units the job has. Default 1000.
	Units int
	// UnitSeconds is how long a unit takes on a worker of speed 1.
	// Default 10s.
	UnitSeconds float64
	// Replicas is the job's replication. Default 1.
	Replicas int
	// Wrong is the fraction of workers that return a wrong output for
	// every unit (the adversary scenario), each a different one: they do
	// not collude. Default 0.
	Wrong float64
	// Settle is the virtual time the nodes have to join. Default 10s.
	Settle time.Duration
	// Churn is the fraction of the workers (rounded; at least one stays)
	// that leave while the job runs, each replaced by a new worker of the
	// same model that joins. They leave evenly as the runs done pass
	// 1/(n+1), 2/(n+1), … of Units × Replicas; their runs in progress fail
	// and are reassigned. Default 0.
	Churn float64
}

func (c ComputeConfig) withDefaults() ComputeConfig {
	if c.Workers == 0 {
		c.Workers = 50
	}
	if c.Units == 0 {
		c.Units = 1000
	}
	if c.UnitSeconds == 0 {
		c.UnitSeconds = 10
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Settle == 0 {
		c.Settle = 10 * time.Second
	}
	c.Net.Nodes = c.Workers + 1
	return c
}

// workPerUnit is the range width of one unit; a worker of speed 1 does
// workPerUnit/UnitSeconds of it per second.
const workPerUnit = 1000

// modelRunner runs a unit by sleeping its modelled cost (its range's width
// over the worker's speed) in virtual time and printing the sum of its
// range; a wrong runner adds its own offset, so that two liars never
// agree (independent faults, not collusion).
type modelRunner struct {
	rate  float64 // range width per second
	wrong bool
	node  int
	rec   *runRecorder
}

// runRecorder collects when every modelled run started and ended, for the
// report's utilisation figures. Safe for concurrent use.
type runRecorder struct {
	mu   sync.Mutex
	runs []runSpan
	// trig, when set, observes the fraction of want runs done.
	trig       *churnTrigger
	want, done int
}

// runSpan is one modelled run: from when to when, and whether it was
// cancelled (a backup's loser, a run no longer needed).
type runSpan struct {
	start, end time.Time
	canceled   bool
}

func (r *runRecorder) add(start, end time.Time, canceled bool) {
	r.mu.Lock()
	r.runs = append(r.runs, runSpan{start, end, canceled})
	if !canceled {
		r.done++
	}
	frac := float64(r.done) / float64(max(r.want, 1))
	r.mu.Unlock()
	r.trig.observe(frac)
}

// span returns the first start, the busy slot time and the number of runs
// recorded, and how many of them were cancelled.
func (r *runRecorder) span() (first time.Time, busy time.Duration, runs, canceled int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.runs {
		if first.IsZero() || x.start.Before(first) {
			first = x.start
		}
		busy += x.end.Sub(x.start)
		if x.canceled {
			canceled++
		}
	}
	return first, busy, len(r.runs), canceled
}

func (m modelRunner) RunUnit(ctx context.Context, u sandbox.Unit) (sandbox.Result, error) {
	lo, hi, err := unitRange(u.Args)
	if err != nil {
		return sandbox.Result{}, &sandbox.Error{Reason: sandbox.ReasonExit, ExitCode: 2, Detail: err.Error()}
	}
	d := time.Duration(float64(hi-lo) / m.rate * float64(time.Second))
	start := time.Now()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		if m.rec != nil {
			m.rec.add(start, time.Now(), true)
		}
		return sandbox.Result{}, &sandbox.Error{Reason: sandbox.ReasonCanceled, Detail: "canceled", Err: ctx.Err()}
	}
	if m.rec != nil {
		m.rec.add(start, time.Now(), false)
	}
	out := rangeSum(lo, hi)
	if m.wrong {
		out = rangeSum(lo, hi+int64(m.node)+1)
	}
	return sandbox.Result{Stdout: out, Duration: d}, nil
}

func unitRange(args []string) (lo, hi int64, err error) {
	if len(args) < 2 {
		return 0, 0, errors.New("want a range as the last two arguments")
	}
	lo, err1 := strconv.ParseInt(args[len(args)-2], 10, 64)
	hi, err2 := strconv.ParseInt(args[len(args)-1], 10, 64)
	if err := errors.Join(err1, err2); err != nil || hi < lo {
		return 0, 0, fmt.Errorf("bad range %q", args)
	}
	return lo, hi, nil
}

// rangeSum is a unit's correct output: the sum of [lo, hi).
func rangeSum(lo, hi int64) []byte {
	n := hi - lo
	return []byte(strconv.FormatInt((lo+hi-1)*n/2, 10) + "\n")
}

// rawCID is the CID share gives a small file with raw leaves.
func rawCID(b []byte) cid.Cid {
	sum := sha256.Sum256(b)
	m, _ := mh.Encode(sum[:], mh.SHA2_256)
	return cid.NewCidV1(cid.Raw, m)
}

// WorkerModel is one worker's modelled capacity.
type WorkerModel struct {
	Node  int     `json:"node"`
	Slots int     `json:"slots"`
	Speed float64 `json:"speed"`
	Wrong bool    `json:"wrong,omitempty"`
	// Left is set on a worker that left during the job (churn), Joined on
	// one that joined in its place.
	Left   bool `json:"left,omitempty"`
	Joined bool `json:"joined,omitempty"`
	Units  int  `json:"units"` // units whose accepted result it signed
	// Outvoted counts the units whose vote this worker's output lost.
	Outvoted int `json:"outvoted,omitempty"`
}

// ComputeReport is the compute scenario's outcome.
type ComputeReport struct {
	Scenario string        `json:"scenario"`
	Seed     uint64        `json:"seed"`
	Units    int           `json:"units"`
	Replicas int           `json:"replicas"`
	Workers  []WorkerModel `json:"workers"`
	State    string        `json:"state"`
	Error    string        `json:"error,omitempty"`
	// Makespan is submit to the job's end, in virtual time. Bound is
	// max(total work / total speed, one unit on the fastest worker).
	Makespan time.Duration `json:"makespan_ns"`
	Bound    time.Duration `json:"bound_ns"`
	Ratio    float64       `json:"ratio"`
	// UnitBound is the tighter bound of whole units: the least time by
	// which the slots, each running units back to back at its speed, can
	// have finished them all. No schedule beats it.
	UnitBound time.Duration `json:"unit_bound_ns"`
	// Failures are failed runs that were reassigned; Faulty counts
	// (unit, worker) pairs outvoted.
	Failures int `json:"failures"`
	Faulty   int `json:"faulty"`
	// Churn is ComputeConfig.Churn; Left counts the workers that left
	// during the job, Joined those that joined in their place.
	Churn  float64 `json:"churn,omitempty"`
	Left   int     `json:"left,omitempty"`
	Joined int     `json:"joined,omitempty"`
	// WrongAccepted counts units whose accepted output is not the correct
	// one.
	WrongAccepted int `json:"wrong_accepted"`
	// FirstRun is submit to the first run's start; Runs counts the runs
	// started (more than Units x Replicas when runs were reassigned or
	// backed up), Canceled those cancelled (a backup's loser, a replica no
	// longer needed); Busy is the slot time spent running over the slot
	// time available from submit to the job's end.
	FirstRun time.Duration `json:"first_run_ns"`
	Runs     int           `json:"runs"`
	Canceled int           `json:"canceled"`
	Busy     float64       `json:"busy"`
	Virtual  time.Duration `json:"virtual_ns"`
	Wall     time.Duration `json:"wall_ns"`
}

// RunCompute runs the compute scenario: one submitter and Workers
// heterogeneous workers (the real compute submitter, worker, scheduler and
// protocol; units cost modelled time instead of running WebAssembly); one
// job of Units units split over a range; makespan against the lower bound,
// reassignments, and whether every accepted output is correct. Call it
// inside a synctest bubble.
func RunCompute(ctx context.Context, cfg ComputeConfig) (rep ComputeReport, err error) {
	cfg = cfg.withDefaults()
	wallStart, start := wallNow(), time.Now()
	rng := rand.New(rand.NewPCG(cfg.Net.Seed, 4))
	models := make([]WorkerModel, cfg.Workers)
	nWrong := int(math.Round(cfg.Wrong * float64(cfg.Workers)))
	wrongIdx := rng.Perm(cfg.Workers)[:nWrong]
	for i := range models {
		models[i] = WorkerModel{Node: i + 1, Slots: []int{1, 2, 4}[rng.IntN(3)], Speed: []float64{0.5, 1, 2}[rng.IntN(3)]}
	}
	for _, i := range wrongIdx {
		models[i].Wrong = true
	}
	if !(cfg.Churn >= 0 && cfg.Churn < 1) {
		return rep, errors.New("simnet: compute: Churn must be in [0, 1)")
	}
	// Churn: the leavers and their replacements' regions, seeded.
	crng := rand.New(rand.NewPCG(cfg.Net.Seed, 8))
	nLeave := max(min(int(math.Round(cfg.Churn*float64(cfg.Workers))), cfg.Workers-1), 0)
	leavers := crng.Perm(cfg.Workers)[:nLeave]
	regions := cfg.Net.withDefaults().Regions
	joinRegions := make([]Region, nLeave)
	for k := range joinRegions {
		joinRegions[k] = regions[crng.IntN(len(regions))]
	}
	// all is every worker's model by node index - 1: the first Workers,
	// then those that joined.
	var mmu sync.Mutex
	all := slices.Clone(models)
	modelOf := func(i int) (WorkerModel, bool) {
		mmu.Lock()
		defer mmu.Unlock()
		if i < 1 || i > len(all) {
			return WorkerModel{}, false
		}
		return all[i-1], true
	}
	rate := workPerUnit / cfg.UnitSeconds
	trig := newChurnTrigger(nLeave)
	rec := &runRecorder{trig: trig, want: cfg.Units * cfg.Replicas}
	cfg.Net.Runner = func(i int) compute.Runner {
		m, ok := modelOf(i)
		if !ok {
			return nil
		}
		return modelRunner{rate: rate * m.Speed, wrong: m.Wrong, node: i, rec: rec}
	}
	userNode := cfg.Net.Node
	cfg.Net.Node = func(i int, c *node.Config) {
		if m, ok := modelOf(i); ok {
			c.Compute.Slots = m.Slots
			c.Compute.UnitTimeout = time.Duration(cfg.UnitSeconds*4) * time.Second
		}
		if userNode != nil {
			userNode(i, c)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	net, err := Start(ctx, cfg.Net)
	if err != nil {
		return rep, err
	}
	defer func() {
		err = errors.Join(err, net.Close())
		rep.Virtual, rep.Wall = time.Since(start), wallNow().Sub(wallStart)
	}()
	rep = ComputeReport{Scenario: "compute", Seed: cfg.Net.Seed, Units: cfg.Units, Replicas: cfg.Replicas, Workers: models, Churn: cfg.Churn}
	time.Sleep(cfg.Settle)

	sub := net.Peers()[0].Node
	module := append([]byte("\x00asm\x01\x00\x00\x00"), []byte("simnet modelled module")...)
	mod, err := sub.AddReader(ctx, bytes.NewReader(module), "model.wasm", share.AddOptions{})
	if err != nil {
		return rep, fmt.Errorf("simnet: compute: add module: %w", err)
	}
	spec := compute.JobSpec{
		Module:   mod.Root,
		Split:    compute.Split{Kind: compute.SplitRange, N: cfg.Units, From: 0, To: int64(cfg.Units) * workPerUnit},
		Replicas: cfg.Replicas,
		Timeout:  time.Duration(cfg.UnitSeconds*4) * time.Second,
	}
	t0 := time.Now()
	id, err := sub.Submitter().Submit(ctx, spec)
	if err != nil {
		return rep, fmt.Errorf("simnet: compute: submit: %w", err)
	}
	jobDone := make(chan struct{})
	var churnWG sync.WaitGroup
	var churnErr error
	churnWG.Go(func() {
		_, churnErr = trig.run(ctx, jobDone, func(k int) error {
			v := leavers[k] + 1 // node index of the worker
			if err := net.Leave(v); err != nil {
				return err
			}
			mmu.Lock()
			all[v-1].Left = true
			m := all[v-1]
			m.Node, m.Left, m.Joined, m.Units, m.Outvoted = len(all)+1, false, true, 0, 0
			all = append(all, m)
			mmu.Unlock()
			rep.Left++
			p, err := net.Join(joinRegions[k])
			if err != nil {
				return err
			}
			if p.Index != m.Node {
				return fmt.Errorf("joined node %d, want %d", p.Index, m.Node)
			}
			rep.Joined++
			return nil
		})
	})
	info, err := sub.Submitter().Wait(ctx, id)
	close(jobDone)
	churnWG.Wait()
	if err != nil {
		return rep, fmt.Errorf("simnet: compute: wait: %w", err)
	}
	if churnErr != nil {
		return rep, fmt.Errorf("simnet: compute: churn: %w", churnErr)
	}
	rep.Workers = slices.Clone(all)
	rep.Makespan = time.Since(t0)
	first, busy, runs, canceled := rec.span()
	rep.FirstRun = first.Sub(t0)
	rep.Runs, rep.Canceled = runs, canceled
	rep.State, rep.Error = info.State.String(), info.Error

	var capacity, fastest float64
	slots := 0
	for _, m := range models {
		slots += m.Slots
		if !m.Wrong || cfg.Replicas > 1 {
			capacity += float64(m.Slots) * m.Speed
			fastest = max(fastest, m.Speed)
		}
	}
	total := float64(cfg.Units*cfg.Replicas) * cfg.UnitSeconds
	rep.Bound = time.Duration(max(total/capacity, cfg.UnitSeconds/fastest) * float64(time.Second))
	rep.Ratio = math.Round(float64(rep.Makespan)/float64(rep.Bound)*1000) / 1000
	rep.UnitBound = unitBound(models, cfg.Units*cfg.Replicas, cfg.UnitSeconds, cfg.Replicas > 1)
	if rep.Makespan > 0 && slots > 0 {
		rep.Busy = math.Round(float64(busy)/float64(rep.Makespan)/float64(slots)*1000) / 1000
	}

	byPeer := map[peer.ID]int{}
	for _, p := range net.Peers() {
		byPeer[p.ID()] = p.Index
	}
	for _, u := range info.Units {
		if u.Reduce {
			continue
		}
		rep.Failures += len(u.Failures)
		rep.Faulty += len(u.Faulty)
		for _, w := range u.Faulty {
			if i, ok := byPeer[w]; ok && i >= 1 && i <= len(rep.Workers) {
				rep.Workers[i-1].Outvoted++
			}
		}
		lo, hi, err := unitRange(u.Args)
		if err != nil || !u.Output.Defined() || u.Output != rawCID(rangeSum(lo, hi)) {
			rep.WrongAccepted++
		}
		for _, rc := range u.Receipts {
			if i, ok := byPeer[rc.Worker]; ok && i >= 1 && i <= len(rep.Workers) {
				rep.Workers[i-1].Units++
			}
		}
	}
	return rep, nil
}

func (r ComputeReport) unitRatio() float64 {
	if r.UnitBound <= 0 {
		return 0
	}
	return math.Round(float64(r.Makespan)/float64(r.UnitBound)*1000) / 1000
}

// unitBound is the least time by which the slots can have finished n whole
// units of unitSeconds (at speed 1) each: a slot of speed v ends at most
// floor(T*v/unitSeconds) units by T. Liars count only with replicas.
func unitBound(models []WorkerModel, n int, unitSeconds float64, liars bool) time.Duration {
	done := func(t float64) int {
		c := 0
		for _, m := range models {
			if !m.Wrong || liars {
				c += m.Slots * int(math.Floor(t*m.Speed/unitSeconds+1e-9))
			}
		}
		return c
	}
	best := math.Inf(1)
	for _, m := range models {
		if m.Wrong && !liars {
			continue
		}
		d := unitSeconds / m.Speed
		// The bound ends with some slot finishing its k-th unit.
		lo, hi := 1, n
		for lo < hi {
			k := (lo + hi) / 2
			if done(float64(k)*d) >= n {
				hi = k
			} else {
				lo = k + 1
			}
		}
		if t := float64(lo) * d; done(t) >= n {
			best = min(best, t)
		}
	}
	if math.IsInf(best, 1) {
		return 0
	}
	return time.Duration(best * float64(time.Second))
}

// WriteTable prints r as a human-readable table.
func (r ComputeReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	slots, wrong, workers := 0, 0, 0
	for _, m := range r.Workers {
		if m.Joined {
			continue
		}
		workers++
		slots += m.Slots
		if m.Wrong {
			wrong++
		}
	}
	fmt.Fprintf(&b, "simnet compute: %d units x %d replicas on %d workers (%d slots, speeds 0.5/1/2, %d returning wrong outputs), seed %d\n",
		r.Units, r.Replicas, workers, slots, wrong, r.Seed)
	if r.Churn > 0 {
		fmt.Fprintf(&b, "churn %.0f%%: %d workers left during the job, %d joined in their place; their runs in progress failed and were reassigned\n",
			r.Churn*100, r.Left, r.Joined)
	}
	fmt.Fprintf(&b, "job %s; makespan %s, lower bound %s, ratio %.3f; failed runs reassigned %d, outvoted %d, wrong results accepted %d\n",
		r.State, r.Makespan.Round(time.Millisecond), r.Bound.Round(time.Millisecond), r.Ratio, r.Failures, r.Faulty, r.WrongAccepted)
	fmt.Fprintf(&b, "bound of whole units %s (ratio %.3f); first run %s after submit; %d runs (%d cancelled); slots busy %.1f%% of the makespan\n",
		r.UnitBound.Round(time.Millisecond), r.unitRatio(), r.FirstRun.Round(time.Millisecond), r.Runs, r.Canceled, r.Busy*100)
	if r.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", r.Error)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "slots x speed\tworkers\tunits (mean per worker)")
	type key struct {
		s int
		v float64
	}
	agg := map[key][2]int{}
	for _, m := range r.Workers {
		a := agg[key{m.Slots, m.Speed}]
		agg[key{m.Slots, m.Speed}] = [2]int{a[0] + 1, a[1] + m.Units}
	}
	for _, s := range []int{1, 2, 4} {
		for _, v := range []float64{0.5, 1, 2} {
			if a, ok := agg[key{s, v}]; ok {
				fmt.Fprintf(tw, "%d x %.1f\t%d\t%.1f\n", s, v, a[0], float64(a[1])/float64(a[0]))
			}
		}
	}
	tw.Flush()
	fmt.Fprintf(&b, "time: %s virtual, %s wall\n", r.Virtual.Round(time.Millisecond), r.Wall.Round(time.Millisecond))
	_, err := io.WriteString(w, b.String())
	return err
}
