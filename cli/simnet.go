package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/enxame/enxame/simnet"
	"github.com/spf13/cobra"
)

type simnetFlags struct {
	scenario  string
	nodes     int
	seed      uint64
	regions   string
	churn     float64
	loss      float64
	mbps      int
	keys      int
	lookups   int
	bootstrap int
	settle    time.Duration
	plot      string
	providers int
	fetchers  int
	fileMiB   int
	provMbps  int
	droppers  float64
	workers   int
	units     int
	unitSecs  float64
	slowLinks int
	replicas  int
	wrong     float64
	corrupt   float64
	tier      string
	spread    time.Duration
}

// --tier auto's thresholds: full nodes over simulated QUIC up to
// autoFullMax nodes, full nodes on the in-memory mem tier up to autoMemMax,
// light nodes above. With --loss, which only the full tier models, auto
// keeps full nodes up to autoLossFullMax (the QUIC tier's memory limit on a
// 24 GB machine), light ones above.
const (
	autoFullMax     = 100
	autoMemMax      = 1000
	autoLossFullMax = 500
)

// pickTier resolves --tier for a dht scenario of nodes nodes with packet
// loss loss.
func pickTier(tier string, nodes int, loss float64) (string, error) {
	switch tier {
	case "auto":
		switch {
		case loss > 0 && nodes <= autoLossFullMax, nodes <= autoFullMax:
			return simnet.TierFull, nil
		case loss == 0 && nodes <= autoMemMax:
			return simnet.TierMem, nil
		}
		return simnet.TierLight, nil
	case simnet.TierMem:
		if loss > 0 {
			return "", errors.New("--tier mem models no packet loss (use --tier full)")
		}
		return tier, nil
	case simnet.TierFull, simnet.TierLight:
		return tier, nil
	}
	return "", fmt.Errorf("unknown tier %q (full, mem, light or auto)", tier)
}

// simnetScenarios are the scenarios of --scenario.
var simnetScenarios = []string{"dht", "churn", "adversary", "fetch", "compute", "search", "locality"}

// simnetFlagScenarios names the scenarios each scenario-specific flag
// applies to. Setting one for another scenario is a usage error rather
// than a flag silently ignored. Flags not listed apply to every scenario.
var simnetFlagScenarios = map[string][]string{
	"nodes":         {"dht", "churn", "adversary", "fetch", "search"},
	"tier":          {"dht", "churn", "adversary", "search"},
	"join-spread":   {"dht", "churn", "adversary", "search"},
	"churn":         {"dht", "churn", "adversary", "fetch", "compute"},
	"droppers":      {"dht", "churn", "adversary"},
	"keys":          {"dht", "churn", "adversary", "search"},
	"lookups":       {"dht", "churn", "adversary", "search"},
	"plot":          {"dht", "churn", "adversary", "fetch", "compute"},
	"providers":     {"fetch", "adversary"},
	"fetchers":      {"fetch", "adversary"},
	"file-mib":      {"fetch", "adversary"},
	"provider-mbps": {"fetch", "adversary"},
	"corrupt":       {"fetch", "adversary"},
	"workers":       {"compute", "adversary", "locality"},
	"units":         {"compute", "adversary"},
	"unit-seconds":  {"compute", "adversary", "locality"},
	"replicas":      {"compute", "adversary"},
	"wrong":         {"compute", "adversary"},
	"slow-links":    {"locality"},
}

// Upper bounds of flags whose large values would only exhaust memory or
// overflow a duration.
const (
	maxFileMiB   = 4096
	maxUnitSecs  = 86400
	maxSimMbps   = 1_000_000
	maxLookups   = 1_000_000
	maxSimUnits  = 10_000_000
	maxSimSettle = 24 * time.Hour
)

