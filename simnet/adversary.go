package simnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enxame/enxame/share"
	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// AdversaryConfig configures the adversary scenario. A zero field means the
// default in its comment.
type AdversaryConfig struct {
	// Net is the swarm of the DHT phase, in any tier. The fetch and
	// compute phases build full-tier swarms of their own with its seed,
	// regions, bootstrap peers, bandwidth and loss.
	Net Config
	// Settle is the virtual time each phase's nodes have to join. Default
	// 10s.
	Settle time.Duration

	// Droppers is the fraction of the DHT phase's nodes that swallow every
	// DHT query once settled (DHTConfig.Droppers). Default 0.2.
	Droppers float64
	// Churn is the fraction of the DHT phase's nodes that leave (and are
	// replaced) during a second round of lookups. Default 0.
	Churn float64
	// Keys is how many CIDs the DHT phase provides; Lookups how many
	// lookups of each kind (FindPeer, FindProviders) it runs. Defaults 50
	// and 200.
	Keys, Lookups int

	// FetchNodes is the size of the fetch phase's swarm. Default
	// Providers + Fetchers + Net.Bootstraps + 4.
	FetchNodes int
	// Providers is how many nodes hold the fetch phase's file; Corrupt is
	// the fraction of them (rounded, at least one left honest) that serve
	// every block with one bit flipped (FetchConfig.Corrupt). Defaults 4
	// and 0.5.
	Providers int
	Corrupt   float64
	// Fetchers is how many nodes fetch the file at once. Default 2.
	Fetchers int
	// FileBytes is the file's size. Default 2 MiB.
	FileBytes int
	// ProviderBitsPerSecond caps each provider's uplink. Default 20 Mbit/s.
	ProviderBitsPerSecond int

	// Workers, Units, UnitSeconds and Replicas are the compute phase's
	// workers and job (ComputeConfig); Wrong is the fraction of the
	// workers that return a wrong output for every unit. Defaults 8, 30,
	// 10s, 3 and 0.25.
	Workers     int
	Units       int
	UnitSeconds float64
	Replicas    int
	Wrong       float64
}

// DefaultAdversaryConfig returns the configuration with every default of
// the scenario's own fields filled in (Net and FetchNodes left zero).
func DefaultAdversaryConfig() AdversaryConfig {
	c := AdversaryConfig{}.withDefaults()
	c.FetchNodes = 0
	return c
}

func (c AdversaryConfig) withDefaults() AdversaryConfig {
	if c.Settle == 0 {
		c.Settle = 10 * time.Second
	}
	if c.Droppers == 0 {
		c.Droppers = 0.2
	}
	if c.Keys == 0 {
		c.Keys = 50
	}
	if c.Lookups == 0 {
		c.Lookups = 200
	}
	if c.Providers == 0 {
		c.Providers = 4
	}
	if c.Corrupt == 0 {
		c.Corrupt = 0.5
	}
	if c.Fetchers == 0 {
		c.Fetchers = 2
	}
	if c.FileBytes == 0 {
		c.FileBytes = 2 << 20
	}
	if c.FetchNodes == 0 {
		c.FetchNodes = c.Providers + c.Fetchers + c.Net.withDefaults().Bootstraps + 4
	}
	if c.Workers == 0 {
		c.Workers = 8
	}
	if c.Units == 0 {
		c.Units = 30
	}
	if c.UnitSeconds == 0 {
		c.UnitSeconds = 10
	}
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.Wrong == 0 {
		c.Wrong = 0.25
	}
	return c
}

// AdversaryReport is the adversary scenario's outcome: each phase's own
// report, what the honest nodes caught, and the correctness checks.
type AdversaryReport struct {
	Scenario string          `json:"scenario"`
	Seed     uint64          `json:"seed"`
	Caught   AdversaryCaught `json:"caught"`
	Checks   AdversaryChecks `json:"checks"`
	DHT      DHTReport       `json:"dht"`
	Fetch    FetchReport     `json:"fetch"`
	Compute  ComputeReport   `json:"compute"`
	Virtual  time.Duration   `json:"virtual_ns"`
	Wall     time.Duration   `json:"wall_ns"`
}

