package share

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/waittest"
	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestFetchReliability is issue 3's reliability test: a 64 MiB file on 10
// providers, of which 5 are honest, 3 flip bits in some of the blocks they
// serve (each at its own rate), 1 serves valid blocks of other CIDs under
// the requested keys and 1 truncates every block. In every run (the seed
// varies which blocks the flippers spoil, which bit, and the order in which
// the finder returns the providers):
//   - the fetch succeeds and the file written from the fetcher's Store
//     (WriteStream, as `get` writes a file) has the source's sha256;
//   - Store.Verify finds every stored block intact, and exactly the
//     source's blocks stored;
//   - every bad provider was asked for blocks and served at least one bad
//     one (so the next assertion is never vacuous), and was dropped from
//     the fetch and penalised after at most 3 bad blocks: its offences,
//     counted from the exchange's logs and checked against the score table,
//     are between 1 and 3;
//   - every honest provider is still active and was never penalised.
//
// The honest providers serve at a capped rate so that the fetch lasts long
// enough (over a second) for every provider to join and be asked; the bad
// ones serve as fast as they can.
func TestFetchReliability(t *testing.T) {
	exVerifyNoLeaks(t)
	const size = 64 << 20
	data := randomBytes(64, size)
	want := sha256.Sum256(data)
	// Every provider serves from this Store, the bad ones through a
	// wrapper that spoils what they serve.
	src := newTestStore(t, StoreConfig{})
	root := addBytes(t, src, data, AddOptions{})
	keys := relKeys(t, src)
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			testFetchReliability(t, src, keys, root, want, seed)
		})
	}
}

// relHonestRate is the serve rate of each honest provider, in bytes per
// second: the five together need over a second for 64 MiB.
const relHonestRate = 12 << 20

func testFetchReliability(t *testing.T, src *Store, keys *relKeySet, root cid.Cid, want [32]byte, seed uint64) {
	honestCfg := exTestConfig()
	honestCfg.ServeRateLimit = relHonestRate
	var honest []*exPeer
	for range 5 {
		honest = append(honest, exStartPeer(t, honestCfg, src, nil))
	}
	type badPeer struct {
		name string
		bs   *relBadStore
		p    *exPeer
	}
	var bad []*badPeer
	addBad := func(name string, spoil relSpoil) {
		bs := &relBadStore{Blockstore: src, spoil: spoil}
		bad = append(bad, &badPeer{name, bs, exStartPeer(t, exTestConfig(), bs, nil)})
	}
	// Three bit-flippers at different rates: one block in 2 from the
	// start, one in 3 after its first 4, and every block once a quarter
	// of the file is fetched: by then the fetch trusts that one with a
	// wide window, so many of its bad blocks are in flight when the first
	// is found.
	var quarter atomic.Bool // set by the fetch's progress
	addBad("flips 1 block in 2", relFlip(seed, 2, int64(seed)%2, func(int64) bool { return true }))
	addBad("flips 1 block in 3 after 4", relFlip(seed, 3, int64(seed)%3, func(n int64) bool { return n > 4 }))
	addBad("flips every block after a quarter", relFlip(seed, 1, 0, func(int64) bool { return quarter.Load() }))
	addBad("serves other blocks", relWrong(keys))
	addBad("truncates", relTrunc)

	// The finder returns the ten in an order of the seed's.
	all := make([]*exPeer, 0, 10)
	all = append(all, honest...)
	for _, b := range bad {
		all = append(all, b.p)
	}
	r := rand.New(rand.NewPCG(seed, 0))
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	finder := &exFinder{}
	for _, p := range all {
		finder.add(p.info())
	}

	dst, offences := relStartFetcher(t, exTestConfig(), newTestStore(t, StoreConfig{}), finder)
	var log exProgressLog
	start := time.Now()
	progress := func(p Progress) {
		log.add(p)
		if p.BytesTotal > 0 && p.BytesDone >= p.BytesTotal/4 {
			quarter.Store(true)
		}
	}
	if err := dst.ex.Fetch(t.Context(), root, FetchOptions{Progress: progress}); err != nil {
		t.Fatalf("Fetch(%s): %v", root, err)
	}
	fetched := time.Since(start)
	pr := log.final()
	st := dst.bs.(*Store)

	// The output: the file written from the fetched blocks as `get`
	// writes a file (a temporary file renamed into place; no fsync here).
	out := filepath.Join(t.TempDir(), "out")
	if err := WriteStream(t.Context(), localSource{st}, root, out, WriteFileOptions{NoSync: true}); err != nil {
		t.Fatalf("WriteStream: %v", err)
	}
	if got := relFileSHA256(t, out); got != want {
		t.Errorf("output sha256 %x, want the source's %x", got, want)
	}
	// No bad block landed: every stored block hashes to its CID, and the
	// store holds the source's blocks and no others.
	res, err := st.Verify(t.Context(), false)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(res.Corrupt) > 0 {
		t.Errorf("Verify: %d stored blocks do not match their CIDs: %v", len(res.Corrupt), res.Corrupt)
	}
	if res.Checked != keys.len() {
		t.Errorf("Verify checked %d stored blocks, want the source's %d", res.Checked, keys.len())
	}
	for k := range relStoredKeys(t, st) {
		if !keys.has(k) {
			t.Errorf("stored block %s is not a block of the source", k)
		}
	}

	states := map[peer.ID]FetchProvider{}
	for _, p := range pr.Providers {
		states[p.Peer] = p
	}
	for _, b := range bad {
		id := b.p.h.ID()
		asked, spoiled := b.bs.asked.Load(), b.bs.spoiled.Load()
		n := offences.count(id)
		t.Logf("%s (%s): asked for %d blocks, served %d bad; %d offences; %+v", b.name, id, asked, spoiled, n, states[id])
		if asked == 0 {
			t.Errorf("bad provider that %s was never asked for a block", b.name)
			continue
		}
		if spoiled == 0 {
			t.Errorf("bad provider that %s served no bad block (asked for %d)", b.name, asked)
			continue
		}
		if s := states[id].State; s != "dropped" {
			t.Errorf("bad provider that %s: state %q, want dropped", b.name, s)
		}
		if n < 1 || n > 3 {
			t.Errorf("bad provider that %s: %d offences recorded before it was dropped, want 1 to 3", b.name, n)
		}
		// The score table agrees with the logs: gated at the third
		// offence (GateAfter), which restarts its count.
		cfg := DefaultExchangeConfig()
		if g, o := dst.ex.scores.gated(id, time.Now()), dst.ex.scores.offences(id); g != (n >= cfg.GateAfter) || o != n%cfg.GateAfter {
			t.Errorf("bad provider that %s: score table says gated %v with %d offences, want gated %v with %d after %d offences",
				b.name, g, o, n >= cfg.GateAfter, n%cfg.GateAfter, n)
		}
		if b.name == "serves other blocks" || b.name == "truncates" {
			if by := states[id].Bytes; by != 0 {
				t.Errorf("bad provider that %s delivered %d good bytes, want 0", b.name, by)
			}
		}
	}
	for _, h := range honest {
		id := h.h.ID()
		if s := states[id].State; s != "active" {
			t.Errorf("honest provider %s: state %q, want active", id, s)
		}
		if n := offences.count(id); n != 0 || dst.ex.scores.offences(id) != 0 || dst.ex.scores.gated(id, time.Now()) {
			t.Errorf("honest provider %s was penalised (%d offences logged)", id, n)
		}
	}
	t.Logf("seed %d: fetched %s in %v (%s/s from the fetch's own clock)", seed, exMiB(float64(pr.BytesFetched)), fetched.Round(time.Millisecond), exMiB(pr.Rate))
}