// checkSimnetFlags validates f for its scenario: every numeric flag in
// range, and no flag set (changed) that the scenario would ignore.
func checkSimnetFlags(f simnetFlags, changed func(string) bool) error {
	if !slices.Contains(simnetScenarios, f.scenario) {
		return fmt.Errorf("unknown scenario %q (dht, churn, adversary, fetch, compute, search, locality)", f.scenario)
	}
	for _, name := range slices.Sorted(maps.Keys(simnetFlagScenarios)) {
		if sc := simnetFlagScenarios[name]; changed(name) && !slices.Contains(sc, f.scenario) {
			return fmt.Errorf("--%s does not apply to --scenario %s (only to %s)", name, f.scenario, strings.Join(sc, ", "))
		}
	}
	in01 := func(x float64) bool { return x >= 0 && x < 1 } // false for NaN
	switch {
	case f.nodes < 2:
		return errors.New("simnet needs --nodes >= 2")
	case !in01(f.churn) || !in01(f.loss) || !in01(f.droppers) || !(f.churn+f.droppers < 0.9):
		return errors.New("--churn, --droppers and --loss must be in [0, 1), and churn + droppers below 0.9")
	case f.mbps < 1 || f.mbps > maxSimMbps:
		return fmt.Errorf("--mbps must be in [1, %d]", maxSimMbps)
	case f.keys < 1 || f.keys > maxLookups || f.lookups < 1 || f.lookups > maxLookups:
		return fmt.Errorf("--keys and --lookups must be in [1, %d]", maxLookups)
	case f.bootstrap < 1:
		return errors.New("--bootstrap must be >= 1")
	case f.scenario != "compute" && f.bootstrap >= f.nodes:
		return errors.New("--bootstrap must be below --nodes")
	case f.settle < 0 || f.settle > maxSimSettle || f.spread < 0 || f.spread > maxSimSettle:
		return fmt.Errorf("--settle and --join-spread must be in [0, %v]", maxSimSettle)
	case f.providers < 1 || f.fetchers < 1 || f.provMbps < 1 || f.provMbps > maxSimMbps:
		return fmt.Errorf("--providers and --fetchers must be >= 1, --provider-mbps in [1, %d]", maxSimMbps)
	case f.fileMiB < 1 || f.fileMiB > maxFileMiB:
		return fmt.Errorf("--file-mib must be in [1, %d]", maxFileMiB)
	case f.scenario == "fetch" && f.providers+f.fetchers > f.nodes-f.bootstrap:
		return errors.New("fetch needs --providers + --fetchers <= --nodes - --bootstrap")
	case f.workers < 1 || f.units < 1 || f.units > maxSimUnits:
		return fmt.Errorf("--workers must be >= 1, --units in [1, %d]", maxSimUnits)
	case !(f.unitSecs > 0 && f.unitSecs <= maxUnitSecs):
		return fmt.Errorf("--unit-seconds must be in (0, %d]", maxUnitSecs)
	case f.replicas < 1 || f.replicas > f.workers:
		return errors.New("--replicas must be in [1, --workers]")
	case !in01(f.wrong) || !in01(f.corrupt):
		return errors.New("--wrong and --corrupt must be in [0, 1)")
	case f.slowLinks != 0 && (f.slowLinks < 2 || f.slowLinks > 1000):
		return errors.New("--slow-links must be 0 (off) or in [2, 1000]")
	case f.scenario == "adversary" && !(f.droppers > 0 && f.corrupt > 0 && f.wrong > 0):
		return errors.New("adversary needs --droppers, --corrupt and --wrong above 0 (for none, run the dht, fetch or compute scenario)")
	}
	return nil
}

