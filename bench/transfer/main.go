// Command transfer measures enxame's block exchange (package share,
// protocol /enxame/share/1.0.0) over loopback, in one run:
//
//   - raw:    one libp2p stream between two hosts of this process copying the
//     same bytes (the ceiling: TCP + security + yamux, no blocks, no hashing,
//     no store);
//   - raw-xproc: the same stream from the provider process (below) to this
//     one, after each fetch: the ceiling between the fetch's own two
//     processes, which share the machine's cores with their two Go runtimes;
//   - fetch:  Exchange.Fetch of a UnixFS DAG (CIDv1, raw leaves, 256 KiB
//     chunks) from a provider process (this binary with -serve, serving from
//     memory) into a share.Store on disk (-store pebble: a go-ds-pebble
//     blockstore instead); every block verified before it
//     is stored. Its peak Go heap (sampled every 10 ms) and peak RSS (VmHWM,
//     reset before the fetch) are the fetching process's alone;
//   - fetch-inproc: each round, the same fetch from a provider host of this
//     process (serving from a share.Store on disk, as a node does) into a
//     share.Store on disk: the raw
//     stream's own topology, two hosts of one process (-inproc=false skips
//     it);
//   - fetch-mem: the same into an in-memory blockstore (the protocol without
//     the fetcher's disk writes);
//   - multi:  the same from 4 provider hosts each capped at -rate bytes/s
//     (ExchangeConfig.ServeRateLimit), against the goal 0.8 × 4 × rate;
//   - kubo:   with -kubo, the Kubo→Kubo `ipfs pin add` baseline of
//     bench/kubo, run on a file of the same size.
//
// Raw and fetch run -rounds times, one after the other (raw 1, fetch 1, raw
// 2, ...): the ratio to the ceiling is the median of the rounds' ratios,
// each fetch compared with the raw stream measured just before it, because
// this kind of machine's speed drifts by tens of per cent within minutes.
//
// Hosts use go-libp2p's defaults (TCP on 127.0.0.1, TLS or Noise, yamux).
// MB/s is 10^6 bytes per second. Each measurement also reports the CPU time
// it took per GiB in this process and in the provider process: both share
// the machine's cores, so their sum bounds the rate on a small machine, and
// it is steadier than the rate when the machine is loaded.
// -provider-store store serves from a share.Store on disk (as a node does)
// instead of memory; -transport quic runs every host over QUIC instead of
// TCP (two nodes listening on both pick QUIC on loopback: go-libp2p's
// default dial ranker prefers it); -cpuprofile and -provider-cpuprofile
// profile the two sides of the single-provider fetches, -trace and
// -provider-trace trace them (runtime/trace). Each measurement also reports
// the share of the machine's CPU time left idle meanwhile (/proc/stat): a
// CPU-bound transfer on a quiet machine should leave none.
//
// Usage, from the repository root:
//
//	go run ./bench/transfer [-size 1GiB] [-rounds 3] [-multi-size 256MiB] [-rate 40MB] [-providers 4] [-kubo] [-json]
//	    [-provider-store mem|store] [-transport tcp|quic] [-cpuprofile f] [-provider-cpuprofile p]
//	    [-trace f] [-provider-trace p]
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/enxame/enxame/internal/benchutil"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	pebbleds "github.com/ipfs/go-ds-pebble"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/transfer: %v\n", err)
		os.Exit(1)
	}
}

// Report is the -json output.
type Report struct {
	SizeBytes      int64     `json:"size_bytes"`
	MultiSizeBytes int64     `json:"multi_size_bytes"`
	CPUs           int       `json:"cpus"`
	GoVersion      string    `json:"go_version"`
	Date           time.Time `json:"date"`
	LoadAvg        []string  `json:"loadavg,omitempty"`
	Results        []Result  `json:"results"`
	// PeakHeapBytes and PeakRSSBytes are measured during the single-provider
	// fetch.
	PeakHeapBytes uint64 `json:"peak_heap_bytes"`
	PeakRSSBytes  uint64 `json:"peak_rss_bytes"`
	// Shares are the providers' shares of the multi-source fetch.
	Shares []float64 `json:"shares,omitempty"`
}

