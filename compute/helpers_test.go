package compute

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/compute/sandbox"
	"github.com/enxame/enxame/compute/sched"
	"github.com/enxame/enxame/compute/wire"
	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/internal/nodetest/hosttest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/ipfs/go-cid"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// testLogger is hosttest.Logger: the test log when ENXAME_TEST_LOG is set.
func testLogger(t testing.TB) *slog.Logger { return hosttest.Logger(t) }

// rawCID is the CIDv1 (raw, sha2-256) of b.
func rawCID(b []byte) cid.Cid {
	sum := sha256.Sum256(b)
	h, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

// memContent is an in-memory Content shared by a test's peers: CIDs are
// computed for real (raw, sha2-256).
type memContent struct {
	mu   sync.Mutex
	data map[cid.Cid][]byte
	gets []memGet
	// temp counts the unreleased PutTemp of each CID; kept are the CIDs
	// Keep pinned.
	temp map[cid.Cid]int
	kept map[cid.Cid]bool
	// dirs are the directories PutDir stored.
	dirs map[cid.Cid][]DirEntry
	// dirGate, when set, makes PutDir wait for it to be closed (or for its
	// context to end). Set it before the content is shared.
	dirGate chan struct{}
	// blockMissing makes Get of content nobody has wait until its context
	// ends, as a fetch finding no provider does; otherwise it fails at
	// once. Set it before the content is shared.
	blockMissing bool
	// keepGate, when set, makes Keep wait until it is closed (or its
	// context ends), as a slow fetch of an output does. Set it before the
	// content is shared.
	keepGate chan struct{}
	// local counts PutTempLocal calls, keeps Keep calls; pinnedLocal are
	// the CIDs PinLocal pinned.
	local, keeps int
	pinnedLocal  map[cid.Cid]bool
}

// PutTempLocal is PutTemp, counted.
func (m *memContent) PutTempLocal(ctx context.Context, r io.Reader) (cid.Cid, func(), error) {
	m.mu.Lock()
	m.local++
	m.mu.Unlock()
	return m.PutTemp(ctx, r)
}

// PinLocal marks c kept, as Keep does, without a fetch.
func (m *memContent) PinLocal(ctx context.Context, c cid.Cid) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[c]; !ok {
		return fmt.Errorf("%s: not here", c)
	}
	m.kept[c] = true
	m.pinnedLocal[c] = true
	return nil
}

// localStats returns the PutTempLocal and Keep calls so far and whether
// PinLocal pinned c.
func (m *memContent) localStats(c cid.Cid) (local, keeps int, pinned bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.local, m.keeps, m.pinnedLocal[c]
}

func newMemContent() *memContent {
	return &memContent{data: map[cid.Cid][]byte{}, temp: map[cid.Cid]int{}, kept: map[cid.Cid]bool{}, dirs: map[cid.Cid][]DirEntry{}, pinnedLocal: map[cid.Cid]bool{}}
}

// PutDir stores entries under a dag-pb CID of their JSON encoding.
func (m *memContent) PutDir(ctx context.Context, entries []DirEntry) (cid.Cid, error) {
	if m.dirGate != nil {
		select {
		case <-m.dirGate:
		case <-ctx.Done():
			return cid.Undef, ctx.Err()
		}
	}
	b, err := json.Marshal(entries)
	if err != nil {
		return cid.Undef, err
	}
	c := cid.NewCidV1(cid.DagProtobuf, rawCID(b).Hash())
	m.mu.Lock()
	m.dirs[c] = slices.Clone(entries)
	m.mu.Unlock()
	return c, nil
}

func (m *memContent) ReadDir(ctx context.Context, c cid.Cid, maxBytes int64) ([]DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	es, ok := m.dirs[c]
	if !ok {
		return nil, fmt.Errorf("%s: not a directory here", c)
	}
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b DirEntry) int { return strings.Compare(a.Name, b.Name) })
	return es, nil
}