// AdversaryCaught is what the honest nodes caught of the adversaries.
type AdversaryCaught struct {
	// Droppers are the DHT phase's silent nodes; DroppersAsked of them
	// were sent requests, Unanswered requests they never answered (each
	// timed out on its sender, which routed around it).
	Droppers      int   `json:"droppers"`
	DroppersAsked int   `json:"droppers_asked"`
	Unanswered    int64 `json:"unanswered"`
	// CorruptProviders serve bit-flipped blocks; CorruptBlocks counts the
	// blocks they spoiled. ProvidersDropped counts the (fetch, corrupt
	// provider) pairs in which the fetch dropped the provider,
	// CorruptDropped the corrupt providers dropped by at least one fetch;
	// HonestDropped counts (fetch, honest provider) pairs dropped.
	CorruptProviders int   `json:"corrupt_providers"`
	CorruptBlocks    int64 `json:"corrupt_blocks"`
	ProvidersDropped int   `json:"providers_dropped"`
	CorruptDropped   int   `json:"corrupt_dropped"`
	HonestDropped    int   `json:"honest_dropped"`
	// Liars are the compute workers returning wrong outputs; Outvoted
	// counts the (unit, liar) pairs in which the liar lost the vote,
	// LiarsOutvoted the liars that lost at least one; HonestOutvoted
	// counts (unit, honest worker) pairs lost.
	Liars          int `json:"liars"`
	Outvoted       int `json:"outvoted"`
	LiarsOutvoted  int `json:"liars_outvoted"`
	HonestOutvoted int `json:"honest_outvoted"`
}

// AdversaryChecks are the correctness checks: what the adversaries must
// not have achieved, and whether the honest work still completed.
type AdversaryChecks struct {
	// Lookups and LookupsOK count the DHT phase's honest FindPeer and
	// FindProviders lookups and those that succeeded (churn rounds
	// included); Provides and ProvidesOK its provides.
	Lookups    int `json:"lookups"`
	LookupsOK  int `json:"lookups_ok"`
	Provides   int `json:"provides"`
	ProvidesOK int `json:"provides_ok"`
	// Fetches and FetchesOK count the fetches and those that completed.
	Fetches   int `json:"fetches"`
	FetchesOK int `json:"fetches_ok"`
	// CorruptBytesAccepted counts the fetched bytes that differ from the
	// source; CorruptBlocksStored the blocks in the fetchers' stores that
	// fail their hash.
	CorruptBytesAccepted int64 `json:"corrupt_bytes_accepted"`
	CorruptBlocksStored  int   `json:"corrupt_blocks_stored"`
	// JobState is the compute job's end state; WrongAccepted counts its
	// units whose accepted output is wrong.
	JobState      string `json:"job_state"`
	WrongAccepted int    `json:"wrong_accepted"`
	// Correct is set when nothing wrong was accepted: no wrong result, no
	// corrupt byte or block, and the fetches' stores could be verified.
	Correct bool `json:"correct"`
}

