package simnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share/search"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// SearchConfig configures the search scenario. A zero field means the
// default in its comment.
type SearchConfig struct {
	Net Config
	// Settle is how long (virtual time) the nodes have to join before the
	// workload, counted from the last node's start. Default 30s.
	Settle time.Duration
	// Files is how many files are published, each by one random node.
	// Default 100.
	Files int
	// Vocabulary is how many distinct keywords there are; each file gets
	// KeywordsPerFile distinct ones drawn from a Zipf distribution
	// (exponent ZipfS) over it. Defaults 500, 3 and 1.1.
	Vocabulary      int
	KeywordsPerFile int
	ZipfS           float64
	// Searches is how many searches run, each from a random node for a
	// random file's keywords. Default 200.
	Searches int
	// Gap is the (virtual) time between the starts of two publications or
	// searches. Default 50ms.
	Gap time.Duration
	// Timeout bounds one publication or search. Default 30s.
	Timeout time.Duration
}

func (c SearchConfig) withDefaults() SearchConfig {
	if c.Settle == 0 {
		c.Settle = 30 * time.Second
	}
	if c.Files == 0 {
		c.Files = 100
	}
	if c.Vocabulary == 0 {
		c.Vocabulary = 500
	}
	if c.KeywordsPerFile == 0 {
		c.KeywordsPerFile = 3
	}
	if c.ZipfS == 0 {
		c.ZipfS = 1.1
	}
	if c.Searches == 0 {
		c.Searches = 200
	}
	if c.Gap == 0 {
		c.Gap = 50 * time.Millisecond
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	return c
}

// SearchReport is the search scenario's outcome.
type SearchReport struct {
	Scenario string `json:"scenario"`
	Tier     string `json:"tier"`
	Nodes    int    `json:"nodes"`
	Seed     uint64 `json:"seed"`
	Files    int    `json:"files"`
	// Publish is the publications (each stores a file's records under
	// each of its keywords); Search the searches: a search succeeds when
	// the file searched for (published by one node) is among its records;
	// its latency is until that record arrived.
	Publish LookupStats `json:"publish"`
	Search  LookupStats `json:"search"`
	// Records is the keyword records each node stores for others;
	// KeywordFiles how many files carry each keyword (the Zipf skew).
	Records      IntDist       `json:"records_per_node"`
	KeywordFiles IntDist       `json:"files_per_keyword"`
	Virtual      time.Duration `json:"virtual_ns"`
	Wall         time.Duration `json:"wall_ns"`
	Phases       []Phase       `json:"phases"`
}

// searchFile is one published file of the workload.
type searchFile struct {
	cid  cid.Cid
	name string
	kws  []string
	by   int // publisher's index
}

// vocabWord is keyword i: longer for rarer words, so that the length
// heuristic of search.Rarest picks the rarest (as for real words, where
// the common ones are short).
func vocabWord(i int) string { return fmt.Sprintf("k%0*d", 3+int(math.Log10(float64(i+1))), i) }

// RunSearch runs the search scenario: cfg.Net.Nodes nodes join; Files
// files, each with KeywordsPerFile Zipf-distributed keywords, are
// published by one random node each (dht.Search.Publish: a signed record
// per keyword on the closest peers); then Searches searches, each from a
// random node for a random file, look the file's rarest keyword up
// (dht.Search.Find) and filter by the others (search.Query.Match). Full
// and mem tiers use each node's own search service over streams; the
// light tier gives each node a dht.Search whose requests reach the other
// node's handler after the pair's latency each way. Call it inside a
// synctest bubble.
func RunSearch(ctx context.Context, cfg SearchConfig) (rep SearchReport, err error) {
	cfg = cfg.withDefaults()
	if cfg.KeywordsPerFile > cfg.Vocabulary {
		return rep, errors.New("simnet: search: KeywordsPerFile must be at most Vocabulary")
	}
	wallStart, start := wallNow(), time.Now()
	if cfg.Net.Tier != TierLight {
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
		err = errors.Join(err, net.Close())
		ph.done("close")
		rep.Phases = phases
		rep.Virtual = time.Since(start)
		rep.Wall = wallNow().Sub(wallStart)
	}()
	ncfg := net.cfg
	rep = SearchReport{Scenario: "search", Tier: ncfg.Tier, Nodes: ncfg.Nodes, Seed: ncfg.Seed, Files: cfg.Files}
	rng := net.Rand(3)
	peers := net.Peers()
	svcs, err := searchServices(net, peers)
	if err != nil {
		return rep, err
	}
	time.Sleep(cfg.Net.JoinSpread + cfg.Settle)
	ph.done("settle")

	// The workload: files with Zipf keywords.
	zipf := rand.NewZipf(rng, cfg.ZipfS, 1, uint64(cfg.Vocabulary-1))
	files := make([]searchFile, cfg.Files)
	perWord := map[int]int{}
	for i := range files {
		seen := map[int]bool{}
		var kws []string
		for len(kws) < cfg.KeywordsPerFile {
			w := int(zipf.Uint64())
			if seen[w] {
				continue
			}
			seen[w] = true
			perWord[w]++
			kws = append(kws, vocabWord(w))
		}
		files[i] = searchFile{cid: KeyCID(ncfg.Seed^0x5ea2c4, i), name: strings.Join(kws, " ") + ".dat", kws: kws,
			by: rng.IntN(len(peers))}
	}
	var counts []int
	for _, n := range perWord {
		counts = append(counts, n)
	}
	rep.KeywordFiles = SummarizeInts(counts)

	pubs := make([]Lookup, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			defer cancel()
			recs := make([]dht.KeywordRecord, len(f.kws))
			for j, kw := range f.kws {
				recs[j] = dht.KeywordRecord{Keyword: kw, CID: f.cid, Name: f.name, Size: 1}
			}
			t0 := time.Now()
			res, err := svcs[f.by].Publish(pctx, recs)
			stored := 0
			for _, n := range res.Stored {
				stored += n
			}
			pubs[i] = Lookup{OK: err == nil, Took: time.Since(t0), Err: err, Hops: 1, Queried: stored}
		})
		time.Sleep(cfg.Gap)
	}
	wg.Wait()
	rep.Publish = lookupStats("publish", pubs)
	ph.done("publish")

	finds := make([]Lookup, cfg.Searches)
	for i := range finds {
		f := files[rng.IntN(len(files))]
		from := rng.IntN(len(peers))
		wg.Go(func() {
			finds[i] = searchOnce(ctx, cfg.Timeout, svcs[from], f, peers[f.by].ID())
		})
		time.Sleep(cfg.Gap)
	}
	wg.Wait()
	rep.Search = lookupStats("search", finds)
	ph.done("searches")

	var recs []int
	for _, s := range svcs {
		recs = append(recs, s.Stats().Records)
	}
	rep.Records = SummarizeInts(recs)
	return rep, nil
}

