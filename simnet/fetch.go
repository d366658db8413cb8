package simnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/marcopolo/simnet"
)

// FetchConfig configures the fetch scenario. A zero field means the default
// in its comment.
type FetchConfig struct {
	Net Config
	// Providers is how many nodes hold the file. Default 4.
	Providers int
	// Fetchers is how many nodes fetch it at once, spread over the regions.
	// Default 1.
	Fetchers int
	// FileBytes is the file's size. Default 8 MiB.
	FileBytes int
	// ProviderBitsPerSecond caps each provider's uplink. Default 20 Mbit/s.
	ProviderBitsPerSecond int
	// Settle is the virtual time the nodes have to join. Default 10s.
	Settle time.Duration
	// Timeout bounds each fetch. Default 10m.
	Timeout time.Duration
	// Corrupt is the fraction of the providers (rounded; at least one is
	// left honest) that serve every block with one bit flipped (the
	// adversary scenario): once they have provided the file, their share
	// protocol handler is an exchange that reads through a blockstore
	// spoiling what it reads. The fetchers verify every block against its
	// CID. Default 0.
	Corrupt float64
	// Churn is the fraction of the providers (rounded; never a corrupt
	// one, and at least one honest provider stays) that leave while the
	// fetches run, each replaced by a new node (holding nothing) that
	// joins. They leave evenly as the first fetcher to get there passes
	// 1/(n+1), 2/(n+1), … of the file. Default 0.
	Churn float64
	// Waves splits the fetchers into this many groups that fetch one after
	// another, Settle apart, to measure sharing back (node config
	// share.provide): before each wave the scenario counts the providers a
	// DHT lookup finds, and with more than one wave every node but the
	// bootstrap peers has its uplink capped like a provider's, so that a
	// fetcher that shares back is no faster a source than a provider.
	// Default 1.
	Waves int
}

