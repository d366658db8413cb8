package simnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"text/tabwriter"
	"time"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/compute/sandbox"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/marcopolo/simnet"
)

// LocalityConfig configures the locality scenario. A zero field means the
// default in its comment.
type LocalityConfig struct {
	Net Config // Net.Nodes is set to Workers + 1; Net.BitsPerSecond is divided by Scale
	// Workers is how many worker nodes there are; each gets 1 slot and a
	// speed of 1 or 2 (seeded). Default 64.
	Workers int
	// Inputs is how many inputs the job has, one unit each; input i is
	// stored on worker i mod Workers. Default 64.
	Inputs int
	// InputMiB is the modelled size of each input. Default 64.
	InputMiB int
	// Scale divides the real bytes of every input and every link's rate
	// (and the scheduler's assumed transfer rate), so that transfers take
	// the modelled time while the simulation holds Scale times fewer
	// bytes. Default 64.
	Scale int
	// UnitSeconds is how long a unit takes on a worker of speed 1.
	// Default 10s.
	UnitSeconds float64
	// Settle is the virtual time the nodes have to join. Default 10s.
	Settle time.Duration
	// SlowLinks, when above 1, turns the scenario into the link-rate
	// one: every other worker's links (up and down) are SlowLinks times
	// slower than Net.BitsPerSecond, the inputs sit on the submitter
	// (whose links carry Workers times Net.BitsPerSecond, so that it is
	// never the bottleneck) where every unit must fetch its input, and
	// the two runs compare the link rates the scheduler measures from the
	// workers' fetch reports with Net.BitsPerSecond for every worker
	// (compute.sched.ignore_link_rates). Inputs then defaults to
	// 4 × Workers.
	SlowLinks int
}

func (c LocalityConfig) withDefaults() LocalityConfig {
	if c.Workers == 0 {
		c.Workers = 64
	}
	if c.Inputs == 0 {
		c.Inputs = 64
		if c.SlowLinks > 1 {
			c.Inputs = 4 * c.Workers
		}
	}
	if c.InputMiB == 0 {
		c.InputMiB = 64
	}
	if c.Scale == 0 {
		c.Scale = 64
	}
	if c.UnitSeconds == 0 {
		c.UnitSeconds = 10
	}
	if c.Settle == 0 {
		c.Settle = 10 * time.Second
	}
	if c.Net.BitsPerSecond == 0 {
		c.Net.BitsPerSecond = 100_000_000
	}
	c.Net.Nodes = c.Workers + 1
	return c
}

// LocalityRun is one run of the locality scenario's job.
type LocalityRun struct {
	Locality bool `json:"locality"`
	// LinkRates says the scheduler used the link rates it measured (the
	// link-rate scenario; always true in the locality one).
	LinkRates bool          `json:"link_rates"`
	State     string        `json:"state"`
	Error     string        `json:"error,omitempty"`
	Makespan  time.Duration `json:"makespan_ns"`
	// Moved is how many of the accepted runs ran on a worker that did not
	// hold their input, and MovedMiB their inputs' modelled size: the
	// bytes moved to run the job.
	Moved    int     `json:"moved"`
	MovedMiB float64 `json:"moved_mib"`
	// Slow is how many accepted runs ran on a slow-link worker (the
	// link-rate scenario). FastMbps and SlowMbps are the mean link rates
	// the scheduler measured on the fast-link and slow-link workers, in
	// modelled Mbit/s (0: none measured).
	Slow     int     `json:"slow"`
	FastMbps float64 `json:"fast_mbps,omitempty"`
	SlowMbps float64 `json:"slow_mbps,omitempty"`
}

// LocalityReport is the locality scenario's outcome: the same job on the
// same network, with the scheduler's data locality on and off
// (compute.sched.ignore_locality).
type LocalityReport struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	Workers  int    `json:"workers"`
	Inputs   int    `json:"inputs"`
	InputMiB int    `json:"input_mib"`
	Scale    int    `json:"scale"`
	// SlowLinks is LocalityConfig.SlowLinks: when above 1, On and Off
	// are the runs with measured link rates and without.
	SlowLinks int           `json:"slow_links,omitempty"`
	On        LocalityRun   `json:"on"`
	Off       LocalityRun   `json:"off"`
	Virtual   time.Duration `json:"virtual_ns"`
	Wall      time.Duration `json:"wall_ns"`
}