// Result is one measurement.
type Result struct {
	Name string `json:"name"`
	// Round is the round of a raw or fetch measurement (-rounds), from 1;
	// 0 for the others.
	Round   int     `json:"round,omitempty"`
	What    string  `json:"what"`
	Seconds float64 `json:"seconds"`
	MBps    float64 `json:"mb_per_s"`
	// CPUSeconds is the CPU time (user + system) of this process during
	// the measurement; ProviderCPUSeconds that of the provider process.
	// Both sides share the machine's cores, so their sum per GiB is what
	// limits the rate on a small machine.
	CPUSeconds         float64 `json:"cpu_seconds,omitempty"`
	ProviderCPUSeconds float64 `json:"provider_cpu_seconds,omitempty"`
	// IdlePercent is the share of the machine's CPU time (all cores,
	// /proc/stat) that was idle during the measurement: on a quiet machine,
	// the CPU a CPU-bound transfer left unused.
	IdlePercent float64 `json:"idle_percent,omitempty"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	stderr = &lockedWriter{w: stderr} // provider processes write to it too
	fs := flag.NewFlagSet("transfer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizeFlag := fs.String("size", "1GiB", "bytes for the raw and single-provider runs (suffixes KB MB GB KiB MiB GiB)")
	multiFlag := fs.String("multi-size", "256MiB", "bytes for the multi-source run (0: skip it)")
	rateFlag := fs.String("rate", "40MB", "per-provider cap B of the multi-source run, bytes per second")
	providers := fs.Int("providers", 4, "providers of the multi-source run")
	rounds := fs.Int("rounds", 3, "rounds of raw stream then fetch, one after the other; the ratio to the raw stream is the median of the rounds' ratios")
	memToo := fs.Bool("mem", true, "also fetch into an in-memory blockstore (needs size bytes of RAM)")
	inproc := fs.Bool("inproc", true, "each round, also fetch from a provider host of this process (fetch-inproc: the raw stream's topology; needs size bytes of RAM)")
	withKubo := fs.Bool("kubo", false, "also run `go run ./bench/kubo -size SIZE` for the Kubo→Kubo pin baseline (from the repository root)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	dir := fs.String("dir", os.TempDir(), "directory for the blockstores (needs about 2×size free)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the single-provider fetch to this file")
	traceFile := fs.String("trace", "", "write an execution trace (runtime/trace) of the single-provider fetch to this file")
	provProfile := fs.String("provider-cpuprofile", "", "write a CPU profile of the provider process (while it serves the single-provider fetches) to this file")
	provTrace := fs.String("provider-trace", "", "write an execution trace of the provider process (while it serves the single-provider fetches) to this file")
	transport := fs.String("transport", "tcp", "transport of every host: tcp (TCP+TLS+yamux, the issue's ceiling) or quic (what two nodes pick on loopback when both listen on TCP and QUIC)")
	provStore := fs.String("provider-store", "mem", "provider's blockstore: mem (in memory) or store (share.Store, pack files on disk in -dir, read through the page cache)")
	storeKind := fs.String("store", "store", "fetcher's blockstore: store (share.Store, pack files) or pebble (go-ds-pebble, 64 MiB memtable)")
	serve := fs.Bool("serve", false, "internal: run as the provider process")
	serveHosts := fs.Int("serve-hosts", 1, "internal: provider hosts in -serve mode")
	serveSeed := fs.Int("serve-seed", 1, "internal: data seed in -serve mode")
	if err := fs.Parse(args); err != nil {
		return err
	}
	size, err := benchutil.ParseSize(*sizeFlag)
	if err != nil {
		return fmt.Errorf("-size: %w", err)
	}
	multiSize := int64(0)
	if *multiFlag != "0" {
		if multiSize, err = benchutil.ParseSize(*multiFlag); err != nil {
			return fmt.Errorf("-multi-size: %w", err)
		}
	}
	rate, err := benchutil.ParseSize(*rateFlag)
	if err != nil {
		return fmt.Errorf("-rate: %w", err)
	}
	if *rounds < 1 {
		return fmt.Errorf("-rounds: want at least 1, not %d", *rounds)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "bench/transfer: "+format+"\n", a...) }
	switch *transport {
	case "tcp":
		listenAddr = "/ip4/127.0.0.1/tcp/0"
	case "quic":
		listenAddr = "/ip4/127.0.0.1/udp/0/quic-v1"
	default:
		return fmt.Errorf("-transport: want tcp or quic, not %q", *transport)
	}
	if *serve {
		return serveMode(ctx, serveOpts{
			size: size, seed: byte(*serveSeed), hosts: *serveHosts, rate: rate,
			profile: *provProfile, trace: *provTrace, store: *provStore, dir: *dir,
		}, os.Stdin, stdout)
	}
	if *provStore != "mem" && *provStore != "store" {
		return fmt.Errorf("-provider-store: want mem or store, not %q", *provStore)
	}
	work, err := os.MkdirTemp(*dir, "enxame-transfer-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	rep := Report{
		SizeBytes: size, MultiSizeBytes: multiSize, CPUs: runtime.NumCPU(),
		GoVersion: runtime.Version(), Date: time.Now().UTC().Truncate(time.Second),
	}
	rep.LoadAvg = append(rep.LoadAvg, benchutil.LoadAvg())
	round := 0
	add := func(name, what string, n int64, d time.Duration, cpu, provCPU float64, m0 machineCPU) {
		r := Result{Name: name, What: what, Seconds: d.Seconds(), MBps: float64(n) / 1e6 / d.Seconds(),
			CPUSeconds: cpu, ProviderCPUSeconds: provCPU, IdlePercent: m0.idleSince()}
		if name == "raw" || name == "fetch" || name == "raw-xproc" || name == "fetch-inproc" {
			r.Round = round
		}
		rep.Results = append(rep.Results, r)
		logf("%-7s %8.2f s %9.1f MB/s  cpu %.2f s + provider %.2f s, machine idle %.0f %%  (%s)", name, r.Seconds, r.MBps, cpu, provCPU, r.IdlePercent, what)
	}

	// raw then fetch, -rounds times: the machine's speed drifts by tens of
	// per cent within minutes here, so each fetch is compared with the raw
	// stream measured just before it.
	var stores []io.Closer
	defer func() {
		for _, c := range stores {
			c.Close()
		}
	}()
	newStore := func(name string) (blockstore.Blockstore, error) {
		// pebble with a 64 MiB memtable (the default 4 MiB one stalls
		// writes of 256 KiB blocks on every flush); WAL on, no fsync, as
		// go-ds-pebble's default.
		ds, err := pebbleds.NewDatastore(filepath.Join(work, name), pebbleds.WithPebbleOpts(&pebble.Options{
			MemTableSize: 64 << 20, MemTableStopWritesThreshold: 4,
		}))
		if err != nil {
			return nil, err
		}
		stores = append(stores, ds)
		return blockstore.NewBlockstore(ds), nil
	}
	prov, err := startProvider(ctx, serveOpts{size: size, seed: 1, hosts: 1, profile: *provProfile, trace: *provTrace, store: *provStore, dir: work, transport: *transport}, stderr)
	if err != nil {
		return fmt.Errorf("provider: %w", err)
	}
	defer prov.stop()
	var local *localProvider
	if *inproc {
		if local, err = startLocalProvider(ctx, size, 3, filepath.Join(work, "provider-inproc")); err != nil {
			return fmt.Errorf("in-process provider: %w", err)
		}
		defer local.stop()
	}
	for round = 1; round <= *rounds; round++ {
		cpu0, m0 := selfCPU(), readMachineCPU()
		d, err := rawStream(ctx, size)
		if err != nil {
			return fmt.Errorf("raw stream: %w", err)
		}
		add("raw", "one libp2p stream ("+*transport+"), 256 KiB writes; cpu: both hosts", size, d, selfCPU()-cpu0, 0, m0)
		if local != nil {
			// The fetch between two hosts of this process, as the raw
			// stream just measured: same topology, same Go runtime.
			name := fmt.Sprintf("fetcher-inproc-%d", round)
			s, err := share.OpenStore(share.StoreConfig{Dir: filepath.Join(work, name)}, share.StoreDeps{})
			if err != nil {
				return err
			}
			cpu0, m0 := selfCPU(), readMachineCPU()
			d, err := fetchFrom(ctx, s, &local.provider, &fetchStats{})
			if err != nil {
				s.Close()
				return fmt.Errorf("in-process fetch: %w", err)
			}
			add("fetch-inproc", "Exchange.Fetch from a provider host of this process (serving from its share.Store) into a share.Store on disk, every block verified; cpu: both hosts",
				size, d, selfCPU()-cpu0, 0, m0)
			if err := s.Close(); err != nil {
				return fmt.Errorf("in-process fetch: %w", err)
			}
			os.RemoveAll(filepath.Join(work, name))
		}
		// fetch: the provider process serving from memory (or its
		// store), this process fetching into a fresh store on disk.
		var dst blockstore.Blockstore
		name := fmt.Sprintf("fetcher-%d", round)
		if *storeKind == "pebble" {
			if dst, err = newStore(name); err != nil {
				return err
			}
		} else {
			// share.Store: pack files plus a pebble index, what a node uses.
			s, err := share.OpenStore(share.StoreConfig{Dir: filepath.Join(work, name)}, share.StoreDeps{})
			if err != nil {
				return err
			}
			stores = append(stores, s)
			dst = s
		}
		// The first round's fetch is the one profiled and traced.
		stop, err := startProfiles(*cpuProfile, *traceFile, round == 1)
		if err != nil {
			return err
		}
		var st fetchStats
		cpu0, pcpu0, m0 := selfCPU(), prov.cpu(), readMachineCPU()
		d, err = fetchFrom(ctx, dst, prov, &st)
		stop()
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		add("fetch", "Exchange.Fetch, 1 provider process, fetcher's "+*storeKind+" blockstore on disk, every block verified",
			size, d, selfCPU()-cpu0, prov.cpu()-pcpu0, m0)
		if c, ok := dst.(io.Closer); ok {
			// A share.Store: free its disk for the next round.
			if err := c.Close(); err != nil {
				return fmt.Errorf("fetch: %w", err)
			}
			os.RemoveAll(filepath.Join(work, name))
		}
		rep.PeakHeapBytes, rep.PeakRSSBytes = max(rep.PeakHeapBytes, st.peakHeap), max(rep.PeakRSSBytes, st.peakRSS)
		logf("fetch peak heap %.1f MiB, peak RSS %.1f MiB (the fetching process)", float64(st.peakHeap)/(1<<20), float64(st.peakRSS)/(1<<20))
		// The raw stream again, between the fetch's two processes.
		cpu0, pcpu0, m0 = selfCPU(), prov.cpu(), readMachineCPU()
		if d, err = rawFrom(ctx, prov, size); err != nil {
			return fmt.Errorf("raw stream from the provider process: %w", err)
		}
		add("raw-xproc", "one libp2p stream ("+*transport+") from the provider process to this one, 256 KiB writes",
			size, d, selfCPU()-cpu0, prov.cpu()-pcpu0, m0)
	}
	round = 0
	if local != nil {
		local.stop()
	}
	if *memToo {
		// The same fetch into an in-memory blockstore: the protocol
		// without the fetcher's disk writes.
		mem := blockstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore()))
		cpu0, pcpu0, m0 := selfCPU(), prov.cpu(), readMachineCPU()
		d, err := fetchFrom(ctx, mem, prov, &fetchStats{})
		if err != nil {
			return fmt.Errorf("fetch to memory: %w", err)
		}
		add("fetch-mem", "Exchange.Fetch, 1 provider process, fetcher's blockstore in memory, every block verified",
			size, d, selfCPU()-cpu0, prov.cpu()-pcpu0, m0)
	}
	prov.stop()

	// multi: several capped provider hosts in one provider process.
	if multiSize > 0 && *providers > 0 {
		mprov, err := startProvider(ctx, serveOpts{size: multiSize, seed: 2, hosts: *providers, rate: rate, store: "mem", transport: *transport}, stderr)
		if err != nil {
			return fmt.Errorf("providers: %w", err)
		}
		defer mprov.stop()
		mdst, err := share.OpenStore(share.StoreConfig{Dir: filepath.Join(work, "multi-fetcher")}, share.StoreDeps{})
		if err != nil {
			return err
		}
		stores = append(stores, mdst)
		var mst fetchStats
		cpu0, pcpu0, m0 := selfCPU(), mprov.cpu(), readMachineCPU()
		d, err := fetchFrom(ctx, mdst, mprov, &mst)
		if err != nil {
			return fmt.Errorf("multi-source fetch: %w", err)
		}
		add("multi", fmt.Sprintf("Exchange.Fetch, %d providers capped at %.1f MB/s each (goal ≥ %.1f MB/s)",
			*providers, float64(rate)/1e6, 0.8*float64(*providers)*float64(rate)/1e6), multiSize, d, selfCPU()-cpu0, mprov.cpu()-pcpu0, m0)
		rep.Shares = mst.shares
		logf("multi shares %v", mst.shares)
		mprov.stop()
	}

	if *withKubo {
		pin, err := kuboPin(ctx, *sizeFlag, stderr)
		if err != nil {
			return fmt.Errorf("kubo: %w", err)
		}
		rep.Results = append(rep.Results, pin)
		logf("%-7s %8.2f s %9.1f MB/s  (%s)", pin.Name, pin.Seconds, pin.MBps, pin.What)
	}
	rep.LoadAvg = append(rep.LoadAvg, benchutil.LoadAvg())
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printTable(stdout, rep)
}

func printTable(w io.Writer, rep Report) error {
	fmt.Fprintf(w, "%d bytes (%.2f GiB), multi-source %d bytes, %d CPUs, %s\nload average at start and end: %s\n\n",
		rep.SizeBytes, float64(rep.SizeBytes)/(1<<30), rep.MultiSizeBytes, rep.CPUs, rep.GoVersion, strings.Join(rep.LoadAvg, " | "))
	fmt.Fprintf(w, "%-13s %9s %9s %13s %7s\n", "measurement", "seconds", "MB/s", "CPU-s/GiB", "idle %")
	byName := map[string]float64{}
	for _, r := range rep.Results {
		cpu := ""
		if r.CPUSeconds > 0 {
			gib := r.Seconds * r.MBps * 1e6 / (1 << 30)
			cpu = fmt.Sprintf("%.2f", r.CPUSeconds/gib)
			if r.ProviderCPUSeconds > 0 {
				cpu = fmt.Sprintf("%.2f + %.2f", r.CPUSeconds/gib, r.ProviderCPUSeconds/gib)
			}
		}
		name := r.Name
		if r.Round > 0 {
			name = fmt.Sprintf("%s #%d", r.Name, r.Round)
		}
		idle := ""
		if r.IdlePercent > 0 {
			idle = fmt.Sprintf("%.0f", r.IdlePercent)
		}
		fmt.Fprintf(w, "%-13s %9.2f %9.1f %13s %7s\n", name, r.Seconds, r.MBps, cpu, idle)
		byName[r.Name] = r.MBps
	}
	fmt.Fprintln(w, "(CPU-s/GiB: this process + the provider process; raw: both hosts in this process;")
	fmt.Fprintln(w, " raw-xproc: from the provider process to this one;")
	fmt.Fprintln(w, " idle %: the machine's CPU time left idle during the measurement, all cores)")
	fmt.Fprintln(w)
	sum := summarize(rep.Results)
	if sum.rounds > 0 {
		byName["raw"], byName["fetch"] = sum.raw, sum.fetch
		fmt.Fprintf(w, "median of %d rounds: raw %.1f MB/s, fetch %.1f MB/s\n", sum.rounds, sum.raw, sum.fetch)
		fmt.Fprintf(w, "fetch / raw stream, mixed (the fetch across two processes, the raw stream inside one): %.0f %% (median of the rounds' ratios %s)\n",
			100*sum.ratio, sum.ratios)
	}
	if in := summarizePair(rep.Results, "raw", "fetch-inproc"); in.rounds > 0 {
		fmt.Fprintf(w, "fetch-inproc / raw stream, both between two hosts of this process: %.0f %% (goal ≥ 60 %%; median of the rounds' ratios %s; fetch-inproc median %.1f MB/s)\n",
			100*in.ratio, in.ratios, in.fetch)
	}
	if x := medianOf(rep.Results, "raw-xproc"); x > 0 && sum.fetch > 0 {
		fmt.Fprintf(w, "fetch / raw stream, both between the fetch's two processes (medians, raw-xproc %.1f MB/s): %.0f %% (goal ≥ 60 %%)\n", x, 100*sum.fetch/x)
	}
	if raw, f := byName["raw"], byName["fetch-mem"]; raw > 0 && f > 0 {
		fmt.Fprintf(w, "fetch-mem / raw stream (median): %.0f %%\n", 100*f/raw)
	}
	if k, f := byName["kubo-pin"], byName["fetch"]; k > 0 && f > 0 {
		fmt.Fprintf(w, "fetch (median) / Kubo pin add: %.1f× (goal ≥ 3×)\n", f/k)
	}
	fmt.Fprintf(w, "fetch peak heap %.1f MiB, peak RSS %.1f MiB (goal ≤ 200 MiB)\n",
		float64(rep.PeakHeapBytes)/(1<<20), float64(rep.PeakRSSBytes)/(1<<20))
	if len(rep.Shares) > 0 {
		fmt.Fprintf(w, "multi-source shares: %v\n", rep.Shares)
	}
	fmt.Fprintln(w)
	described := map[string]bool{}
	for _, r := range rep.Results {
		if !described[r.Name] {
			described[r.Name] = true
			fmt.Fprintf(w, "%-9s %s\n", r.Name, r.What)
		}
	}
	return nil
}

// summary is the medians of the raw and fetch rounds of a report.
type summary struct {
	rounds     int
	raw, fetch float64 // median MB/s
	ratio      float64 // median of fetch_i / raw_i
	ratios     string  // each round's ratio, in per cent
}

// summarize pairs each round's fetch with the raw stream measured just
// before it.
func summarize(results []Result) summary { return summarizePair(results, "raw", "fetch") }

// summarizePair pairs each round's measurement named fetch with the one
// named raw of the same round.
func summarizePair(results []Result, raw, fetch string) summary {
	raws, fetches := map[int]float64{}, map[int]float64{}
	for _, r := range results {
		switch {
		case r.Round > 0 && r.Name == raw:
			raws[r.Round] = r.MBps
		case r.Round > 0 && r.Name == fetch:
			fetches[r.Round] = r.MBps
		}
	}
	var s summary
	var rs, fs, ratios []float64
	var pct []string
	for i := 1; ; i++ {
		raw, ok1 := raws[i]
		f, ok2 := fetches[i]
		if !ok1 || !ok2 {
			break
		}
		s.rounds++
		rs, fs, ratios = append(rs, raw), append(fs, f), append(ratios, f/raw)
		pct = append(pct, fmt.Sprintf("%.0f", 100*f/raw))
	}
	if s.rounds == 0 {
		return s
	}
	s.raw, s.fetch, s.ratio = median(rs), median(fs), median(ratios)
	s.ratios = strings.Join(pct, ", ") + " %"
	return s
}

// medianOf returns the median MB/s of the results named name, 0 if none.
func medianOf(results []Result, name string) float64 {
	var xs []float64
	for _, r := range results {
		if r.Name == name {
			xs = append(xs, r.MBps)
		}
	}
	if len(xs) == 0 {
		return 0
	}
	return median(xs)
}

// median returns the median of xs (the mean of the middle two when their
// number is even); xs is sorted in place.
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// listenAddr is the listen address of every host (-transport).
var listenAddr = "/ip4/127.0.0.1/tcp/0"

func newHost() (host.Host, error) {
	return libp2p.New(libp2p.ListenAddrStrings(listenAddr))
}

// rawProto is the protocol of the raw stream: the client sends the number
// of bytes it wants (8 bytes, big-endian), the server writes that many
// bytes in 256 KiB writes and closes the stream.
const rawProto = "/enxame/bench/raw/1.0.0"

// serveRaw answers one raw stream; done, if not nil, receives the result.
func serveRaw(s network.Stream, done chan<- error) {
	err := func() error {
		var n [8]byte
		if _, err := io.ReadFull(s, n[:]); err != nil {
			return err
		}
		buf := make([]byte, 256<<10)
		for left := int64(binary.BigEndian.Uint64(n[:])); left > 0; {
			n, err := s.Write(buf[:min(int64(len(buf)), left)])
			if err != nil {
				return err
			}
			left -= int64(n)
		}
		return nil
	}()
	if err != nil {
		s.Reset()
	} else {
		s.Close()
	}
	if done != nil {
		done <- err
	}
}

// rawStream copies size bytes over one stream between two fresh hosts of
// this process and returns how long the copy took (from the request to
// the last read).
func rawStream(ctx context.Context, size int64) (time.Duration, error) {
	a, err := newHost()
	if err != nil {
		return 0, err
	}
	defer a.Close()
	b, err := newHost()
	if err != nil {
		return 0, err
	}
	defer b.Close()
	done := make(chan error, 1)
	b.SetStreamHandler(rawProto, func(s network.Stream) { serveRaw(s, done) })
	d, err := readRaw(ctx, a, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}, size)
	if err != nil {
		return 0, err
	}
	return d, <-done
}

// rawFrom copies size bytes over one stream from the provider process's
// first host to a fresh host of this process: the raw stream between the
// same two processes as the fetch.
func rawFrom(ctx context.Context, p *provider, size int64) (time.Duration, error) {
	h, err := newHost()
	if err != nil {
		return 0, err
	}
	defer h.Close()
	return readRaw(ctx, h, p.peers[0], size)
}

// readRaw asks the raw server ai for size bytes from h and reads them.
func readRaw(ctx context.Context, h host.Host, ai peer.AddrInfo, size int64) (time.Duration, error) {
	if err := h.Connect(ctx, ai); err != nil {
		return 0, err
	}
	s, err := h.NewStream(ctx, ai.ID, rawProto)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	t0 := time.Now()
	if _, err := s.Write(binary.BigEndian.AppendUint64(nil, uint64(size))); err != nil {
		return 0, err
	}
	buf := make([]byte, 256<<10)
	var got int64
	for got < size {
		n, err := s.Read(buf)
		got += int64(n)
		if err != nil {
			if errors.Is(err, io.EOF) && got == size {
				break
			}
			return 0, fmt.Errorf("read after %d bytes: %w", got, err)
		}
	}
	return time.Since(t0), nil
}

// startProfiles starts the CPU profile and the execution trace named (when
// on and the name is not empty); stop ends them and closes their files.
func startProfiles(cpuProfile, traceFile string, on bool) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for _, f := range stops {
			f()
		}
	}
	if !on {
		return stop, nil
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return stop, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return stop, err
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if traceFile != "" {
		f, err := os.Create(traceFile)
		if err != nil {
			stop()
			return func() {}, err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			stop()
			return func() {}, err
		}
		stops = append(stops, func() { trace.Stop(); f.Close() })
	}
	return stop, nil
}

type fetchStats struct {
	peakHeap, peakRSS uint64
	shares            []float64
}

// provider is a child process of this binary (-serve) whose hosts serve
// a DAG from memory.
type provider struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	root  cid.Cid
	peers []peer.AddrInfo
	once  sync.Once
}

// serveOpts describe a provider process: hosts hosts serving size bytes of
// random data seeded with seed, each capped at rate bytes/s (0: no cap),
// from a blockstore of kind store ("mem", or "store": a share.Store in a
// temporary directory under dir), with a CPU profile to profile and an
// execution trace to trace if set.
type serveOpts struct {
	size      int64
	seed      byte
	hosts     int
	rate      int64
	profile   string
	trace     string
	store     string
	dir       string
	transport string
}

// startProvider starts a provider process.
func startProvider(ctx context.Context, o serveOpts, stderr io.Writer) (*provider, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "-serve", "-size", strconv.FormatInt(o.size, 10),
		"-serve-seed", strconv.Itoa(int(o.seed)), "-serve-hosts", strconv.Itoa(o.hosts), "-rate", strconv.FormatInt(max(o.rate, 1), 10),
		"-provider-cpuprofile", o.profile, "-provider-trace", o.trace, "-provider-store", o.store, "-dir", o.dir, "-transport", o.transport)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &provider{cmd: cmd, stdin: stdin}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "ROOT":
			if p.root, err = cid.Decode(f[1]); err != nil {
				p.stop()
				return nil, err
			}
		case len(f) == 2 && f[0] == "PEER":
			ai, err := peer.AddrInfoFromString(f[1])
			if err != nil {
				p.stop()
				return nil, err
			}
			p.peers = append(p.peers, *ai)
		case len(f) == 1 && f[0] == "READY":
			go io.Copy(io.Discard, out)
			return p, nil
		}
	}
	p.stop()
	return nil, fmt.Errorf("provider process ended before it was ready: %v", sc.Err())
}

// stop ends the provider process (it exits when its stdin closes).
func (p *provider) stop() {
	p.once.Do(func() {
		p.stdin.Close()
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	})
}

// serveMode is the provider process: it imports the data into its
// blockstore, serves it from o.hosts hosts, prints ROOT, PEER lines and
// READY, and runs until stdin closes.
func serveMode(ctx context.Context, o serveOpts, stdin io.Reader, stdout io.Writer) error {
	size, seed, hosts, rate, profile := o.size, o.seed, o.hosts, o.rate, o.profile
	if rate <= 1 {
		rate = 0
	}
	var bs blockstore.Blockstore
	switch o.store {
	case "store":
		dir, err := os.MkdirTemp(o.dir, "provider-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		st, err := share.OpenStore(share.StoreConfig{Dir: dir}, share.StoreDeps{})
		if err != nil {
			return err
		}
		defer st.Close()
		bs = st
	default:
		bs = blockstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore()))
	}
	root, err := importRandom(ctx, bs, size, seed)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // before wg.Wait: ends the exchanges
	fmt.Fprintf(stdout, "ROOT %s\n", root)
	for range hosts {
		h, err := newHost()
		if err != nil {
			return err
		}
		defer h.Close()
		ex, err := share.NewExchange(share.ExchangeConfig{ServeRateLimit: rate}, share.ExchangeDeps{Host: h, Blockstore: bs})
		if err != nil {
			return err
		}
		wg.Go(func() { ex.Run(ctx) })
		h.SetStreamHandler(rawProto, func(s network.Stream) { serveRaw(s, nil) })
		fmt.Fprintf(stdout, "PEER %s/p2p/%s\n", h.Addrs()[0], h.ID())
	}
	stop, err := startProfiles(profile, o.trace, true)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintln(stdout, "READY")
	io.Copy(io.Discard, stdin)
	return nil
}

// localProvider is a provider host of this process serving size bytes of
// random data from a share.Store on disk (through the page cache, so that
// the data does not count in this process's RSS, which the fetches'
// memory figures measure).
type localProvider struct {
	provider
	h      host.Host
	st     *share.Store
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// startLocalProvider imports size bytes seeded with seed into a share.Store
// in dir and serves them from a new host of this process.
func startLocalProvider(ctx context.Context, size int64, seed byte, dir string) (*localProvider, error) {
	st, err := share.OpenStore(share.StoreConfig{Dir: dir}, share.StoreDeps{})
	if err != nil {
		return nil, err
	}
	root, err := importRandom(ctx, st, size, seed)
	if err != nil {
		st.Close()
		return nil, err
	}
	h, err := newHost()
	if err != nil {
		st.Close()
		return nil, err
	}
	ex, err := share.NewExchange(share.ExchangeConfig{}, share.ExchangeDeps{Host: h, Blockstore: st})
	if err != nil {
		h.Close()
		st.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	lp := &localProvider{h: h, st: st, cancel: cancel}
	lp.root = root
	lp.peers = []peer.AddrInfo{{ID: h.ID(), Addrs: h.Addrs()}}
	lp.wg.Go(func() { ex.Run(ctx) })
	return lp, nil
}

func (lp *localProvider) stop() {
	lp.once.Do(func() {
		lp.cancel()
		lp.wg.Wait()
		lp.h.Close()
		lp.st.Close()
	})
}

// fetchFrom fetches the provider's root into dst from a fresh host and
// returns how long the fetch took.
func fetchFrom(ctx context.Context, dst blockstore.Blockstore, p *provider, st *fetchStats) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h, err := newHost()
	if err != nil {
		return 0, err
	}
	defer h.Close()
	ex, err := share.NewExchange(share.ExchangeConfig{}, share.ExchangeDeps{Host: h, Blockstore: dst})
	if err != nil {
		return 0, err
	}
	runtime.GC()
	resetPeakRSS()
	sampler := startSampler()
	var last share.Progress
	t0 := time.Now()
	err = ex.Fetch(ctx, p.root, share.FetchOptions{Providers: p.peers, Progress: func(p share.Progress) { last = p }})
	d := time.Since(t0)
	st.peakHeap = sampler.stop()
	st.peakRSS = peakRSS()
	for _, p := range last.Providers {
		st.shares = append(st.shares, float64(int(p.Share*1000))/1000)
	}
	return d, err
}

// sampler records the peak of the Go heap (bytes in live and not yet
// swept spans) until stopped.
type sampler struct {
	stopc chan struct{}
	done  chan uint64
}

func startSampler() *sampler {
	s := &sampler{stopc: make(chan struct{}), done: make(chan uint64)}
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-t.C:
			case <-s.stopc:
				s.done <- peak
				return
			}
		}
	}()
	return s
}

func (s *sampler) stop() uint64 {
	close(s.stopc)
	return <-s.done
}

// cpu returns the provider process's CPU time (user + system) in seconds,
// 0 if unknown.
func (p *provider) cpu() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are fields 14 and 15 of the line, in clock ticks (USER_HZ, 100
	// on Linux).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

// machineCPU is a snapshot of the machine's CPU time counters
// (/proc/stat), in clock ticks; zero if unknown.
type machineCPU struct{ idle, total float64 }

// readMachineCPU returns the counters of all cores together: idle (idle
// and iowait) and the total.
func readMachineCPU() machineCPU {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return machineCPU{}
	}
	var m machineCPU
	for i, x := range f[1:] {
		v, _ := strconv.ParseFloat(x, 64)
		if i >= 8 { // guest and guest_nice are already counted in user and nice
			break
		}
		m.total += v
		if i == 3 || i == 4 {
			m.idle += v
		}
	}
	return m
}

// idleSince returns the per cent of the machine's CPU time that was idle
// since m, or 0 if unknown.
func (m machineCPU) idleSince() float64 {
	now := readMachineCPU()
	if m.total == 0 || now.total <= m.total {
		return 0
	}
	return 100 * (now.idle - m.idle) / (now.total - m.total)
}

// resetPeakRSS resets the kernel's peak RSS (VmHWM) of this process.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns VmHWM in bytes, 0 if unknown.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// storeDAG is the DAGService the importer writes to: a plain blockstore.
type storeDAG struct{ bs blockstore.Blockstore }

func (d storeDAG) Get(context.Context, cid.Cid) (ipld.Node, error) {
	return nil, errors.New("not supported")
}
func (d storeDAG) GetMany(context.Context, []cid.Cid) <-chan *ipld.NodeOption { return nil }
func (d storeDAG) Add(ctx context.Context, n ipld.Node) error                 { return d.bs.Put(ctx, n) }
func (d storeDAG) AddMany(ctx context.Context, ns []ipld.Node) error {
	bl := make([]blocks.Block, len(ns))
	for i, n := range ns {
		bl[i] = n
	}
	return d.bs.PutMany(ctx, bl)
}
func (d storeDAG) Remove(context.Context, cid.Cid) error       { return nil }
func (d storeDAG) RemoveMany(context.Context, []cid.Cid) error { return nil }

// importRandom imports size pseudo-random bytes as `ipfs add
// --cid-version=1 --raw-leaves` would, streaming (no whole-file buffer).
func importRandom(ctx context.Context, bs blockstore.Blockstore, size int64, seed byte) (cid.Cid, error) {
	prefix, err := merkledag.PrefixForCidVersion(1)
	if err != nil {
		return cid.Undef, err
	}
	params := helpers.DagBuilderParams{
		Maxlinks: helpers.DefaultLinksPerBlock, RawLeaves: true, CidBuilder: prefix, Dagserv: storeDAG{bs},
	}
	r := io.LimitReader(rand.NewChaCha8([32]byte{seed}), size)
	db, err := params.New(chunker.NewSizeSplitter(r, 256<<10))
	if err != nil {
		return cid.Undef, err
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		return cid.Undef, err
	}
	return nd.Cid(), nil
}

// kuboPin runs bench/kubo and returns its pin figure.
func kuboPin(ctx context.Context, size string, stderr io.Writer) (Result, error) {
	cmd := exec.CommandContext(ctx, "go", "run", "./bench/kubo", "-size", size, "-json", "-verify=false")
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return Result{}, err
	}
	var rep struct {
		Results []Result `json:"results"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return Result{}, err
	}
	for _, r := range rep.Results {
		if r.Name == "pin" {
			r.Name = "kubo-pin"
			r.What = r.What + " (bench/kubo, same run)"
			return r, nil
		}
	}
	return Result{}, errors.New("no pin result in bench/kubo output")
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