// searchOnce searches from s for f's keywords and reports whether f's
// record from its publisher arrived, and when.
func searchOnce(ctx context.Context, timeout time.Duration, s *dht.Search, f searchFile, by peer.ID) Lookup {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	q, err := search.ParseQuery(f.kws...)
	if err != nil {
		return Lookup{Err: err}
	}
	t0 := time.Now()
	var found time.Duration
	ok := false
	res, err := s.Find(ctx, q.Lookup, func(_ peer.ID, rec *dht.KeywordRecord) {
		h := search.Hit{CID: rec.CID.String(), Name: rec.Name, Keyword: rec.Keyword, Publisher: rec.Publisher.String()}
		if !ok && rec.CID == f.cid && rec.Publisher == by && q.Match(h) {
			ok, found = true, time.Since(t0)
		}
	})
	if err == nil && !ok {
		err = fmt.Errorf("file not found (%d records from %d of %d peers)", res.Records, res.Answered, res.Queried)
	}
	return Lookup{OK: ok, Took: found, Err: err, Hops: 1, Queried: res.Queried}
}

// searchServices returns each peer's search service: the node's own on
// full and mem nodes; on light ones, a dht.Search over an in-memory
// transport with the pair's latency each way.
func searchServices(net *Network, peers []*Peer) ([]*dht.Search, error) {
	out := make([]*dht.Search, len(peers))
	if net.lw == nil {
		for i, p := range peers {
			out[i] = p.Node.Search()
		}
		return out, nil
	}
	byID := make(map[peer.ID]*dht.Search, len(peers))
	var mu sync.Mutex
	for i, p := range peers {
		lh := p.host.(*lightHost)
		send := func(ctx context.Context, to peer.ID, req *dht.SearchMsg) (*dht.SearchMsg, error) {
			if err := lh.dial(ctx, to, false); err != nil {
				return nil, err
			}
			r := net.lw.get(to)
			mu.Lock()
			srv := byID[to]
			mu.Unlock()
			if r == nil || srv == nil {
				return nil, fmt.Errorf("simnet: search: %s unknown", to)
			}
			one := net.lw.latency(lh, r)
			if err := sleepCtx(ctx, one); err != nil {
				return nil, err
			}
			if r.isClosed() || r.isSilent() {
				return nil, fmt.Errorf("simnet: search: %s does not answer", to)
			}
			resp := srv.Handle(lh.id, req)
			if resp == nil {
				return nil, fmt.Errorf("simnet: search: %s refused the request", to)
			}
			if err := sleepCtx(ctx, one); err != nil {
				return nil, err
			}
			return resp, nil
		}
		s, err := dht.NewSearch(dht.SearchConfig{}, dht.SearchDeps{Host: lh, Router: p.router, Key: p.key, Transport: send})
		if err != nil {
			return nil, fmt.Errorf("simnet: node %d: %w", i, err)
		}
		out[i] = s
		mu.Lock()
		byID[p.ID()] = s
		mu.Unlock()
	}
	return out, nil
}

