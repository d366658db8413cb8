package simnet

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enxame/enxame/node"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// DHTConfig configures the dht scenario. A zero field means the default in
// its comment.
type DHTConfig struct {
	Net Config
	// Settle is how long (virtual time) the nodes have to join before the
	// workload starts, counted from the last node's start (see
	// Config.JoinSpread). Default 30s.
	Settle time.Duration
	// Keys is how many CIDs are provided, each by one node. Default 50.
	Keys int
	// FindPeer and FindProviders are how many lookups of each kind run.
	// Default 200 each.
	FindPeer      int
	FindProviders int
	// Gap is the (virtual) time between the starts of two lookups; lookups
	// overlap. Default 50ms.
	Gap time.Duration
	// Timeout bounds one lookup or provide. Default 30s.
	Timeout time.Duration
	// Churn is the fraction of nodes (never a bootstrap peer, a provider
	// or a lookup target) that leave during the lookups, each replaced by
	// a new node that joins. Default 0.
	Churn float64
	// Droppers is the fraction of nodes (never a bootstrap peer or a
	// provider) that turn adversarial once settled: they stay in everyone's
	// routing table and accept connections and DHT streams, but read
	// queries and never answer (the adversary scenario). Default 0.
	Droppers float64
	// Bitswap keeps Bitswap on full nodes. Default false: the dht scenario
	// moves no blocks, and Bitswap holds a message queue (and its
	// goroutine) per connected peer.
	Bitswap bool
	// AfterSettle, when set, is called once the nodes have settled, before
	// the workload (tests inspect the network, benchmarks profile it).
	AfterSettle func(*Network)
}

func (c DHTConfig) withDefaults() DHTConfig {
	if c.Settle == 0 {
		c.Settle = 30 * time.Second
	}
	if c.Keys == 0 {
		c.Keys = 50
	}
	if c.FindPeer == 0 {
		c.FindPeer = 200
	}
	if c.FindProviders == 0 {
		c.FindProviders = 200
	}
	if c.Gap == 0 {
		c.Gap = 50 * time.Millisecond
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	return c
}

// LookupStats summarises lookups of one kind.
type LookupStats struct {
	Kind     string  `json:"kind"`
	Attempts int     `json:"attempts"`
	OK       int     `json:"ok"`
	Success  float64 `json:"success"`
	// Local counts lookups answered without a query (already connected to
	// the peer, or holding the record).
	Local   int     `json:"local"`
	Hops    IntDist `json:"hops"`
	Queried IntDist `json:"queried"`
	Latency Dist    `json:"latency"`
	// Latencies are the successful lookups' latencies, for plots.
	Latencies []time.Duration `json:"-"`
	Errors    []string        `json:"errors,omitempty"`
}

func lookupStats(kind string, ls []Lookup) LookupStats {
	s := LookupStats{Kind: kind, Attempts: len(ls)}
	var hops, queried []int
	errs := map[string]bool{}
	for _, l := range ls {
		if !l.OK {
			if l.Err != nil && len(errs) < 5 {
				errs[l.Err.Error()] = true
			}
			continue
		}
		s.OK++
		if l.Queried == 0 {
			s.Local++
		}
		hops = append(hops, l.Hops)
		queried = append(queried, l.Queried)
		s.Latencies = append(s.Latencies, l.Took)
	}
	if s.Attempts > 0 {
		s.Success = float64(s.OK) / float64(s.Attempts)
	}
	s.Hops, s.Queried, s.Latency = SummarizeInts(hops), SummarizeInts(queried), Summarize(s.Latencies)
	for e := range errs {
		s.Errors = append(s.Errors, e)
	}
	slices.Sort(s.Errors)
	return s
}

// DHTReport is the dht scenario's outcome.
type DHTReport struct {
	Scenario string   `json:"scenario"`
	Tier     string   `json:"tier"`
	Nodes    int      `json:"nodes"`
	Seed     uint64   `json:"seed"`
	Regions  []Region `json:"regions"`
	Churn    float64  `json:"churn"`
	Left     int      `json:"left"`
	Droppers int      `json:"droppers"`
	Joined   int      `json:"joined"`
	// Unanswered counts the DHT requests the droppers received and never
	// answered (each timed out on its sender); DroppersAsked is how many
	// droppers received at least one.
	Unanswered    int64 `json:"unanswered,omitempty"`
	DroppersAsked int   `json:"droppers_asked,omitempty"`

	Provide       LookupStats `json:"provide"`
	FindPeer      LookupStats `json:"find_peer"`
	FindProviders LookupStats `json:"find_providers"`
	// ChurnFindPeer and ChurnFindProviders are the same lookups run again
	// while Churn of the nodes leave and new ones join (empty without
	// churn).
	ChurnFindPeer      LookupStats `json:"churn_find_peer,omitzero"`
	ChurnFindProviders LookupStats `json:"churn_find_providers,omitzero"`
	// TableSize is the routing-table size of every live node at the end.
	TableSize IntDist `json:"table_size"`
	// HopBound is ceil(log2(N)) + 1, the bound the median hop count is
	// held to (see the package tests).
	HopBound int `json:"hop_bound"`

	Virtual  time.Duration `json:"virtual_ns"`
	Wall     time.Duration `json:"wall_ns"`
	HeapMiB  float64       `json:"heap_peak_mib"`
	SysMiB   float64       `json:"sys_mib"`
	Goroutes int           `json:"goroutines_peak"`
	// FDs is the process's open file descriptors once the nodes settled
	// (Linux; 0 elsewhere): the simulated network uses none, each node's
	// block store a few.
	FDs int `json:"fds"`
	// Requests counts the DHT requests the light nodes made (light tier
	// only); Dials the dials that the light or mem nodes made (light and
	// mem tiers).
	Requests int64 `json:"requests,omitempty"`
	Dials    int64 `json:"dials,omitempty"`
	// Phases is the wall time of each phase: build, settle, provide,
	// lookups, close.
	Phases []Phase `json:"phases"`
}

// Phase is the wall and virtual time one phase of a scenario took.
type Phase struct {
	Name    string        `json:"name"`
	Wall    time.Duration `json:"wall_ns"`
	Virtual time.Duration `json:"virtual_ns"`
}

// phaser records phases.
type phaser struct {
	wall, virt time.Time
	out        *[]Phase
}

func newPhaser(out *[]Phase) *phaser { return &phaser{wall: wallNow(), virt: time.Now(), out: out} }

func (p *phaser) done(name string) {
	w, v := wallNow(), time.Now()
	*p.out = append(*p.out, Phase{Name: name, Wall: w.Sub(p.wall), Virtual: v.Sub(p.virt)})
	p.wall, p.virt = w, v
}

// HopBound is the median-hop bound for a network of n nodes: Kademlia
// halves the XOR distance to the target with every hop at worst, so a
// lookup needs at most log2(n) referrals; with k=20 buckets and alpha
// parallel queries the real figure is about log2(n)/log2(k) + 1, far below.
func HopBound(n int) int { return int(math.Ceil(math.Log2(float64(n)))) + 1 }

// KeyCID is the CID (raw, sha2-256) of the seeded test key i.
func KeyCID(seed uint64, i int) cid.Cid {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], seed)
	binary.BigEndian.PutUint64(b[8:], uint64(i))
	sum := sha256.Sum256(b[:])
	m, _ := mh.Encode(sum[:], mh.SHA2_256)
	return cid.NewCidV1(cid.Raw, m)
}