// RunAdversary runs the adversary scenario in three phases, each on a
// swarm of its own: a DHT phase (RunDHT with Droppers: silent nodes stay
// in routing tables and swallow every query; the lookups must still
// succeed), a fetch phase (RunFetch with Corrupt: some providers serve
// bit-flipped blocks to fetchers that verify every block; the fetched bytes
// must equal the source and the corrupt providers be dropped) and a compute
// phase (RunCompute with Wrong and Replicas: liars are outvoted and no
// wrong result accepted). It reports what was caught and the correctness
// checks. Call it inside a synctest bubble. It returns the error of the
// first phase that could not run; a phase whose adversaries won is not an
// error but a failed check in the report.
func RunAdversary(ctx context.Context, cfg AdversaryConfig) (rep AdversaryReport, err error) {
	cfg = cfg.withDefaults()
	if !(cfg.Corrupt >= 0 && cfg.Corrupt < 1) || !(cfg.Wrong >= 0 && cfg.Wrong < 1) {
		return rep, errors.New("simnet: adversary: Corrupt and Wrong must be in [0, 1)")
	}
	if cfg.Replicas > cfg.Workers {
		return rep, errors.New("simnet: adversary: Replicas must not exceed Workers")
	}
	wallStart, start := wallNow(), time.Now()
	rep = AdversaryReport{Scenario: "adversary", Seed: cfg.Net.Seed}
	defer func() { rep.Virtual, rep.Wall = time.Since(start), wallNow().Sub(wallStart) }()

	if rep.DHT, err = RunDHT(ctx, DHTConfig{
		Net: cfg.Net, Settle: cfg.Settle, Keys: cfg.Keys, FindPeer: cfg.Lookups, FindProviders: cfg.Lookups,
		Churn: cfg.Churn, Droppers: cfg.Droppers,
	}); err != nil {
		return rep, fmt.Errorf("simnet: adversary: dht phase: %w", err)
	}
	rep.DHT.Scenario = "adversary/dht"

	// The fetch and compute phases run whole nodes over simulated QUIC:
	// the fetch needs per-node uplink caps, which only the full tier has.
	full := cfg.Net
	full.Tier, full.JoinSpread = TierFull, 0
	fnet := full
	fnet.Nodes = cfg.FetchNodes
	if rep.Fetch, err = RunFetch(ctx, FetchConfig{
		Net: fnet, Providers: cfg.Providers, Fetchers: cfg.Fetchers, FileBytes: cfg.FileBytes,
		ProviderBitsPerSecond: cfg.ProviderBitsPerSecond, Settle: cfg.Settle, Corrupt: cfg.Corrupt,
	}); err != nil {
		return rep, fmt.Errorf("simnet: adversary: fetch phase: %w", err)
	}
	rep.Fetch.Scenario = "adversary/fetch"

	if rep.Compute, err = RunCompute(ctx, ComputeConfig{
		Net: full, Workers: cfg.Workers, Units: cfg.Units, UnitSeconds: cfg.UnitSeconds,
		Replicas: cfg.Replicas, Wrong: cfg.Wrong, Settle: cfg.Settle,
	}); err != nil {
		return rep, fmt.Errorf("simnet: adversary: compute phase: %w", err)
	}
	rep.Compute.Scenario = "adversary/compute"
	rep.Caught, rep.Checks = adversaryVerdict(rep)
	return rep, nil
}

// adversaryVerdict sums up the phases' reports.
func adversaryVerdict(r AdversaryReport) (c AdversaryCaught, k AdversaryChecks) {
	c.Droppers, c.DroppersAsked, c.Unanswered = r.DHT.Droppers, r.DHT.DroppersAsked, r.DHT.Unanswered
	for _, s := range []LookupStats{r.DHT.FindPeer, r.DHT.FindProviders, r.DHT.ChurnFindPeer, r.DHT.ChurnFindProviders} {
		k.Lookups += s.Attempts
		k.LookupsOK += s.OK
	}
	k.Provides, k.ProvidesOK = r.DHT.Provide.Attempts, r.DHT.Provide.OK

	c.CorruptProviders, c.CorruptBlocks = len(r.Fetch.Corrupt), r.Fetch.CorruptBlocks
	dropped := map[int]bool{}
	verified := true
	for _, f := range r.Fetch.Results {
		k.Fetches++
		if f.OK {
			k.FetchesOK++
		}
		k.CorruptBytesAccepted += f.BadBytes
		if f.BadBlocks < 0 {
			verified = false
		} else {
			k.CorruptBlocksStored += f.BadBlocks
		}
		for _, p := range f.Dropped {
			if slices.Contains(r.Fetch.Corrupt, p) {
				c.ProvidersDropped++
				dropped[p] = true
			} else {
				c.HonestDropped++
			}
		}
	}
	c.CorruptDropped = len(dropped)

	for _, w := range r.Compute.Workers {
		if !w.Wrong {
			c.HonestOutvoted += w.Outvoted
			continue
		}
		c.Liars++
		c.Outvoted += w.Outvoted
		if w.Outvoted > 0 {
			c.LiarsOutvoted++
		}
	}
	k.JobState, k.WrongAccepted = r.Compute.State, r.Compute.WrongAccepted
	k.Correct = verified && k.CorruptBytesAccepted == 0 && k.CorruptBlocksStored == 0 && k.WrongAccepted == 0
	return c, k
}