// dir returns the entries of the directory c, as PutDir got them.
func (m *memContent) dir(t testing.TB, c cid.Cid) []DirEntry {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	es, ok := m.dirs[c]
	if !ok {
		t.Fatalf("directory %s not stored", c)
	}
	return es
}

func (m *memContent) PutTemp(ctx context.Context, r io.Reader) (cid.Cid, func(), error) {
	c, err := m.Put(ctx, r)
	if err != nil {
		return cid.Undef, nil, err
	}
	m.mu.Lock()
	m.temp[c]++
	m.mu.Unlock()
	var once sync.Once
	return c, func() {
		once.Do(func() {
			m.mu.Lock()
			m.temp[c]--
			m.mu.Unlock()
		})
	}, nil
}

func (m *memContent) Keep(ctx context.Context, c cid.Cid, maxBytes int64) error {
	if m.keepGate != nil {
		select {
		case <-m.keepGate:
		case <-ctx.Done():
			return fmt.Errorf("keep %s: %w", c, ctx.Err())
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keeps++
	b, ok := m.data[c]
	if !ok {
		return fmt.Errorf("%s: not found", c)
	}
	if maxBytes > 0 && int64(len(b)) > maxBytes {
		return fmt.Errorf("keep %s: %w", c, ErrTooLarge)
	}
	m.kept[c] = true
	return nil
}

// state returns how many PutTemp of c are unreleased and whether Keep
// pinned it.
func (m *memContent) state(c cid.Cid) (temp int, kept bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.temp[c], m.kept[c]
}

func (m *memContent) Put(ctx context.Context, r io.Reader) (cid.Cid, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return cid.Undef, err
	}
	c := rawCID(b)
	m.mu.Lock()
	m.data[c] = b
	m.mu.Unlock()
	return c, nil
}

func (m *memContent) Get(ctx context.Context, c cid.Cid, maxBytes int64) (io.ReadCloser, error) {
	m.mu.Lock()
	b, ok := m.data[c]
	m.gets = append(m.gets, memGet{c, maxBytes})
	_, isDir := m.dirs[c]
	m.mu.Unlock()
	if isDir {
		return nil, fmt.Errorf("get %s: %w", c, ErrIsDir)
	}
	if !ok && m.blockMissing {
		<-ctx.Done()
		return nil, fmt.Errorf("%s: no provider: %w", c, ctx.Err())
	}
	if !ok {
		return nil, fmt.Errorf("%s: not found", c)
	}
	if maxBytes > 0 && int64(len(b)) > maxBytes {
		// As share does: the root's declared size passes the cap.
		return nil, fmt.Errorf("get %s: %w", c, ErrTooLarge)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// memGet is one call of memContent.Get.
type memGet struct {
	c        cid.Cid
	maxBytes int64
}

// getsOf returns the calls of Get for c.
func (m *memContent) getsOf(c cid.Cid) []memGet {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []memGet
	for _, g := range m.gets {
		if g.c.Equals(c) {
			out = append(out, g)
		}
	}
	return out
}

func (m *memContent) bytes(t testing.TB, c cid.Cid) []byte {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.data[c]
	if !ok {
		t.Fatalf("content %s not stored", c)
	}
	return b
}

func (m *memContent) putBytes(t testing.TB, b []byte) cid.Cid {
	t.Helper()
	c, err := m.Put(t.Context(), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (m *memContent) putFile(t testing.TB, path string) cid.Cid {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return m.putBytes(t, b)
}

// registry is an in-memory DHT provider table shared by a test's peers.
type registry struct {
	mu        sync.Mutex
	providers map[cid.Cid][]peer.AddrInfo
}

func newRegistry() *registry { return &registry{providers: map[cid.Cid][]peer.AddrInfo{}} }

// discovery is one peer's view of a registry.
type discovery struct {
	reg  *registry
	self host.Host
}

func (d discovery) Provide(ctx context.Context, c cid.Cid) error {
	d.reg.mu.Lock()
	defer d.reg.mu.Unlock()
	ai := peer.AddrInfo{ID: d.self.ID(), Addrs: d.self.Addrs()}
	for i, p := range d.reg.providers[c] {
		if p.ID == ai.ID {
			d.reg.providers[c][i] = ai
			return nil
		}
	}
	d.reg.providers[c] = append(d.reg.providers[c], ai)
	return nil
}

func (d discovery) FindProviders(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo {
	d.reg.mu.Lock()
	ps := append([]peer.AddrInfo(nil), d.reg.providers[c]...)
	d.reg.mu.Unlock()
	if len(ps) > count {
		ps = ps[:count]
	}
	ch := make(chan peer.AddrInfo, len(ps))
	for _, p := range ps {
		ch <- p
	}
	close(ch)
	return ch
}

var (
	childOnce sync.Once
	childBin  string
	childErr  error
)

// childCommand returns the argv of a sandbox child process: the sandbox's
// test child, built once per test process into tmpDir by
// hosttest.BuildSandboxChild.
func childCommand(t testing.TB) []string {
	t.Helper()
	childOnce.Do(func() { childBin, childErr = hosttest.BuildSandboxChild(tmpDir) })
	if childErr != nil {
		t.Fatal(childErr)
	}
	return []string{childBin}
}

// newHost starts a real libp2p host on 127.0.0.1 TCP, port 0.
func newHost(t testing.TB) host.Host { return hosttest.New(t) }

// testCacheDir is wazero's compilation cache, shared with the sandbox's
// tests and across runs.
func testCacheDir(t testing.TB) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(tmpDir, "wazero")
	}
	return filepath.Join(dir, "enxame", "wazero-test")
}

// newPool starts a real sandbox pool.
func newPool(t testing.TB, slots int) *sandbox.Pool {
	t.Helper()
	p, err := sandbox.New(sandbox.Config{Slots: slots, Command: childCommand(t), CacheDir: testCacheDir(t)}, testLogger(t))
	if err != nil {
		t.Fatalf("new pool: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// swarm is a test's shared content and discovery.
type swarm struct {
	content *memContent
	reg     *registry
}

func newSwarm() *swarm { return &swarm{content: newMemContent(), reg: newRegistry()} }

// testWorker is a running worker on its own host.
type testWorker struct {
	h    host.Host
	w    *Worker
	stop func() // stops Run and closes the host; idempotent
}

// startWorker starts a worker with slots slots on a new host. runner nil
// means a new real pool.
func (sw *swarm) startWorker(t testing.TB, cfg WorkerConfig, runner Runner) *testWorker {
	t.Helper()
	h := newHost(t)
	if cfg.Slots == 0 {
		cfg.Slots = 1
	}
	if runner == nil {
		runner = newPool(t, cfg.Slots)
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 500 * time.Millisecond
	}
	w, err := NewWorker(cfg, WorkerDeps{Host: h, Content: sw.content, Discovery: discovery{sw.reg, h}, Runner: runner, Logger: testLogger(t).With("host", h.ID().ShortString())})
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			h.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Worker.Run() = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	waittest.For(t, "worker announced", func() bool {
		ch := discovery{sw.reg, h}.FindProviders(t.Context(), ComputeKey(), 1000)
		for ai := range ch {
			if ai.ID == h.ID() {
				return true
			}
		}
		return false
	})
	return &testWorker{h: h, w: w, stop: stop}
}

// testSubmitter is a running submitter on its own host.
type testSubmitter struct {
	h    host.Host
	s    *Submitter
	stop func()
}

// testSchedConfig has short timeouts for loopback tests.
func testSchedConfig() sched.Config {
	c := sched.DefaultConfig()
	c.BidTimeout = time.Second
	c.RebidInterval = 2 * time.Second
	c.StallTimeout = 5 * time.Second
	c.BackoffFor = 10 * time.Second
	return c
}

// startSubmitter starts a submitter on h (a new host when nil) with a
// pebble datastore in dsDir (a temp dir when empty).
func (sw *swarm) startSubmitter(t testing.TB, h host.Host, dsDir string, cfg SubmitterConfig) *testSubmitter {
	t.Helper()
	return sw.startSubmitterLocal(t, h, dsDir, cfg, nil)
}

// startSubmitterLocal is startSubmitter with a local worker (on h).
func (sw *swarm) startSubmitterLocal(t testing.TB, h host.Host, dsDir string, cfg SubmitterConfig, local *Worker) *testSubmitter {
	t.Helper()
	if h == nil {
		h = newHost(t)
	}
	if dsDir == "" {
		dsDir = t.TempDir()
	}
	ds, err := pebbleds.NewDatastore(dsDir)
	if err != nil {
		t.Fatalf("open datastore: %v", err)
	}
	if cfg.Sched == (sched.Config{}) {
		cfg.Sched = testSchedConfig()
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	s, err := NewSubmitter(cfg, SubmitterDeps{Host: h, Content: sw.content, Discovery: discovery{sw.reg, h}, Datastore: ds, Local: local, Logger: testLogger(t).With("host", "submitter")})
	if err != nil {
		t.Fatalf("NewSubmitter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Submitter.Run() = %v", err)
			}
			if err := ds.Close(); err != nil {
				t.Errorf("close datastore: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &testSubmitter{h: h, s: s, stop: stop}
}

// wait waits for a job to end and returns its final state.
func (ts *testSubmitter) wait(t testing.TB, id JobID, timeout time.Duration) JobInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	info, err := ts.s.Wait(ctx, id)
	if err != nil {
		why, _ := ts.s.Why(t.Context(), id)
		t.Fatalf("Wait(%s) = %v\n%s", id, err, why)
	}
	return info
}

// module stores an example module and returns its CID.
func (sw *swarm) module(t testing.TB, name string) cid.Cid {
	t.Helper()
	return sw.content.putFile(t, examplestest.Build(t, name))
}

// hostileModule stores the sandbox's hostile test module.
func (sw *swarm) hostileModule(t testing.TB) cid.Cid {
	t.Helper()
	return sw.content.putFile(t, examplestest.BuildSource(t, filepath.Join("sandbox", "testdata", "hostile")))
}

// client speaks the compute protocol by hand, for tests of the worker.
type client struct {
	h host.Host
}

// open opens a compute stream to w.
func (c client) open(t testing.TB, w peer.ID, addrs []peer.AddrInfo) (io.ReadWriteCloser, *bufio.Reader) {
	t.Helper()
	s, err := c.h.NewStream(t.Context(), w, ProtocolID)
	if err != nil {
		t.Fatalf("open stream to worker: %v", err)
	}
	return s, bufio.NewReader(s)
}

// runUnit sends req to worker w and returns every message until the
// stream ends.
func (c client) runUnit(t testing.TB, w peer.ID, req *wire.RunUnit) []wire.Msg {
	t.Helper()
	s, r := c.open(t, w, nil)
	defer s.Close()
	if err := wire.WriteMsg(s, req); err != nil {
		t.Fatalf("write run: %v", err)
	}
	var got []wire.Msg
	for {
		m, err := wire.ReadMsg(r)
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("read answer after %d messages: %v", len(got), err)
		}
		got = append(got, m)
		if _, ok := m.(*wire.Result); ok {
			// The worker waits for a word of delivery: none comes.
			return got
		}
	}
}

// last returns the final message of a run, skipping Accepted and Progress.
func final(msgs []wire.Msg) wire.Msg {
	for i := len(msgs) - 1; i >= 0; i-- {
		switch msgs[i].(type) {
		case *wire.Accepted, *wire.Progress:
			continue
		}
		return msgs[i]
	}
	return nil
}