// RunLocality runs the locality scenario: a job of one unit per input
// (the real compute submitter, workers, scheduler and protocol; units
// sleep their modelled time), whose inputs sit on different workers, once
// with data locality and once without, each on a fresh network built from
// the same seed. Call it inside a synctest bubble.
func RunLocality(ctx context.Context, cfg LocalityConfig) (rep LocalityReport, err error) {
	cfg = cfg.withDefaults()
	if cfg.Scale < 1 || cfg.InputMiB < 1 || int64(cfg.InputMiB)<<20 < int64(cfg.Scale) {
		return rep, errors.New("simnet: locality: want InputMiB >= 1 and Scale in [1, InputMiB MiB]")
	}
	wallStart, start := wallNow(), time.Now()
	rep = LocalityReport{Scenario: "locality", Seed: cfg.Net.Seed, Workers: cfg.Workers, Inputs: cfg.Inputs, InputMiB: cfg.InputMiB, Scale: cfg.Scale}
	if cfg.SlowLinks > 1 {
		rep.Scenario, rep.SlowLinks = "link-rates", cfg.SlowLinks
	}
	defer func() { rep.Virtual, rep.Wall = time.Since(start), wallNow().Sub(wallStart) }()
	if rep.On, err = runLocality(ctx, cfg, false); err != nil {
		return rep, err
	}
	rep.Off, err = runLocality(ctx, cfg, true)
	return rep, err
}

// slow reports whether worker i (0-based) is on a slow link in the
// link-rate scenario.
func (c LocalityConfig) slow(i int) bool { return c.SlowLinks > 1 && i%2 == 1 }

// sleepRunner runs a unit by sleeping d in virtual time.
type sleepRunner struct{ d time.Duration }

func (r sleepRunner) RunUnit(ctx context.Context, u sandbox.Unit) (sandbox.Result, error) {
	t := time.NewTimer(r.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return sandbox.Result{}, &sandbox.Error{Reason: sandbox.ReasonCanceled, Detail: "canceled", Err: ctx.Err()}
	}
	return sandbox.Result{Stdout: []byte("ok\n"), Duration: r.d}, nil
}