// WriteTable prints r: what was caught, the checks, then each phase's own
// report.
func (r AdversaryReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	c, k := r.Caught, r.Checks
	verdict := "CORRECT: nothing wrong was accepted"
	if !k.Correct {
		verdict = "WRONG: the adversaries got something accepted"
	}
	fmt.Fprintf(&b, "simnet adversary: seed %d; %s\n", r.Seed, verdict)
	fmt.Fprintf(&b, "caught: dht: %d droppers, %d of them asked, %d requests never answered, routed around\n",
		c.Droppers, c.DroppersAsked, c.Unanswered)
	fmt.Fprintf(&b, "caught: fetch: %d corrupt providers spoiled %d blocks; dropped %d times by the fetches (%d of %d corrupt providers), honest providers dropped %d times\n",
		c.CorruptProviders, c.CorruptBlocks, c.ProvidersDropped, c.CorruptDropped, c.CorruptProviders, c.HonestDropped)
	fmt.Fprintf(&b, "caught: compute: %d liars; a liar outvoted on %d units (%d of the liars at least once), honest workers outvoted %d times\n",
		c.Liars, c.Outvoted, c.LiarsOutvoted, c.HonestOutvoted)
	fmt.Fprintf(&b, "checks: lookups %d/%d, provides %d/%d, fetches %d/%d, corrupt bytes accepted %d, corrupt blocks stored %d, job %s, wrong results accepted %d\n",
		k.LookupsOK, k.Lookups, k.ProvidesOK, k.Provides, k.FetchesOK, k.Fetches, k.CorruptBytesAccepted, k.CorruptBlocksStored, k.JobState, k.WrongAccepted)
	fmt.Fprintf(&b, "time: %s virtual, %s wall\n\n", r.Virtual.Round(time.Millisecond), r.Wall.Round(time.Millisecond))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	for _, write := range []func(io.Writer) error{r.DHT.WriteTable, r.Fetch.WriteTable, r.Compute.WriteTable} {
		if err := write(w); err != nil {
			return err
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
	}
	return nil
}

// serveCorrupt makes p a corrupt provider: a second share exchange, reading
// p's store through a flipStore, takes over p's share protocol handler
// until ctx ends. wg owns the exchange's goroutine; spoiled counts the
// blocks it spoils.
func serveCorrupt(ctx context.Context, wg *sync.WaitGroup, p *Peer, spoiled *atomic.Int64) error {
	hc := &handlerCatcher{Host: p.host, got: make(chan network.StreamHandler, 1)}
	ex, err := share.NewExchange(p.Node.Exchange().Config(), share.ExchangeDeps{
		Host:       hc,
		Blockstore: &flipStore{Blockstore: p.Node.Blocks(), spoiled: spoiled},
	})
	if err != nil {
		return fmt.Errorf("corrupt exchange: %w", err)
	}
	wg.Go(func() { ex.Run(ctx) })
	select {
	case h := <-hc.got:
		// The node's own exchange registered its handler when the node
		// started; this one replaces it.
		p.host.SetStreamHandler(share.ProtocolID, h)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handlerCatcher is a host whose stream handlers are caught instead of
// registered, so that the caller decides when one takes over.
type handlerCatcher struct {
	host.Host
	got chan network.StreamHandler
}

func (h *handlerCatcher) SetStreamHandler(_ protocol.ID, f network.StreamHandler) {
	select {
	case h.got <- f:
	default:
	}
}

func (h *handlerCatcher) RemoveStreamHandler(protocol.ID) {}

// flipStore is a blockstore that serves every block with one bit flipped
// under its own CID: what a corrupt provider sends. It hides the pack
// store's ReadInto, so the exchange reads every block through Get.
type flipStore struct {
	blockstore.Blockstore
	spoiled *atomic.Int64
}

func (s *flipStore) Get(ctx context.Context, k cid.Cid) (blocks.Block, error) {
	blk, err := s.Blockstore.Get(ctx, k)
	if err != nil {
		return nil, err
	}
	d := bytes.Clone(blk.RawData())
	if len(d) > 0 {
		d[len(d)/2] ^= 0x10
	} else {
		d = []byte{1}
	}
	s.spoiled.Add(1)
	return blocks.NewBlockWithCid(d, k)
}