func (c FetchConfig) withDefaults() FetchConfig {
	if c.Providers == 0 {
		c.Providers = 4
	}
	if c.Fetchers == 0 {
		c.Fetchers = 1
	}
	if c.FileBytes == 0 {
		c.FileBytes = 8 << 20
	}
	if c.ProviderBitsPerSecond == 0 {
		c.ProviderBitsPerSecond = 20_000_000
	}
	if c.Settle == 0 {
		c.Settle = 10 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.Waves == 0 {
		c.Waves = 1
	}
	return c
}

// FetchResult is one fetcher's outcome.
type FetchResult struct {
	Fetcher int           `json:"fetcher"`
	Region  Region        `json:"region"`
	OK      bool          `json:"ok"`
	Err     string        `json:"error,omitempty"`
	Took    time.Duration `json:"took_ns"`
	MBps    float64       `json:"mb_per_s"`
	// Shares maps provider index to the fraction of the bytes it served.
	Shares map[int]float64 `json:"shares"`
	// Correct reports that the fetch completed, its bytes read back equal
	// the source and no block in the fetcher's store fails its hash.
	Correct bool `json:"correct"`
	// Dropped lists the providers the fetch dropped (a bad block, or
	// the planner's verdict).
	Dropped []int `json:"dropped,omitempty"`
	// Left lists the providers this fetch saw leave.
	Left []int `json:"left,omitempty"`
	// BadBytes counts the bytes read back after the fetch that differ
	// from the source (a length difference counts too; a fetch that
	// completed but cannot be read back counts the whole file). BadBlocks
	// counts the blocks in the fetcher's store whose bytes fail their hash,
	// whether the fetch completed or not; -1 when the store could not be
	// verified.
	BadBytes  int64 `json:"bad_bytes"`
	BadBlocks int   `json:"bad_blocks"`
}

// FetchReport is the fetch scenario's outcome.
type FetchReport struct {
	Scenario  string   `json:"scenario"`
	Nodes     int      `json:"nodes"`
	Seed      uint64   `json:"seed"`
	FileBytes int      `json:"file_bytes"`
	Providers []int    `json:"providers"`
	ProvRegs  []Region `json:"provider_regions"`
	UplinkBps int      `json:"provider_uplink_bps"`
	// Corrupt lists the providers serving bit-flipped blocks;
	// CorruptBlocks counts the blocks they spoiled for fetchers.
	Corrupt       []int `json:"corrupt_providers,omitempty"`
	CorruptBlocks int64 `json:"corrupt_blocks"`
	// Churn is FetchConfig.Churn; Left lists the providers that left
	// while the fetches ran, Joined counts the nodes that joined in their
	// place.
	Churn   float64       `json:"churn,omitempty"`
	Left    []int         `json:"left,omitempty"`
	Joined  int           `json:"joined,omitempty"`
	Ideal   time.Duration `json:"ideal_ns"` // all fetchers' bytes over the providers' total uplink
	Results []FetchResult `json:"results"`
	// Waves describes each wave of fetchers (FetchConfig.Waves).
	Waves   []FetchWave   `json:"waves,omitempty"`
	Virtual time.Duration `json:"virtual_ns"`
	Wall    time.Duration `json:"wall_ns"`
}

// FetchWave is one wave of fetchers.
type FetchWave struct {
	Wave     int `json:"wave"`
	Fetchers int `json:"fetchers"`
	// Providers counts the distinct providers a DHT lookup from a
	// bootstrap peer found just before the wave started.
	Providers int `json:"providers_found"`
	// MeanTook is the mean time of the wave's successful fetches.
	MeanTook time.Duration `json:"mean_took_ns"`
}

// RunFetch runs the fetch scenario: Providers nodes add the same file (the
// real share store and exchange), their uplinks capped; Fetchers nodes in
// different regions fetch it at once through node.Fetch (providers found
// in the DHT, blocks verified); it reports each fetch's time, rate and each
// provider's share. Call it inside a synctest bubble.
func RunFetch(ctx context.Context, cfg FetchConfig) (rep FetchReport, err error) {
	cfg = cfg.withDefaults()
	ncfg := cfg.Net.withDefaults()
	if cfg.Providers+cfg.Fetchers > ncfg.Nodes-ncfg.Bootstraps {
		return rep, errors.New("simnet: fetch: Providers + Fetchers must fit outside the bootstrap peers")
	}
	if !(cfg.Corrupt >= 0 && cfg.Corrupt < 1) || !(cfg.Churn >= 0 && cfg.Churn < 1) {
		return rep, errors.New("simnet: fetch: Corrupt and Churn must be in [0, 1)")
	}
	wallStart, start := wallNow(), time.Now()
	rng := rand.New(rand.NewPCG(ncfg.Seed, 2))
	idx := rng.Perm(ncfg.Nodes - ncfg.Bootstraps)
	provs := make([]int, cfg.Providers)
	isProv := map[int]bool{}
	for i := range provs {
		provs[i] = ncfg.Bootstraps + idx[i]
		isProv[provs[i]] = true
	}
	slices.Sort(provs)
	nBad := min(int(math.Round(cfg.Corrupt*float64(cfg.Providers))), cfg.Providers-1)
	var bad []int
	for _, k := range rand.New(rand.NewPCG(ncfg.Seed, 5)).Perm(cfg.Providers)[:max(nBad, 0)] {
		bad = append(bad, provs[k])
	}
	slices.Sort(bad)
	var honest, leavers []int
	for _, p := range provs {
		if !slices.Contains(bad, p) {
			honest = append(honest, p)
		}
	}
	nLeave := max(min(int(math.Round(cfg.Churn*float64(cfg.Providers))), len(honest)-1), 0)
	for _, k := range rand.New(rand.NewPCG(ncfg.Seed, 6)).Perm(len(honest))[:nLeave] {
		leavers = append(leavers, honest[k])
	}
	userLinks := cfg.Net.Links
	cfg.Net.Links = func(i int, l *simnet.NodeBiDiLinkSettings) {
		if userLinks != nil {
			userLinks(i, l)
		}
		if isProv[i] || cfg.Waves > 1 && i >= ncfg.Bootstraps {
			l.Uplink.BitsPerSecond = cfg.ProviderBitsPerSecond
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
	// The corrupt providers' exchanges end before the nodes close.
	hctx, hcancel := context.WithCancel(ctx)
	var hwg sync.WaitGroup
	var spoiled atomic.Int64
	defer func() {
		hcancel()
		hwg.Wait()
		rep.CorruptBlocks = spoiled.Load()
	}()
	peers := net.Peers()
	rep = FetchReport{Scenario: "fetch", Nodes: ncfg.Nodes, Seed: ncfg.Seed, FileBytes: cfg.FileBytes,
		Providers: provs, UplinkBps: cfg.ProviderBitsPerSecond, Corrupt: bad, Churn: cfg.Churn}
	for _, p := range provs {
		rep.ProvRegs = append(rep.ProvRegs, peers[p].Region)
	}
	// Fetchers: one per region in turn, among nodes that are neither
	// bootstrap peers nor providers.
	byRegion := map[Region][]int{}
	for _, i := range idx[cfg.Providers:] {
		i += ncfg.Bootstraps
		byRegion[peers[i].Region] = append(byRegion[peers[i].Region], i)
	}
	var fetchers []int
	for k := 0; len(fetchers) < cfg.Fetchers; k++ {
		r := ncfg.Regions[k%len(ncfg.Regions)]
		if len(byRegion[r]) > 0 {
			fetchers = append(fetchers, byRegion[r][0])
			byRegion[r] = byRegion[r][1:]
		}
		if k > cfg.Fetchers*len(ncfg.Regions)+len(ncfg.Regions) {
			break
		}
	}

	time.Sleep(cfg.Settle)
	data := make([]byte, cfg.FileBytes)
	drng := rand.New(rand.NewPCG(ncfg.Seed, 3))
	for i := range data {
		data[i] = byte(drng.Uint32())
	}
	var root share.AddResult
	for _, p := range provs {
		res, err := peers[p].Node.AddReader(ctx, bytes.NewReader(data), "simnet.bin", share.AddOptions{Workers: 1})
		if err != nil {
			return rep, fmt.Errorf("simnet: fetch: add on node %d: %w", p, err)
		}
		root = res
		pctx, cancel := context.WithTimeout(ctx, time.Minute)
		err = peers[p].Node.Router().Provide(pctx, res.Root)
		cancel()
		if err != nil {
			return rep, fmt.Errorf("simnet: fetch: provide on node %d: %w", p, err)
		}
	}
	for _, p := range bad {
		if err := serveCorrupt(hctx, &hwg, peers[p], &spoiled); err != nil {
			return rep, fmt.Errorf("simnet: fetch: corrupt provider %d: %w", p, err)
		}
	}
	provIdx := map[peer.ID]int{}
	for _, p := range provs {
		provIdx[peers[p].ID()] = p
	}
	rep.Ideal = time.Duration(float64(len(fetchers)*cfg.FileBytes*8) / float64(cfg.Providers*cfg.ProviderBitsPerSecond) * float64(time.Second))

	// Churn: the leavers leave as the fetches progress, each replaced by
	// a new node in a seeded region.
	trig := newChurnTrigger(len(leavers))
	fetching := make(chan struct{})
	var churnWG sync.WaitGroup
	var churnErr error
	crng := rand.New(rand.NewPCG(ncfg.Seed, 7))
	joinRegions := make([]Region, len(leavers))
	for k := range joinRegions {
		joinRegions[k] = ncfg.Regions[crng.IntN(len(ncfg.Regions))]
	}
	churnWG.Go(func() {
		_, churnErr = trig.run(ctx, fetching, func(k int) error {
			if err := net.Leave(leavers[k]); err != nil {
				return err
			}
			rep.Left = append(rep.Left, leavers[k])
			if _, err := net.Join(joinRegions[k]); err != nil {
				return err
			}
			rep.Joined++
			return nil
		})
	})

	results := make([]FetchResult, len(fetchers))
	var wg sync.WaitGroup
	fetchOne := func(k, f int) {
		r := FetchResult{Fetcher: f, Region: peers[f].Region, Shares: map[int]float64{}}
		fctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		var last share.Progress
		t0 := time.Now()
		err := peers[f].Node.Fetch(fctx, root.Root, share.FetchOptions{Progress: func(p share.Progress) {
			last = p
			if p.BytesTotal > 0 && !p.Done {
				trig.observe(float64(p.BytesDone) / float64(p.BytesTotal))
			}
		}})
		r.Took = time.Since(t0)
		if err != nil {
			r.Err = err.Error()
		} else {
			r.OK = true
			r.MBps = math.Round(float64(cfg.FileBytes)/r.Took.Seconds()/1e6*100) / 100
			r.BadBytes = readBack(fctx, peers[f], root, data)
		}
		for _, pp := range last.Providers {
			i, ok := provIdx[pp.Peer]
			if !ok {
				continue
			}
			if r.OK {
				r.Shares[i] = math.Round(pp.Share*1000) / 1000
			}
			switch pp.State {
			case "dropped":
				r.Dropped = append(r.Dropped, i)
			case "left":
				r.Left = append(r.Left, i)
			}
		}
		slices.Sort(r.Dropped)
		slices.Sort(r.Left)
		res, err := peers[f].Node.Blocks().Verify(ctx, false)
		r.BadBlocks = len(res.Corrupt)
		if err != nil {
			r.Err = strings.TrimPrefix(r.Err+"; verify store: "+err.Error(), "; ")
			r.BadBlocks = -1
		}
		r.Correct = r.OK && r.BadBytes == 0 && r.BadBlocks == 0
		results[k] = r
	}
	per := (len(fetchers) + cfg.Waves - 1) / cfg.Waves
	for w, lo := 0, 0; lo < len(fetchers); w, lo = w+1, lo+per {
		hi := min(lo+per, len(fetchers))
		if w > 0 {
			time.Sleep(cfg.Settle) // the last wave's fetchers announce what they fetched
		}
		wave := FetchWave{Wave: w + 1, Fetchers: hi - lo, Providers: countProviders(ctx, peers[0], root.Root)}
		for k := lo; k < hi; k++ {
			wg.Go(func() { fetchOne(k, fetchers[k]) })
		}
		wg.Wait()
		var sum time.Duration
		n := 0
		for _, r := range results[lo:hi] {
			if r.OK {
				sum += r.Took
				n++
			}
		}
		if n > 0 {
			wave.MeanTook = sum / time.Duration(n)
		}
		if cfg.Waves > 1 {
			rep.Waves = append(rep.Waves, wave)
		}
	}
	close(fetching)
	churnWG.Wait()
	rep.Results = results
	if churnErr != nil {
		return rep, fmt.Errorf("simnet: fetch: churn: %w", churnErr)
	}
	return rep, nil
}

// countProviders returns how many distinct providers of c one lookup from
// p finds (0 if the lookup fails).
func countProviders(ctx context.Context, p *Peer, c cid.Cid) int {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	seen := map[peer.ID]bool{}
	for ai := range p.Node.Router().FindProviders(ctx, c, 0) {
		seen[ai.ID] = true
	}
	return len(seen)
}

// readBack reads the file under root from p's store and returns how many
// of its bytes differ from data (a length difference counts too; a file
// that cannot be read counts whole).
func readBack(ctx context.Context, p *Peer, root share.AddResult, data []byte) int64 {
	r, err := share.NewReader(share.ReaderConfig{}, p.Node.Blocks()).Open(ctx, root.Root)
	if err != nil {
		return int64(len(data))
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		return int64(len(data))
	}
	return diffBytes(got, data)
}

// diffBytes counts the positions where a and b differ, and the length
// difference.
func diffBytes(a, b []byte) int64 {
	n := int64(max(len(a), len(b)) - min(len(a), len(b)))
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

// WriteTable prints r as a human-readable table.
func (r FetchReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "simnet fetch: %d nodes, seed %d, %.1f MiB file on %d providers %v (uplink %d Mbit/s each); ideal %s\n",
		r.Nodes, r.Seed, float64(r.FileBytes)/(1<<20), len(r.Providers), r.ProvRegs, r.UplinkBps/1_000_000, r.Ideal.Round(time.Millisecond))
	if r.Churn > 0 {
		fmt.Fprintf(&b, "churn %.0f%%: providers %v left during the fetches, %d nodes joined\n", r.Churn*100, r.Left, r.Joined)
	}
	if len(r.Corrupt) > 0 {
		fmt.Fprintf(&b, "corrupt providers %v (every block bit-flipped): %d blocks spoiled\n", r.Corrupt, r.CorruptBlocks)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "fetcher\tregion\tok\ttime\tMB/s\tcorrect\tbad bytes\tbad blocks\tdropped\tleft\tshares (provider: fraction)")
	for _, f := range r.Results {
		var sh []string
		for _, p := range r.Providers {
			sh = append(sh, fmt.Sprintf("%d: %.2f", p, f.Shares[p]))
		}
		fmt.Fprintf(tw, "%d\t%s\t%v\t%s\t%.2f\t%v\t%d\t%d\t%v\t%v\t%s\n", f.Fetcher, f.Region, f.OK, f.Took.Round(time.Millisecond),
			f.MBps, f.Correct, f.BadBytes, f.BadBlocks, f.Dropped, f.Left, strings.Join(sh, ", "))
		if f.Err != "" {
			fmt.Fprintf(tw, "\terror: %s\n", f.Err)
		}
	}
	tw.Flush()
	for _, wv := range r.Waves {
		fmt.Fprintf(&b, "wave %d: %d fetchers, %d providers found before it, mean fetch %s\n",
			wv.Wave, wv.Fetchers, wv.Providers, wv.MeanTook.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "time: %s virtual, %s wall\n", r.Virtual.Round(time.Millisecond), r.Wall.Round(time.Millisecond))
	_, err := io.WriteString(w, b.String())
	return err
}