// relStartFetcher starts a fetching peer like exStartPeer, with a logger
// that counts the offences its exchange records per peer.
func relStartFetcher(t *testing.T, cfg ExchangeConfig, bs blockstore.Blockstore, finder ExchangeFinder) (*exPeer, *relOffenceLog) {
	t.Helper()
	h := exNewHost(t)
	offences := &relOffenceLog{counts: map[string]int{}}
	var next slog.Handler
	if l := exLogger(t); l != nil {
		next = l.Handler()
	}
	log := slog.New(&relOffenceHandler{log: offences, next: next})
	ex, err := NewExchange(cfg, ExchangeDeps{Host: h, Blockstore: bs, Finder: finder, Logger: log})
	if err != nil {
		t.Fatalf("NewExchange: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ex.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Exchange.Run: %v", err)
			}
		case <-time.After(waittest.Timeout):
			t.Errorf("Exchange.Run did not return %v after its context ended", waittest.Timeout)
		}
	})
	return &exPeer{h: h, bs: bs, ex: ex}, offences
}

// relOffenceLog counts, per peer, the offences an exchange logged (its
// offend method logs each one as "peer offended", or "peer gated" for the
// one that reaches GateAfter).
type relOffenceLog struct {
	mu     sync.Mutex
	counts map[string]int
}

func (l *relOffenceLog) count(p peer.ID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[p.String()]
}

// relOffenceHandler is a slog.Handler that feeds a relOffenceLog, and
// passes every record on to next if not nil.
type relOffenceHandler struct {
	log   *relOffenceLog
	attrs []slog.Attr
	next  slog.Handler
}

func (h *relOffenceHandler) Enabled(ctx context.Context, l slog.Level) bool { return true }