// runLocality runs the job once: with ignore, without data locality (the
// locality scenario) or without measured link rates (the link-rate one).
func runLocality(ctx context.Context, cfg LocalityConfig, ignore bool) (run LocalityRun, err error) {
	links := cfg.SlowLinks > 1
	run.Locality = !ignore || links
	run.LinkRates = !ignore || !links
	rng := rand.New(rand.NewPCG(cfg.Net.Seed, 9))
	speeds := make([]float64, cfg.Workers)
	for i := range speeds {
		speeds[i] = []float64{1, 2}[rng.IntN(2)]
	}
	nc := cfg.Net
	nc.BitsPerSecond = max(cfg.Net.BitsPerSecond/cfg.Scale, 1)
	nc.Runner = func(i int) compute.Runner {
		if i < 1 || i > cfg.Workers {
			return nil
		}
		return sleepRunner{d: time.Duration(cfg.UnitSeconds / speeds[i-1] * float64(time.Second))}
	}
	userNode := cfg.Net.Node
	nc.Node = func(i int, c *node.Config) {
		c.Compute.Slots = 1
		c.Compute.UnitTimeout = time.Duration(cfg.UnitSeconds*10) * time.Second
		c.Compute.Sched.IgnoreLocality = ignore && !links
		c.Compute.Sched.IgnoreLinkRates = ignore && links
		c.Compute.Sched.TransferRate = float64(nc.BitsPerSecond) / 8
		if userNode != nil {
			userNode(i, c)
		}
	}
	if links {
		userLinks := cfg.Net.Links
		nc.Links = func(i int, l *simnet.NodeBiDiLinkSettings) {
			if userLinks != nil {
				userLinks(i, l)
			}
			switch {
			case i == 0: // the submitter, which serves every input
				l.Uplink.BitsPerSecond = nc.BitsPerSecond * cfg.Workers
				l.Downlink.BitsPerSecond = nc.BitsPerSecond * cfg.Workers
			case i <= cfg.Workers && cfg.slow(i-1):
				l.Uplink.BitsPerSecond = max(nc.BitsPerSecond/cfg.SlowLinks, 1)
				l.Downlink.BitsPerSecond = max(nc.BitsPerSecond/cfg.SlowLinks, 1)
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	net, err := Start(ctx, nc)
	if err != nil {
		return run, err
	}
	defer func() { err = errors.Join(err, net.Close()) }()
	time.Sleep(cfg.Settle)

	peers := net.Peers()
	holder := map[cid.Cid]peer.ID{}
	var inputs []cid.Cid
	size := (int64(cfg.InputMiB) << 20) / int64(cfg.Scale)
	for i := range cfg.Inputs {
		data := make([]byte, size)
		r := rand.New(rand.NewPCG(cfg.Net.Seed, uint64(i)))
		for k := range data {
			data[k] = byte(r.Uint32())
		}
		p := peers[1+i%cfg.Workers]
		if links {
			p = peers[0]
		}
		res, err := p.Node.AddReader(ctx, bytes.NewReader(data), fmt.Sprintf("in%d", i), share.AddOptions{})
		if err != nil {
			return run, fmt.Errorf("simnet: locality: add input %d: %w", i, err)
		}
		inputs = append(inputs, res.Root)
		holder[res.Root] = p.ID()
	}
	time.Sleep(cfg.Settle) // the announcements
	sub := peers[0].Node
	module := append([]byte("\x00asm\x01\x00\x00\x00"), []byte("simnet modelled module")...)
	mod, err := sub.AddReader(ctx, bytes.NewReader(module), "model.wasm", share.AddOptions{})
	if err != nil {
		return run, fmt.Errorf("simnet: locality: add module: %w", err)
	}
	t0 := time.Now()
	id, err := sub.Submitter().Submit(ctx, compute.JobSpec{
		Module: mod.Root, Inputs: inputs, Split: compute.Split{Kind: compute.SplitEachInput},
		Timeout: time.Duration(cfg.UnitSeconds*10) * time.Second,
	})
	if err != nil {
		return run, fmt.Errorf("simnet: locality: submit: %w", err)
	}
	info, err := sub.Submitter().Wait(ctx, id)
	if err != nil {
		return run, fmt.Errorf("simnet: locality: wait: %w", err)
	}
	run.Makespan = time.Since(t0)
	run.State, run.Error = info.State.String(), info.Error
	slow := map[peer.ID]bool{}
	for i := range cfg.Workers {
		if cfg.slow(i) {
			slow[peers[1+i].ID()] = true
		}
	}
	for _, u := range info.Units {
		if u.Reduce || len(u.Inputs) != 1 {
			continue
		}
		for _, rc := range u.Receipts {
			if rc.Worker != holder[u.Inputs[0]] {
				run.Moved++
			}
			if slow[rc.Worker] {
				run.Slow++
			}
		}
	}
	run.MovedMiB = float64(run.Moved * cfg.InputMiB)
	ws, err := sub.Submitter().Workers(ctx)
	if err != nil {
		return run, fmt.Errorf("simnet: locality: workers: %w", err)
	}
	var sums [2]float64
	var ns [2]int
	for _, w := range ws {
		if w.LinkMeasured {
			k := 0
			if slow[w.ID] {
				k = 1
			}
			sums[k] += w.LinkRate * 8 * float64(cfg.Scale) / 1e6
			ns[k]++
		}
	}
	if ns[0] > 0 {
		run.FastMbps = sums[0] / float64(ns[0])
	}
	if ns[1] > 0 {
		run.SlowMbps = sums[1] / float64(ns[1])
	}
	return run, nil
}

// WriteTable prints the report as a table.
func (r LocalityReport) WriteTable(w io.Writer) error {
	if r.SlowLinks > 1 {
		fmt.Fprintf(w, "simnet link rates: %d workers, half on links %d× slower, %d inputs of %d MiB on the submitter (bytes and links scaled 1/%d), seed %d; %v virtual, %v wall\n",
			r.Workers, r.SlowLinks, r.Inputs, r.InputMiB, r.Scale, r.Seed, r.Virtual.Round(time.Millisecond), r.Wall.Round(time.Millisecond))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "link rates\tstate\tmakespan\truns on slow links\tmeasured Mbit/s (fast, slow links)")
		for _, x := range []LocalityRun{r.On, r.Off} {
			word := "configured"
			if x.LinkRates {
				word = "measured"
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t%.1f, %.1f\n", word, x.State, x.Makespan.Round(time.Millisecond), x.Slow, x.FastMbps, x.SlowMbps)
		}
		return tw.Flush()
	}
	fmt.Fprintf(w, "simnet locality: %d workers, %d inputs of %d MiB (bytes and links scaled 1/%d), seed %d; %v virtual, %v wall\n",
		r.Workers, r.Inputs, r.InputMiB, r.Scale, r.Seed, r.Virtual.Round(time.Millisecond), r.Wall.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "locality\tstate\tmakespan\tinputs moved\tMiB moved")
	for _, x := range []LocalityRun{r.On, r.Off} {
		word := "off"
		if x.Locality {
			word = "on"
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t%.0f\n", word, x.State, x.Makespan.Round(time.Millisecond), x.Moved, x.MovedMiB)
	}
	return tw.Flush()
}