// Summary is a one-line summary of a report.
func (r SearchReport) Summary() string {
	return fmt.Sprintf("search N=%d, %d files: found %.1f%% (p50 %v, p95 %v), records per node max %d mean %.1f; wall %v",
		r.Nodes, r.Files, r.Search.Success*100, r.Search.Latency.P50.Round(time.Millisecond),
		r.Search.Latency.P95.Round(time.Millisecond), r.Records.Max, r.Records.Mean, r.Wall.Round(time.Millisecond))
}

// WriteTable writes the report as text.
func (r SearchReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "simnet search: %d nodes (%s tier), seed %d, %d files (files per keyword: p50 %d, max %d)\n",
		r.Nodes, r.Tier, r.Seed, r.Files, r.KeywordFiles.P50, r.KeywordFiles.Max)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tok\tsuccess\tp50\tp95\tp99\tmax\t")
	for _, s := range []LookupStats{r.Publish, r.Search} {
		fmt.Fprintf(tw, "%s\t%d/%d\t%.1f%%\t%s\t%s\t%s\t%s\t\n", s.Kind, s.OK, s.Attempts, s.Success*100,
			ms(s.Latency.P50), ms(s.Latency.P95), ms(s.Latency.P99), ms(s.Latency.Max))
	}
	tw.Flush()
	fmt.Fprintf(&b, "records stored per node: max %d, mean %.1f, p50 %d\n", r.Records.Max, r.Records.Mean, r.Records.P50)
	for _, s := range []LookupStats{r.Publish, r.Search} {
		for _, e := range s.Errors {
			fmt.Fprintf(&b, "%s error: %s\n", s.Kind, e)
		}
	}
	fmt.Fprintf(&b, "time: %s virtual, %s wall\n", r.Virtual.Round(time.Millisecond), r.Wall.Round(time.Millisecond))
	_, err := io.WriteString(w, b.String())
	return err
}
