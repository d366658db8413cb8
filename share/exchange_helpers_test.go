package share

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/nodetest/hosttest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/share/wire"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	pebbleds "github.com/ipfs/go-ds-pebble"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"
)

// exVerifyNoLeaks checks, at the end of the test (after every other cleanup),
// that no goroutine is left behind.
func exVerifyNoLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// exNewHost is hosttest.New: a real host on loopback TCP, closed at cleanup.
func exNewHost(t testing.TB) host.Host { return hosttest.New(t) }

// exNewBlockstore returns a blockstore on a pebble datastore in a temporary
// directory, closed at cleanup.
func exNewBlockstore(t testing.TB) blockstore.Blockstore {
	t.Helper()
	ds, err := pebbleds.NewDatastore(t.TempDir())
	if err != nil {
		t.Fatalf("pebble datastore: %v", err)
	}
	t.Cleanup(func() { ds.Close() })
	return blockstore.NewBlockstore(ds)
}

// exDAG is the DAGService the importer writes to: a plain blockstore.
type exDAG struct{ bs blockstore.Blockstore }

func (d exDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	return nil, errors.New("exDAG: Get not supported")
}
func (d exDAG) GetMany(context.Context, []cid.Cid) <-chan *ipld.NodeOption { return nil }
func (d exDAG) Add(ctx context.Context, n ipld.Node) error                 { return d.bs.Put(ctx, n) }
func (d exDAG) AddMany(ctx context.Context, ns []ipld.Node) error {
	bl := make([]blocks.Block, len(ns))
	for i, n := range ns {
		bl[i] = n
	}
	return d.bs.PutMany(ctx, bl)
}
func (d exDAG) Remove(context.Context, cid.Cid) error       { return nil }
func (d exDAG) RemoveMany(context.Context, []cid.Cid) error { return nil }

// exRandom returns n pseudo-random bytes from seed.
func exRandom(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// exImport builds a UnixFS DAG of data into bs as `ipfs add
// --cid-version=1 --raw-leaves` does (balanced layout, chunks of
// chunkSize), and returns its root.
func exImport(t testing.TB, bs blockstore.Blockstore, data []byte, chunkSize int64) cid.Cid {
	t.Helper()
	prefix, err := merkledag.PrefixForCidVersion(1)
	if err != nil {
		t.Fatal(err)
	}
	params := helpers.DagBuilderParams{
		Maxlinks:   helpers.DefaultLinksPerBlock,
		RawLeaves:  true,
		CidBuilder: prefix,
		Dagserv:    exDAG{bs},
	}
	db, err := params.New(chunker.NewSizeSplitter(bytes.NewReader(data), chunkSize))
	if err != nil {
		t.Fatalf("importer: %v", err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		t.Fatalf("importer: %v", err)
	}
	return nd.Cid()
}

// exReadFile reassembles the file under root from bs (raw leaves in DAG
// order), failing the test if a block is missing.
func exReadFile(t testing.TB, bs blockstore.Blockstore, root cid.Cid) []byte {
	t.Helper()
	var out bytes.Buffer
	var walk func(k cid.Cid)
	walk = func(k cid.Cid) {
		blk, err := bs.Get(t.Context(), k)
		if err != nil {
			t.Fatalf("exReadFile: get %s: %v", k, err)
		}
		if err := fetchVerify(k, blk.RawData()); err != nil {
			t.Fatalf("exReadFile: stored block %s: %v", k, err)
		}
		if k.Type() == cid.Raw {
			out.Write(blk.RawData())
			return
		}
		links, err := fetchLinks(k, blk.RawData())
		if err != nil {
			t.Fatalf("exReadFile: %v", err)
		}
		for _, l := range links {
			walk(l.key)
		}
	}
	walk(root)
	return out.Bytes()
}

// exCountBlocks returns the number of blocks in bs.
func exCountBlocks(t testing.TB, bs blockstore.Blockstore) int {
	t.Helper()
	ch, err := bs.AllKeysChan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range ch {
		n++
	}
	return n
}

// exFinder returns a fixed list of providers, and later ones too from its
// second lookup on.
type exFinder struct {
	mu    sync.Mutex
	peers []peer.AddrInfo
	later []peer.AddrInfo
	calls int
}

func (f *exFinder) FindProviders(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo {
	f.mu.Lock()
	peers := append([]peer.AddrInfo(nil), f.peers...)
	if f.calls > 0 {
		peers = append(peers, f.later...)
	}
	f.calls++
	f.mu.Unlock()
	ch := make(chan peer.AddrInfo)
	go func() {
		defer close(ch)
		for _, p := range peers {
			select {
			case ch <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

func (f *exFinder) add(ai ...peer.AddrInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.peers = append(f.peers, ai...)
}

// exPeer is a host with a blockstore and a running Exchange.
type exPeer struct {
	h  host.Host
	bs blockstore.Blockstore
	ex *Exchange
}

func (p *exPeer) info() peer.AddrInfo { return peer.AddrInfo{ID: p.h.ID(), Addrs: p.h.Addrs()} }

// exStartPeer builds a exPeer with cfg and runs its Exchange until cleanup.
// bs may be nil (a fresh one on disk).
func exStartPeer(t testing.TB, cfg ExchangeConfig, bs blockstore.Blockstore, finder ExchangeFinder) *exPeer {
	t.Helper()
	h := exNewHost(t)
	if bs == nil {
		bs = exNewBlockstore(t)
	}
	ex, err := NewExchange(cfg, ExchangeDeps{Host: h, Blockstore: bs, Finder: finder, Logger: exLogger(t)})
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
	return &exPeer{h: h, bs: bs, ex: ex}
}

// exTestConfig is a config with short timeouts for tests.
func exTestConfig() ExchangeConfig {
	return ExchangeConfig{
		IdleTimeout:        5 * time.Second,
		WriteTimeout:       5 * time.Second,
		ConnectTimeout:     5 * time.Second,
		RequeryInterval:    200 * time.Millisecond,
		NoProvidersTimeout: 5 * time.Second,
		ProgressInterval:   50 * time.Millisecond,
	}
}

// exProgressLog collects progress reports.
type exProgressLog struct {
	mu   sync.Mutex
	last Progress
	n    int
}

func (l *exProgressLog) add(p Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = p
	l.n++
}

func (l *exProgressLog) final() Progress {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// writeFrames writes raw frames to a stream writer.
func exEncodeFrames(t testing.TB, msgs ...wire.Msg) []byte {
	t.Helper()
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = wire.Append(b, m); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func exMiB(n float64) string { return fmt.Sprintf("%.1f MiB", n/(1<<20)) }

// exLogger is hosttest.Logger: the test log when ENXAME_TEST_LOG is set.
func exLogger(t testing.TB) *slog.Logger { return hosttest.Logger(t) }