func newSimnetCmd(e *env) *cobra.Command {
	var f simnetFlags
	c := &cobra.Command{
		Use:   "simnet",
		Short: "Simulate a swarm of real enxame nodes in this process and measure it",
		Long: `simnet starts N real enxame nodes (DHT, share, compute submitter) in this
process on a simulated network: QUIC over a simulated packet network with
per-link latency between regions, per-node bandwidth and packet loss, in
virtual time (testing/synctest), so a minute of swarm life takes seconds of
wall time. It runs a scenario and prints a report.

Scenarios:
  dht    nodes join through a few bootstrap peers; keys are provided; FindPeer
         and FindProviders lookups run from random nodes: hops, peers queried,
         latency p50/p95/p99, success rate, routing-table sizes.
  churn  the dht scenario with --churn nodes leaving and joining during the
         lookups (default 0.1).
  adversary
         three phases, each on a swarm of its own: the dht scenario with
         --droppers of the nodes (default 0.2) turning silent once settled
         (they stay in routing tables and accept DHT streams but never
         answer); the fetch scenario with --corrupt of the --providers
         (default 0.5 of 4) serving every block bit-flipped; the compute
         scenario with --wrong of the --workers (default 0.25 of 8) returning
         wrong outputs, --replicas 3, --units 30. It reports what was caught
         (requests never answered, corrupt blocks, providers dropped, liars
         outvoted) and the checks: wrong results accepted and corrupt bytes
         accepted must be 0.
  compute
         one job of --units units on --workers heterogeneous workers (1, 2 or
         4 slots; speed 0.5, 1 or 2): the real submitter, scheduler, worker
         and protocol, with each unit's run modelled as --unit-seconds of
         virtual time on a speed-1 worker; --wrong of the workers return
         wrong outputs (use --replicas 3): makespan against the lower bound,
         reassignments, outvoted workers, wrong results accepted; --churn of
         the workers leave during the job (each replaced by a new one) and
         their runs are reassigned.
  fetch  --providers nodes add the same --file-mib file (the real share store
         and exchange) with their uplinks capped to --provider-mbps;
         --fetchers nodes in different regions fetch it at once: time, rate,
         each provider's share, and whether the bytes are correct; with
         --corrupt, that fraction of the providers serve bit-flipped blocks;
         with --churn, that fraction of the (honest) providers leave during
         the fetches, each replaced by a new node.
  search --keys files, each with 3 keywords drawn from a Zipf distribution
         over 500 words, are published by one random node each (a signed
         record per keyword on the closest peers); --lookups searches from
         random nodes for a random file's keywords: success rate, latency
         p50/p95 until the file's record arrived, records stored per node
         (max and mean). Tiers as for dht (light: an in-memory transport).

Tiers (dht, churn, the dht phase of adversary): --tier full runs whole nodes over simulated
QUIC (per-node bandwidth, loss), ~10 MB and a few seconds of CPU each;
--tier mem runs the same whole nodes (DHT, share, compute, identify,
streams) on go-libp2p's in-memory mock network with the same per-pair
latencies and no QUIC or TLS, several times cheaper (no loss, bandwidth
per link); --tier light runs only each node's DHT router (the real kad-dht
lookups and request handlers) over an in-memory message layer with the same
latencies, ~100 times cheaper, for 10,000 nodes and more. --tier auto (the
default) picks full up to 100 nodes, mem up to 1,000, light above (with
--loss: full up to 500, light above).

The same --seed gives the same network, identities and workload.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			changed := cmd.Flags().Changed
			switch f.scenario {
			case "adversary":
				adversaryPreset(&f, changed)
			case "churn":
				if !changed("churn") {
					f.churn = 0.1
				}
			}
			if err := checkSimnetFlags(f, changed); err != nil {
				return usageError{err}
			}
			regions, err := simnet.ParseRegions(f.regions)
			if err != nil {
				return usageError{err}
			}
			switch f.scenario {
			case "fetch":
				return runSimnetFetch(cmd.Context(), e, f, regions)
			case "compute":
				return runSimnetCompute(cmd.Context(), e, f, regions)
			case "adversary":
				return runSimnetAdversary(cmd.Context(), e, f, regions)
			case "search":
				return runSimnetSearch(cmd.Context(), e, f, regions)
			case "locality":
				return runSimnetLocality(cmd.Context(), e, f, regions)
			}
			return runSimnetDHT(cmd.Context(), e, f, regions)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.scenario, "scenario", "dht", "scenario: dht, churn, adversary, fetch, compute or search")
	fl.StringVar(&f.tier, "tier", "auto", "dht, churn, adversary: full (QUIC), mem (whole nodes in memory), light (the DHT router alone) or auto (full up to 100 nodes, mem up to 1,000, light above)")
	fl.DurationVar(&f.spread, "join-spread", 0, "stagger the nodes' joins over this much virtual time (0: all at once)")
	fl.IntVar(&f.nodes, "nodes", 100, "nodes in the swarm")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of every random choice")
	fl.StringVar(&f.regions, "regions", "eu,us-east,us-west,asia", "regions the nodes are spread over (eu, us-east, us-west, asia, sa, oc)")
	fl.Float64Var(&f.churn, "churn", 0, "fraction of nodes that leave (and are replaced) during the lookups; fetch: of the providers, during the fetches; compute: of the workers, during the job")
	fl.Float64Var(&f.droppers, "droppers", 0, "fraction of nodes that swallow every DHT query once settled")
	fl.Float64Var(&f.loss, "loss", 0, "fraction of packets each node's uplink drops")
	fl.IntVar(&f.mbps, "mbps", 100, "each node's uplink and downlink in Mbit/s")
	fl.IntVar(&f.keys, "keys", 50, "CIDs provided before the lookups")
	fl.IntVar(&f.lookups, "lookups", 200, "lookups of each kind (FindPeer, FindProviders)")
	fl.IntVar(&f.bootstrap, "bootstrap", 3, "bootstrap peers")
	fl.DurationVar(&f.settle, "settle", 10*time.Second, "virtual time the nodes have to join before the workload")
	fl.StringVar(&f.plot, "plot", "", "write an SVG to this file: the lookup-latency CDF (dht, churn, adversary), the providers' shares (fetch), the makespan against its bounds (compute)")
	fl.IntVar(&f.providers, "providers", 4, "fetch: nodes holding the file")
	fl.IntVar(&f.fetchers, "fetchers", 2, "fetch: nodes fetching it at once, spread over the regions")
	fl.IntVar(&f.fileMiB, "file-mib", 8, "fetch: file size in MiB")
	fl.IntVar(&f.provMbps, "provider-mbps", 20, "fetch: each provider's uplink in Mbit/s")
	fl.IntVar(&f.workers, "workers", 50, "compute: worker nodes")
	fl.IntVar(&f.units, "units", 1000, "compute: units of the job")
	fl.Float64Var(&f.unitSecs, "unit-seconds", 60, "compute: a unit's run time on a speed-1 worker (virtual)")
	fl.IntVar(&f.replicas, "replicas", 1, "compute: workers per unit (majority vote)")
	fl.Float64Var(&f.wrong, "wrong", 0, "compute, adversary: fraction of workers returning wrong outputs (adversary default 0.25)")
	fl.Float64Var(&f.corrupt, "corrupt", 0, "fetch, adversary: fraction of providers serving bit-flipped blocks (adversary default 0.5)")
	fl.IntVar(&f.slowLinks, "slow-links", 0, "locality: put every other worker on links this many times slower and the inputs (4 per worker) on the submitter, and compare the scheduler's measured link rates with the configured rate")
	return c
}

// adversaryPreset gives the flags the adversary scenario's defaults
// (simnet.DefaultAdversaryConfig) where they were not set.
func adversaryPreset(f *simnetFlags, changed func(string) bool) {
	d := simnet.DefaultAdversaryConfig()
	for name, set := range map[string]func(){
		"droppers":     func() { f.droppers = d.Droppers },
		"corrupt":      func() { f.corrupt = d.Corrupt },
		"wrong":        func() { f.wrong = d.Wrong },
		"providers":    func() { f.providers = d.Providers },
		"fetchers":     func() { f.fetchers = d.Fetchers },
		"file-mib":     func() { f.fileMiB = max(d.FileBytes>>20, 1) },
		"workers":      func() { f.workers = d.Workers },
		"units":        func() { f.units = d.Units },
		"unit-seconds": func() { f.unitSecs = d.UnitSeconds },
		"replicas":     func() { f.replicas = d.Replicas },
	} {
		if !changed(name) {
			set()
		}
	}
}

func runSimnetAdversary(ctx context.Context, e *env, f simnetFlags, regions []simnet.Region) error {
	tier, err := pickTier(f.tier, f.nodes, f.loss)
	if err != nil {
		return usageError{err}
	}
	cfg := simnet.AdversaryConfig{
		Net: simnet.Config{
			Nodes: f.nodes, Seed: f.seed, Regions: regions, Bootstraps: f.bootstrap,
			BitsPerSecond: f.mbps * 1_000_000, Loss: f.loss, Tier: tier, JoinSpread: f.spread,
		},
		Settle: f.settle, Droppers: f.droppers, Churn: f.churn, Keys: f.keys, Lookups: f.lookups,
		Providers: f.providers, Corrupt: f.corrupt, Fetchers: f.fetchers, FileBytes: f.fileMiB << 20,
		ProviderBitsPerSecond: f.provMbps * 1_000_000,
		Workers:               f.workers, Units: f.units, UnitSeconds: f.unitSecs, Replicas: f.replicas, Wrong: f.wrong,
	}
	var rep simnet.AdversaryReport
	err = simnet.Bubble("simnet-adversary", func() error {
		var err error
		rep, err = simnet.RunAdversary(context.WithoutCancel(ctx), cfg)
		return err
	})
	if err != nil {
		return err
	}
	return finishSimnet(e, f, rep, func(w io.Writer) error { return writeDHTPlot(w, rep.DHT) })
}

func runSimnetCompute(ctx context.Context, e *env, f simnetFlags, regions []simnet.Region) error {
	cfg := simnet.ComputeConfig{
		Net:     simnet.Config{Seed: f.seed, Regions: regions, Bootstraps: f.bootstrap, BitsPerSecond: f.mbps * 1_000_000, Loss: f.loss},
		Workers: f.workers, Units: f.units, UnitSeconds: f.unitSecs, Replicas: f.replicas, Wrong: f.wrong, Settle: f.settle,
		Churn: f.churn,
	}
	var rep simnet.ComputeReport
	err := simnet.Bubble("simnet-compute", func() error {
		var err error
		rep, err = simnet.RunCompute(context.WithoutCancel(ctx), cfg)
		return err
	})
	if err != nil {
		return err
	}
	return finishSimnet(e, f, rep, func(w io.Writer) error { return simnet.WriteMakespan(w, rep) })
}

// runSimnetLocality runs the locality scenario: a job of one unit per
// input, inputs on different workers, with the scheduler's data locality
// on and off. --workers sets the workers and the inputs (one each; the
// figure takes 64).
func runSimnetLocality(ctx context.Context, e *env, f simnetFlags, regions []simnet.Region) error {
	cfg := simnet.LocalityConfig{
		Net:     simnet.Config{Seed: f.seed, Regions: regions, Bootstraps: f.bootstrap, BitsPerSecond: f.mbps * 1_000_000, Loss: f.loss},
		Workers: f.workers, Inputs: f.workers, UnitSeconds: f.unitSecs, Settle: f.settle,
		SlowLinks: f.slowLinks,
	}
	if f.slowLinks > 1 {
		cfg.Inputs = 0 // 4 per worker
	}
	var rep simnet.LocalityReport
	err := simnet.Bubble("simnet-locality", func() error {
		var err error
		rep, err = simnet.RunLocality(context.WithoutCancel(ctx), cfg)
		return err
	})
	if err != nil {
		return err
	}
	return finishSimnet(e, f, rep, nil)
}

// finishSimnet writes the scenario's picture with plot when --plot is set,
// then prints rep as JSON or as its table.
func finishSimnet(e *env, f simnetFlags, rep interface{ WriteTable(io.Writer) error }, plot func(io.Writer) error) error {
	if f.plot != "" {
		if err := writePlot(f.plot, plot); err != nil {
			return err
		}
	}
	if e.json {
		return e.printJSON(rep)
	}
	if err := rep.WriteTable(e.stdout); err != nil {
		return err
	}
	if f.plot != "" {
		fmt.Fprintf(e.stdout, "plot: %s\n", f.plot)
	}
	return nil
}

// writePlot creates path and writes a picture into it with write.
func writePlot(path string, write func(io.Writer) error) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	err = write(fh)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	return nil
}

func runSimnetFetch(ctx context.Context, e *env, f simnetFlags, regions []simnet.Region) error {
	cfg := simnet.FetchConfig{
		Net: simnet.Config{
			Nodes: f.nodes, Seed: f.seed, Regions: regions, Bootstraps: f.bootstrap,
			BitsPerSecond: f.mbps * 1_000_000, Loss: f.loss,
		},
		Providers: f.providers, Fetchers: f.fetchers, FileBytes: f.fileMiB << 20,
		ProviderBitsPerSecond: f.provMbps * 1_000_000, Settle: f.settle, Corrupt: f.corrupt, Churn: f.churn,
	}
	var rep simnet.FetchReport
	err := simnet.Bubble("simnet-fetch", func() error {
		var err error
		rep, err = simnet.RunFetch(context.WithoutCancel(ctx), cfg)
		return err
	})
	if err != nil {
		return err
	}
	return finishSimnet(e, f, rep, func(w io.Writer) error { return simnet.WriteShares(w, rep) })
}

func runSimnetDHT(ctx context.Context, e *env, f simnetFlags, regions []simnet.Region) error {
	tier, err := pickTier(f.tier, f.nodes, f.loss)
	if err != nil {
		return usageError{err}
	}
	cfg := simnet.DHTConfig{
		Net: simnet.Config{
			Nodes: f.nodes, Seed: f.seed, Regions: regions, Bootstraps: f.bootstrap,
			BitsPerSecond: f.mbps * 1_000_000, Loss: f.loss, Tier: tier, JoinSpread: f.spread,
		},
		Settle: f.settle, Keys: f.keys, FindPeer: f.lookups, FindProviders: f.lookups, Churn: f.churn,
		Droppers: f.droppers,
	}
	var rep simnet.DHTReport
	err = simnet.Bubble("simnet-dht", func() error {
		var err error
		// The bubble's virtual clock cannot see the caller's context;
		// an interrupt ends the run at the next lookup.
		if f.scenario == "churn" {
			rep, err = simnet.RunChurn(context.WithoutCancel(ctx), cfg)
		} else {
			rep, err = simnet.RunDHT(context.WithoutCancel(ctx), cfg)
		}
		return err
	})
	if err != nil {
		return err
	}
	return finishSimnet(e, f, rep, func(w io.Writer) error { return writeDHTPlot(w, rep) })
}

func runSimnetSearch(ctx context.Context, e *env, f simnetFlags, regions []simnet.Region) error {
	tier, err := pickTier(f.tier, f.nodes, f.loss)
	if err != nil {
		return usageError{err}
	}
	cfg := simnet.SearchConfig{
		Net: simnet.Config{
			Nodes: f.nodes, Seed: f.seed, Regions: regions, Bootstraps: f.bootstrap,
			BitsPerSecond: f.mbps * 1_000_000, Loss: f.loss, Tier: tier, JoinSpread: f.spread,
		},
		Settle: f.settle, Files: f.keys, Searches: f.lookups,
	}
	var rep simnet.SearchReport
	err = simnet.Bubble("simnet-search", func() error {
		var err error
		rep, err = simnet.RunSearch(context.WithoutCancel(ctx), cfg)
		return err
	})
	if err != nil {
		return err
	}
	return finishSimnet(e, f, rep, nil)
}

// writeDHTPlot draws the lookup-latency CDFs of rep.
func writeDHTPlot(w io.Writer, rep simnet.DHTReport) error {
	title := fmt.Sprintf("DHT lookup latency, %d nodes, churn %.0f%%, seed %d", rep.Nodes, rep.Churn*100, rep.Seed)
	series := []simnet.Series{
		{Name: "FindPeer", Samples: rep.FindPeer.Latencies},
		{Name: "FindProviders", Samples: rep.FindProviders.Latencies},
		{Name: "Provide", Samples: rep.Provide.Latencies},
	}
	if rep.Churn > 0 {
		series = append(series,
			simnet.Series{Name: "FindPeer, churn", Samples: rep.ChurnFindPeer.Latencies},
			simnet.Series{Name: "FindProviders, churn", Samples: rep.ChurnFindProviders.Latencies})
	}
	return simnet.WriteCDF(w, title, series)
}