// memSampler tracks peak heap and goroutines while a scenario runs.
type memSampler struct {
	mu        sync.Mutex
	heap, sys uint64
	gor       int
}

func (m *memSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g := runtime.NumGoroutine()
	m.mu.Lock()
	m.heap, m.sys, m.gor = max(m.heap, ms.HeapInuse), max(m.sys, ms.Sys), max(m.gor, g)
	m.mu.Unlock()
}

// RunDHT runs the dht scenario: cfg.Net.Nodes nodes join through the
// bootstrap peers; Keys CIDs are provided; then FindPeer and FindProviders
// lookups start every Gap from random live nodes while, with Churn, nodes
// leave and new ones join. Call it inside a synctest bubble.
func RunDHT(ctx context.Context, cfg DHTConfig) (rep DHTReport, err error) {
	cfg = cfg.withDefaults()
	if cfg.Churn < 0 || cfg.Churn >= 1 || cfg.Droppers < 0 || cfg.Churn+cfg.Droppers >= 0.9 {
		return rep, errors.New("simnet: dht: Churn and Droppers must be in [0, 1) and leave 10% of the nodes honest and stable")
	}
	wallStart, start := wallNow(), time.Now()
	var mem memSampler
	mem.sample()
	if !cfg.Bitswap && cfg.Net.Tier != TierLight {
		user := cfg.Net.Node
		cfg.Net.Node = func(i int, c *node.Config) {
			c.Share.DisableBitswap = true
			if user != nil {
				user(i, c)
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var phases []Phase
	ph := newPhaser(&phases)
	net, err := Start(ctx, cfg.Net)
	if err != nil {
		return rep, err
	}
	ph.done("build")
	defer func() {
		mem.sample()
		err = errors.Join(err, net.Close())
		ph.done("close")
		rep.Phases = phases
		rep.Virtual = time.Since(start)
		rep.Wall = wallNow().Sub(wallStart)
		rep.HeapMiB = math.Round(float64(mem.heap)/(1<<20)*10) / 10
		rep.SysMiB = math.Round(float64(mem.sys)/(1<<20)*10) / 10
		rep.Goroutes = mem.gor
	}()
	ncfg := net.cfg
	n := ncfg.Nodes
	rep = DHTReport{Scenario: "dht", Tier: ncfg.Tier, Nodes: n, Seed: ncfg.Seed, Regions: ncfg.Regions, Churn: cfg.Churn, HopBound: HopBound(n)}
	rng := net.Rand(1)

	// Roles: victims leave during the lookups; everyone else may be a
	// provider, a source or a target.
	victims := map[int]bool{}
	nv := int(math.Round(cfg.Churn * float64(n)))
	cands := make([]int, 0, n)
	for i := ncfg.Bootstraps; i < n; i++ {
		cands = append(cands, i)
	}
	rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	if nv > len(cands)/2 {
		nv = len(cands) / 2
	}
	for _, i := range cands[:nv] {
		victims[i] = true
	}
	droppers := map[int]bool{}
	nd := min(int(math.Round(cfg.Droppers*float64(n))), len(cands)-nv)
	for _, i := range cands[nv : nv+nd] {
		droppers[i] = true
	}
	var stable []int
	for i := range n {
		if !victims[i] && !droppers[i] {
			stable = append(stable, i)
		}
	}
	peers := net.Peers()
	pick := func() *Peer { return peers[stable[rng.IntN(len(stable))]] }
	_ = victims

	time.Sleep(cfg.Net.JoinSpread + cfg.Settle)
	mem.sample()
	ph.done("settle")
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		rep.FDs = len(ents)
	}
	var swallowed []*atomic.Int64 // by dropper
	for _, i := range slices.Sorted(maps.Keys(droppers)) {
		p := peers[i]
		if lh, ok := p.host.(*lightHost); ok {
			lh.setSilent()
			swallowed = append(swallowed, &lh.swallowed)
		} else {
			n := new(atomic.Int64)
			p.host.SetStreamHandler(p.Router().ProtocolID(), blackhole(n))
			swallowed = append(swallowed, n)
		}
		rep.Droppers++
	}
	defer func() {
		for _, n := range swallowed {
			if k := n.Load(); k > 0 {
				rep.Unanswered += k
				rep.DroppersAsked++
			}
		}
	}()
	if cfg.AfterSettle != nil {
		cfg.AfterSettle(net)
	}

	// Provide.
	keys := make([]cid.Cid, cfg.Keys)
	holder := make([]*Peer, cfg.Keys)
	for i := range keys {
		keys[i], holder[i] = KeyCID(ncfg.Seed, i), pick()
	}
	provs := make([]Lookup, cfg.Keys)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			defer cancel()
			t0 := time.Now()
			err := holder[i].Router().Provide(pctx, keys[i])
			provs[i] = Lookup{OK: err == nil, Took: time.Since(t0), Err: err, Hops: 1, Queried: 1}
		})
		time.Sleep(cfg.Gap)
	}
	wg.Wait()
	rep.Provide = lookupStats("provide", provs)
	mem.sample()
	ph.done("provide")

	// Lookups on a steady network, then (with Churn) the same number
	// again while nodes leave and join.
	rep.FindPeer, rep.FindProviders = runLookups(ctx, cfg, net, rng, pick, keys, holder, nil, &mem)
	ph.done("lookups")
	if len(victims) > 0 {
		ch := &churner{victims: slices.Sorted(maps.Keys(victims))}
		for range ch.victims {
			ch.regions = append(ch.regions, ncfg.Regions[rng.IntN(len(ncfg.Regions))])
		}
		rep.ChurnFindPeer, rep.ChurnFindProviders = runLookups(ctx, cfg, net, rng, pick, keys, holder, ch, &mem)
		if ch.err != nil {
			return rep, ch.err
		}
		rep.Left, rep.Joined = ch.left, ch.joined
		// The last node may have joined at the round's last instant: give
		// it the time of a few round trips before tables are measured.
		time.Sleep(2 * time.Second)
		ph.done("churn")
	}
	var sizes []int
	for _, p := range net.Alive() {
		sizes = append(sizes, p.Router().TableSize())
	}
	rep.TableSize = SummarizeInts(sizes)
	if net.lw != nil {
		rep.Requests, rep.Dials = net.lw.requests.Load(), net.lw.dials.Load()
	}
	if net.mw != nil {
		rep.Dials = net.mw.dials.Load()
	}
	return rep, nil
}