func (h *relOffenceHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "peer offended" || r.Message == "peer gated" {
		p := ""
		find := func(a slog.Attr) bool {
			if a.Key == "peer" {
				p = fmt.Sprint(a.Value.Any())
				return false
			}
			return true
		}
		for _, a := range h.attrs {
			find(a)
		}
		r.Attrs(find)
		h.log.mu.Lock()
		h.log.counts[p]++
		h.log.mu.Unlock()
	}
	if h.next != nil && h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *relOffenceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	if h.next != nil {
		c.next = h.next.WithAttrs(as)
	}
	return &c
}

func (h *relOffenceHandler) WithGroup(name string) slog.Handler {
	c := *h
	if h.next != nil {
		c.next = h.next.WithGroup(name)
	}
	return &c
}

// relSpoil spoils the nth block (counting from 1) a provider serves, for
// key k: it returns the block to serve and whether it is bad.
type relSpoil func(n int64, k cid.Cid, blk blocks.Block, src blockstore.Blockstore) (blocks.Block, bool, error)

// relBadStore serves its blockstore's blocks through spoil, counting the
// blocks it was asked for and those it spoiled. It does not implement
// blockReader, so the exchange serves through Get.
type relBadStore struct {
	blockstore.Blockstore
	spoil   relSpoil
	asked   atomic.Int64
	spoiled atomic.Int64
}

func (s *relBadStore) Get(ctx context.Context, k cid.Cid) (blocks.Block, error) {
	blk, err := s.Blockstore.Get(ctx, k)
	if err != nil {
		return nil, err
	}
	n := s.asked.Add(1)
	out, bad, err := s.spoil(n, k, blk, s.Blockstore)
	if err != nil {
		return nil, err
	}
	if bad {
		s.spoiled.Add(1)
	}
	return out, nil
}

// relFlip flips one bit (chosen by seed and n) in every block n served
// for which from(n) is true and n%every == phase.
func relFlip(seed uint64, every, phase int64, from func(n int64) bool) relSpoil {
	return func(n int64, k cid.Cid, blk blocks.Block, _ blockstore.Blockstore) (blocks.Block, bool, error) {
		if !from(n) || n%every != phase {
			return blk, false, nil
		}
		d := bytes.Clone(blk.RawData())
		if len(d) == 0 {
			d = []byte{1}
		} else {
			r := rand.New(rand.NewPCG(seed, uint64(n)))
			d[r.IntN(len(d))] ^= 1 << r.IntN(8)
		}
		out, err := blocks.NewBlockWithCid(d, k)
		return out, true, err
	}
}

// relWrong serves, under every key, the block of another key of the same
// DAG: valid data of another CID, of a plausible size.
func relWrong(keys *relKeySet) relSpoil {
	return func(n int64, k cid.Cid, _ blocks.Block, src blockstore.Blockstore) (blocks.Block, bool, error) {
		other, err := src.Get(context.Background(), keys.next(k))
		if err != nil {
			return nil, false, err
		}
		out, err := blocks.NewBlockWithCid(other.RawData(), k)
		return out, true, err
	}
}

// relTrunc serves every block cut in half.
func relTrunc(n int64, k cid.Cid, blk blocks.Block, _ blockstore.Blockstore) (blocks.Block, bool, error) {
	d := blk.RawData()
	out, err := blocks.NewBlockWithCid(d[:len(d)/2], k)
	return out, true, err
}

// relKeySet is the keys of a store's blocks, by multihash, in a fixed
// order.
type relKeySet struct {
	list []cid.Cid
	idx  map[string]int
}

func relKeys(t testing.TB, s *Store) *relKeySet {
	t.Helper()
	ks := &relKeySet{idx: map[string]int{}}
	for k := range relStoredKeys(t, s) {
		ks.idx[string(k.Hash())] = len(ks.list)
		ks.list = append(ks.list, k)
	}
	if len(ks.list) < 2 {
		t.Fatalf("source store holds %d blocks, want several", len(ks.list))
	}
	return ks
}

func (ks *relKeySet) len() int { return len(ks.list) }

func (ks *relKeySet) has(k cid.Cid) bool {
	_, ok := ks.idx[string(k.Hash())]
	return ok
}

// next returns the key after k's (k itself must be in the set).
func (ks *relKeySet) next(k cid.Cid) cid.Cid {
	return ks.list[(ks.idx[string(k.Hash())]+1)%len(ks.list)]
}

// relStoredKeys returns the keys of the blocks stored in s.
func relStoredKeys(t testing.TB, s *Store) map[cid.Cid]struct{} {
	t.Helper()
	ch, err := s.AllKeysChan(t.Context())
	if err != nil {
		t.Fatalf("AllKeysChan: %v", err)
	}
	keys := map[cid.Cid]struct{}{}
	for k := range ch {
		keys[k] = struct{}{}
	}
	return keys
}

// relFileSHA256 returns the sha256 of the file at path.
func relFileSHA256(t testing.TB, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}