// Summary is a one-line summary of a report.
func (r DHTReport) Summary() string {
	out := fmt.Sprintf("dht N=%d: find-peer %.1f%% (hops p50 %d, p50 %v), find-providers %.1f%% (hops p50 %d, p50 %v)",
		r.Nodes, r.FindPeer.Success*100, r.FindPeer.Hops.P50, r.FindPeer.Latency.P50.Round(time.Millisecond),
		r.FindProviders.Success*100, r.FindProviders.Hops.P50, r.FindProviders.Latency.P50.Round(time.Millisecond))
	if r.Churn > 0 {
		out += fmt.Sprintf("; churn %.0f%%: find-peer %.1f%%, find-providers %.1f%%", r.Churn*100,
			r.ChurnFindPeer.Success*100, r.ChurnFindProviders.Success*100)
	}
	return out + fmt.Sprintf("; wall %v", r.Wall.Round(time.Millisecond))
}

// churner replaces victims by new nodes, one every interval.
type churner struct {
	victims      []int
	regions      []Region
	left, joined int
	err          error
}

func (c *churner) run(ctx context.Context, net *Network, every time.Duration) {
	for k, v := range c.victims {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		if err := net.Leave(v); err != nil {
			c.err = errors.Join(c.err, err)
		}
		c.left++
		if _, err := net.Join(c.regions[k]); err != nil {
			c.err = errors.Join(c.err, err)
			continue
		}
		c.joined++
	}
}

// runLookups runs cfg.FindPeer and cfg.FindProviders lookups from random
// stable nodes, one starting every cfg.Gap; with ch, the victims leave
// (and new nodes join) evenly over the same window.
func runLookups(ctx context.Context, cfg DHTConfig, net *Network, rng *rand.Rand, pick func() *Peer,
	keys []cid.Cid, holder []*Peer, ch *churner, mem *memSampler) (fp, fpr LookupStats) {
	type job struct {
		kind   int // 0 find peer, 1 find providers
		src    *Peer
		target peer.ID
		key    int
	}
	jobs := make([]job, 0, cfg.FindPeer+cfg.FindProviders)
	for range cfg.FindPeer {
		src := pick()
		var tgt *Peer
		// Prefer a target the source is not connected to: a connected one
		// is answered locally and measures nothing.
		for try := 0; try < 20; try++ {
			tgt = pick()
			if tgt != src && src.host.Network().Connectedness(tgt.ID()) != network.Connected {
				break
			}
		}
		for tgt == src {
			tgt = pick()
		}
		jobs = append(jobs, job{kind: 0, src: src, target: tgt.ID()})
	}
	for range cfg.FindProviders {
		jobs = append(jobs, job{kind: 1, src: pick(), key: rng.IntN(len(keys))})
	}
	rng.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })

	var wg sync.WaitGroup
	if ch != nil {
		window := time.Duration(len(jobs)) * cfg.Gap
		wg.Go(func() { ch.run(ctx, net, window/time.Duration(len(ch.victims)+1)) })
	}
	results := make([]Lookup, len(jobs))
	for i, j := range jobs {
		wg.Go(func() {
			lctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			defer cancel()
			if j.kind == 0 {
				results[i] = FindPeer(lctx, j.src, j.target)
			} else {
				results[i] = FindProvider(lctx, j.src, keys[j.key], map[peer.ID]bool{holder[j.key].ID(): true})
			}
		})
		if i%50 == 0 {
			mem.sample()
		}
		time.Sleep(cfg.Gap)
	}
	wg.Wait()
	var a, b []Lookup
	for i, j := range jobs {
		if j.kind == 0 {
			a = append(a, results[i])
		} else {
			b = append(b, results[i])
		}
	}
	return lookupStats("find-peer", a), lookupStats("find-providers", b)
}

// blackhole returns the DHT handler of a dropper: it reads the requests
// that come (varint-delimited messages), counts them in n, and never
// answers, until the querier gives up or the host closes.
func blackhole(n *atomic.Int64) network.StreamHandler {
	return func(s network.Stream) {
		br := bufio.NewReader(s)
		for {
			size, err := binary.ReadUvarint(br)
			if err != nil {
				break
			}
			if _, err := io.CopyN(io.Discard, br, int64(size)); err != nil {
				break
			}
			n.Add(1)
		}
		s.Reset()
	}
}
