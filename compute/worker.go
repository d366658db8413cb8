package compute

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enxame/enxame/compute/sandbox"
	"github.com/enxame/enxame/compute/sched"
	"github.com/enxame/enxame/compute/wire"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Defaults of WorkerConfig.
const (
	DefaultMemoryMiB         = 256
	DefaultMaxMemoryMiB      = 1024
	DefaultUnitTimeout       = 60 * time.Second
	DefaultMaxUnitTimeout    = 30 * time.Minute
	DefaultMaxOutputBytes    = 64 << 20
	DefaultMaxModuleBytes    = 64 << 20
	DefaultMaxInputBytes     = 1 << 30
	DefaultCacheBytes        = 4 << 30
	DefaultAnnounceInterval  = 10 * time.Minute
	DefaultAnnounceRetry     = 30 * time.Second
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultRequestTimeout    = 10 * time.Second
	DefaultSpeedHint         = 1.0
	DefaultFetchTimeout      = 10 * time.Minute
	DefaultOutputTTL         = time.Hour
)

// deliveredReason is the Cancel reason with which a submitter tells the
// worker, after a Result, that it holds the output: the worker drops its
// copy then.
const deliveredReason = "delivered"

// WorkerConfig configures a Worker. A zero field means its default.
type WorkerConfig struct {
	// Dir is the worker's scratch directory: a cache of fetched modules
	// and inputs, and one directory per unit being run. Required; the
	// worker empties its subdirectories when it starts.
	Dir string
	// Slots is how many units run at once. Give the sandbox pool at least
	// as many. Default runtime.NumCPU().
	Slots int
	// QueueLen is how many accepted units may wait for a slot beyond those
	// running. Default Slots.
	QueueLen int
	// PeerShare is the most units one submitting peer may hold at once,
	// running or queued; a peer at its share gets Busy bids and rejections,
	// so that a peer flooding submissions cannot starve others. Default
	// Slots.
	PeerShare int
	// MemoryMiB is a unit's memory cap, in MiB, when it states none.
	// Default 256.
	MemoryMiB int
	// MaxMemoryMiB is the most memory, in MiB, a unit may ask for; units
	// asking more are rejected for their limits. Default 1024.
	MaxMemoryMiB int
	// UnitTimeout is a unit's wall time when it states none. Default 60s.
	UnitTimeout time.Duration
	// MaxUnitTimeout is the most wall time a unit may ask for. Default 30m.
	MaxUnitTimeout time.Duration
	// MaxOutputBytes caps a unit's stdout, in bytes; units asking more are
	// rejected. Default 64 MiB.
	MaxOutputBytes int64
	// MaxModuleBytes caps a module's size, in bytes. Default 64 MiB.
	MaxModuleBytes int64
	// MaxInputBytes caps the total size of a unit's inputs, in bytes.
	// Default 1 GiB.
	MaxInputBytes int64
	// CacheBytes caps the cache of fetched modules and inputs, in bytes;
	// the least recently used are removed past it. Default 4 GiB.
	CacheBytes int64
	// AnnounceInterval is how often the worker re-announces itself under
	// ComputeKey. Default 10m.
	AnnounceInterval time.Duration
	// AnnounceRetry is how soon a failed announcement is retried. Default
	// 30s.
	AnnounceRetry time.Duration
	// HeartbeatInterval is how often the worker sends Progress for each
	// unit it holds. Keep it well below the submitters' stall timeout
	// (sched.DefaultStallTimeout, 30s). Default 5s.
	HeartbeatInterval time.Duration
	// RequestTimeout bounds reading a request and writing each answer.
	// Default 10s.
	RequestTimeout time.Duration
	// MaxStreamsPerPeer caps the compute streams one peer may have open
	// at once; more are reset at once. Default 2×(Slots+QueueLen)+4.
	MaxStreamsPerPeer int
	// SpeedHint is the speed, in cost units (UnitCost) per second per
	// slot, the worker bids before it has measured its own; the first
	// completed run replaces it. Default 1.
	SpeedHint float64
	// FetchTimeout bounds fetching a unit's module and inputs. Default 10m.
	FetchTimeout time.Duration
	// OutputTTL is how long a unit's output is kept (held from GC and
	// served) when its submitter does not say it has fetched it; one it
	// has fetched is dropped at once, and all are dropped when Run ends.
	// It bounds the disk a submitter can fill with outputs it never
	// collects to the outputs of OutputTTL of runs. Default 1h: far longer
	// than a submitter needs to fetch an output, which it does at once.
	OutputTTL time.Duration
}

// DefaultWorkerConfig returns the default configuration, without a Dir.
func DefaultWorkerConfig() WorkerConfig {
	var c WorkerConfig
	c.fill()
	return c
}

func (c *WorkerConfig) fill() {
	setDefault(&c.Slots, runtime.NumCPU())
	setDefault(&c.QueueLen, c.Slots)
	setDefault(&c.PeerShare, c.Slots)
	setDefault(&c.MemoryMiB, DefaultMemoryMiB)
	setDefault(&c.MaxMemoryMiB, max(DefaultMaxMemoryMiB, c.MemoryMiB))
	setDefault(&c.UnitTimeout, DefaultUnitTimeout)
	setDefault(&c.MaxUnitTimeout, max(DefaultMaxUnitTimeout, c.UnitTimeout))
	setDefault(&c.MaxOutputBytes, DefaultMaxOutputBytes)
	setDefault(&c.MaxModuleBytes, DefaultMaxModuleBytes)
	setDefault(&c.MaxInputBytes, DefaultMaxInputBytes)
	setDefault(&c.CacheBytes, DefaultCacheBytes)
	setDefault(&c.AnnounceInterval, DefaultAnnounceInterval)
	setDefault(&c.AnnounceRetry, DefaultAnnounceRetry)
	setDefault(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	setDefault(&c.RequestTimeout, DefaultRequestTimeout)
	setDefault(&c.MaxStreamsPerPeer, 2*(c.Slots+c.QueueLen)+4)
	setDefault(&c.SpeedHint, DefaultSpeedHint)
	setDefault(&c.FetchTimeout, DefaultFetchTimeout)
	setDefault(&c.OutputTTL, DefaultOutputTTL)
}

func (c *WorkerConfig) validate() error {
	switch {
	case c.Dir == "":
		return errors.New("compute: worker config: Dir is required")
	case c.Slots < 0 || c.QueueLen < 0 || c.PeerShare < 0:
		return errors.New("compute: worker config: Slots, QueueLen and PeerShare must be >= 0")
	case c.MemoryMiB < 0 || c.MaxMemoryMiB > sandbox.MaxMemoryMiB || c.MemoryMiB > c.MaxMemoryMiB:
		return fmt.Errorf("compute: worker config: MemoryMiB must be in (0, MaxMemoryMiB] and MaxMemoryMiB at most %d", sandbox.MaxMemoryMiB)
	case c.UnitTimeout < 0 || c.UnitTimeout > c.MaxUnitTimeout:
		return errors.New("compute: worker config: UnitTimeout must be in (0, MaxUnitTimeout]")
	case c.MaxOutputBytes < 0 || c.MaxOutputBytes > sandbox.MaxOutputBytesLimit:
		return fmt.Errorf("compute: worker config: MaxOutputBytes must be in (0, %d]", sandbox.MaxOutputBytesLimit)
	case c.MaxModuleBytes < 0 || c.MaxModuleBytes > sandbox.MaxModuleBytesLimit:
		return fmt.Errorf("compute: worker config: MaxModuleBytes must be in (0, %d]", sandbox.MaxModuleBytesLimit)
	case c.MaxInputBytes < 0 || c.CacheBytes < 0:
		return errors.New("compute: worker config: MaxInputBytes and CacheBytes must be >= 0")
	case c.AnnounceInterval < 0 || c.AnnounceRetry < 0 || c.HeartbeatInterval < 0 || c.RequestTimeout < 0:
		return errors.New("compute: worker config: intervals must be >= 0")
	case c.MaxStreamsPerPeer < 0 || c.SpeedHint < 0 || c.FetchTimeout < 0 || c.OutputTTL < 0:
		return errors.New("compute: worker config: MaxStreamsPerPeer, SpeedHint, FetchTimeout and OutputTTL must be >= 0")
	}
	return nil
}

func setDefault[T int | int64 | float64 | time.Duration](p *T, v T) {
	if *p == 0 {
		*p = v
	}
}

// WorkerDeps are a Worker's collaborators.
type WorkerDeps struct {
	// Host serves ProtocolID; its private key signs receipts. Required.
	Host host.Host
	// Content fetches modules and inputs and stores outputs. Required.
	Content Content
	// Discovery announces the worker under ComputeKey; nil means the worker
	// is found only by peers connected to it.
	Discovery Discovery
	// Runner runs units; a *sandbox.Pool. Required.
	Runner Runner
	// Logger receives the worker's logs; nil discards them.
	Logger *slog.Logger
	// Metrics, if not nil, counts units run, failed and rejected.
	Metrics *Metrics
}

// WorkerStats is a snapshot of a worker's load and record.
type WorkerStats struct {
	Slots     int
	Running   int
	Queued    int // accepted, not yet running (fetching or waiting)
	Completed int
	Failed    int
	Rejected  int
	// Speed is the measured speed in cost units per second per slot.
	Speed float64
}

// Worker runs other peers' work units. Create it with NewWorker and serve
// with Run. Its methods are safe for concurrent use.
type Worker struct {
	cfg  WorkerConfig
	deps WorkerDeps
	log  *slog.Logger
	key  crypto.PrivKey

	// root is the worker's Dir, through which every file the worker writes
	// goes; cache keeps fetched modules and inputs. Both are set by Run.
	root   *os.Root
	cache  *blobCache
	unitID atomic.Uint64 // names unit directories

	mu        sync.Mutex
	running   int
	runningBy map[peer.ID]int
	held      int // units accepted and not ended
	heldBy    map[peer.ID]int
	streams   map[peer.ID]int
	waiting   []*slotWaiter
	seq       uint64
	grants    uint64             // slots granted so far
	served    map[peer.ID]uint64 // grants when each peer last got a slot
	speed     float64
	measured  int // runs measured into speed
	// link measures the rate of the worker's input fetches, for the
	// LinkRate of its bids.
	link      sched.LinkMeter
	completed int
	failed    int
	rejected  int
	// outputs are the outputs kept until delivered or expired, by an ID
	// of their own (two runs may give the same CID).
	outputs  map[uint64]*keptOutput
	outputID uint64

	// handlers tracks stream handlers; closed is set when Run ends so that
	// no handler starts after Run's Wait.
	hmu      sync.Mutex
	done     chan struct{} // closed when Run's ctx ends
	closed   bool
	serving  bool
	handlers sync.WaitGroup
}

// keptOutput is an output the worker holds for its submitter.
type keptOutput struct {
	cid     cid.Cid
	release func()
	expires time.Time
}

type slotWaiter struct {
	peer  peer.ID
	seq   uint64
	ready chan struct{}
}

// NewWorker returns a worker; it serves nothing until Run.
func NewWorker(cfg WorkerConfig, deps WorkerDeps) (*Worker, error) {
	cfg.fill()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Host == nil || deps.Content == nil || deps.Runner == nil {
		return nil, errors.New("compute: worker deps: Host, Content and Runner are required")
	}
	key := deps.Host.Peerstore().PrivKey(deps.Host.ID())
	if key == nil {
		return nil, errors.New("compute: worker: host has no private key to sign receipts")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{
		cfg:       cfg,
		deps:      deps,
		log:       log.With("component", "compute-worker"),
		key:       key,
		runningBy: map[peer.ID]int{},
		heldBy:    map[peer.ID]int{},
		served:    map[peer.ID]uint64{},
		streams:   map[peer.ID]int{},
		outputs:   map[uint64]*keptOutput{},
		speed:     cfg.SpeedHint,
		done:      make(chan struct{}),
	}, nil
}

// Config returns the worker's configuration, defaults filled in.
func (w *Worker) Config() WorkerConfig { return w.cfg }

// Stats returns a snapshot of the worker's load and record.
func (w *Worker) Stats() WorkerStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return WorkerStats{
		Slots: w.cfg.Slots, Running: w.running, Queued: w.held - w.running,
		Completed: w.completed, Failed: w.failed, Rejected: w.rejected, Speed: w.speed,
	}
}

// Run serves ProtocolID and announces the worker under ComputeKey until ctx
// ends, then stops serving and returns once every unit it held has ended
// and every goroutine it started has exited. It returns an error if the
// scratch directory cannot be prepared, or if Run is called twice.
func (w *Worker) Run(ctx context.Context) error {
	w.hmu.Lock()
	if w.serving || w.closed {
		w.hmu.Unlock()
		return errors.New("compute: worker: Run called twice")
	}
	// Handlers enter once serving is set: after the directory is ready.
	if err := w.prepare(); err != nil {
		w.closed = true
		w.hmu.Unlock()
		close(w.done)
		return err
	}
	w.serving = true
	w.hmu.Unlock()
	defer w.root.Close()

	w.deps.Host.SetStreamHandler(ProtocolID, func(s network.Stream) { w.handle(ctx, s) })
	w.log.Info("worker started", "slots", w.cfg.Slots, "queue", w.cfg.QueueLen)

	var wg sync.WaitGroup
	if w.deps.Discovery != nil {
		wg.Go(func() { w.announce(ctx) })
	}
	wg.Go(func() { w.expireOutputs(ctx) })
	defer w.dropOutputs()
	<-ctx.Done()
	w.deps.Host.RemoveStreamHandler(ProtocolID)
	w.hmu.Lock()
	w.closed = true
	w.hmu.Unlock()
	close(w.done)
	w.handlers.Wait()
	wg.Wait()
	w.log.Info("worker stopped")
	return nil
}

// prepare empties the scratch directory's cache and units and opens the
// root through which every file of theirs is written.
func (w *Worker) prepare() error {
	if err := os.MkdirAll(w.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("compute: worker: prepare %s: %w", w.cfg.Dir, err)
	}
	root, err := os.OpenRoot(w.cfg.Dir)
	if err != nil {
		return fmt.Errorf("compute: worker: prepare %s: %w", w.cfg.Dir, err)
	}
	for _, sub := range []string{cacheDir, unitsDir} {
		err := root.RemoveAll(sub)
		if err == nil {
			err = root.Mkdir(sub, 0o755)
		}
		if err != nil {
			root.Close()
			return fmt.Errorf("compute: worker: prepare %s: %w", filepath.Join(w.cfg.Dir, sub), err)
		}
	}
	w.root = root
	w.cache = newBlobCache(root, cacheDir, w.cfg.CacheBytes)
	return nil
}

// Subdirectories of the worker's Dir.
const (
	cacheDir = "cache"
	unitsDir = "units"
)

// keepOutput records an output held until delivered or OutputTTL after
// now, and returns its ID.
func (w *Worker) keepOutput(c cid.Cid, release func(), now time.Time) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.outputID++
	w.outputs[w.outputID] = &keptOutput{cid: c, release: release, expires: now.Add(w.cfg.OutputTTL)}
	return w.outputID
}

// dropOutput releases output id: delivered, or expired.
func (w *Worker) dropOutput(id uint64) {
	w.mu.Lock()
	o := w.outputs[id]
	delete(w.outputs, id)
	w.mu.Unlock()
	if o != nil {
		o.release()
	}
}

// sweepOutputs releases the outputs expired at now.
func (w *Worker) sweepOutputs(now time.Time) {
	w.mu.Lock()
	var expired []*keptOutput
	for id, o := range w.outputs {
		if !now.Before(o.expires) {
			expired = append(expired, o)
			delete(w.outputs, id)
		}
	}
	w.mu.Unlock()
	for _, o := range expired {
		w.log.Debug("output expired undelivered", "cid", o.cid)
		o.release()
	}
}

// dropOutputs releases every kept output (Run is ending).
func (w *Worker) dropOutputs() {
	w.mu.Lock()
	outs := w.outputs
	w.outputs = map[uint64]*keptOutput{}
	w.mu.Unlock()
	for _, o := range outs {
		o.release()
	}
}

// keptOutputs returns the CIDs of the outputs kept now.
func (w *Worker) keptOutputs() []cid.Cid {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []cid.Cid
	for _, o := range w.outputs {
		out = append(out, o.cid)
	}
	return out
}

// expireOutputs sweeps expired outputs every OutputTTL/4 (at most every
// minute) until ctx ends.
func (w *Worker) expireOutputs(ctx context.Context) {
	t := time.NewTicker(min(max(w.cfg.OutputTTL/4, time.Second), time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			w.sweepOutputs(now)
		}
	}
}

// announce provides ComputeKey now and every AnnounceInterval.
func (w *Worker) announce(ctx context.Context) {
	key := ComputeKey()
	for {
		next := w.cfg.AnnounceInterval
		actx, cancel := context.WithTimeout(ctx, time.Minute)
		err := w.deps.Discovery.Provide(actx, key)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil && errors.Is(err, ErrAlone):
			// A lone node (or one still joining) has no one to tell.
			w.log.Debug("announce deferred", "err", err)
			next = w.cfg.AnnounceRetry
		case err != nil && ctx.Err() == nil:
			w.log.Warn("announce", "err", err)
			next = w.cfg.AnnounceRetry
		case err == nil:
			w.log.Debug("announced", "cid", key)
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// stream is one side of a compute stream: a network.Stream, or a pipe to
// the local submitter.
type stream interface {
	io.Reader
	io.Writer
	SetDeadline(time.Time) error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
	Close() error
	Reset() error
}

// pipeStream is a stream over one end of a net.Pipe.
type pipeStream struct{ net.Conn }

// Reset closes the pipe.
func (p pipeStream) Reset() error { return p.Conn.Close() }

// enter registers a handler; it returns false once Run has ended.
func (w *Worker) enter() bool {
	w.hmu.Lock()
	defer w.hmu.Unlock()
	if w.closed || !w.serving {
		return false
	}
	w.handlers.Add(1)
	return true
}

// handle serves one incoming stream.
func (w *Worker) handle(ctx context.Context, s network.Stream) {
	if ctx.Err() != nil || !w.enter() {
		s.Reset()
		return
	}
	defer w.handlers.Done()
	w.serve(ctx, s.Conn().RemotePeer(), s, true)
}

// serveLocal serves one stream of the submitter of this peer (from), over
// an in-process pipe, as handle serves a network stream. It returns when
// the stream ends; the run it carries stops when ctx ends or the worker's
// Run ends.
func (w *Worker) serveLocal(ctx context.Context, from peer.ID, conn net.Conn) {
	s := pipeStream{conn}
	if !w.enter() {
		s.Reset()
		return
	}
	defer w.handlers.Done()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		select {
		case <-w.done:
			cancel()
		case <-ctx.Done():
		}
	})
	w.serve(ctx, from, s, false)
}

// serve answers one request on s from peer p; remote says s is a network
// stream (whose peer is disconnected when it sends malformed data).
func (w *Worker) serve(ctx context.Context, p peer.ID, s stream, remote bool) {
	w.mu.Lock()
	if w.streams[p] >= w.cfg.MaxStreamsPerPeer {
		w.mu.Unlock()
		w.log.Debug("too many streams", "peer", p)
		s.Reset()
		return
	}
	w.streams[p]++
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		if w.streams[p]--; w.streams[p] <= 0 {
			delete(w.streams, p)
		}
		w.mu.Unlock()
	}()

	s.SetDeadline(time.Now().Add(w.cfg.RequestTimeout))
	r := bufio.NewReader(s)
	m, err := wire.ReadMsg(r)
	if err != nil {
		w.badPeer(s, p, remote, "read request", err)
		return
	}
	switch m := m.(type) {
	case *wire.BidRequest:
		w.serveBid(ctx, p, s, m)
	case *wire.RunUnit:
		w.serveRun(ctx, p, s, r, m)
	default:
		w.badPeer(s, p, remote, "request", fmt.Errorf("%w: unexpected %s", wire.ErrMalformed, m.Kind()))
	}
}

// badPeer resets s; a remote peer whose bytes were malformed is
// disconnected.
func (w *Worker) badPeer(s stream, p peer.ID, remote bool, op string, err error) {
	s.Reset()
	if remote && (errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrFrameTooLarge)) {
		w.log.Warn("malformed message, disconnecting", "peer", p, "op", op, "err", err)
		w.deps.Host.Network().ClosePeer(p)
		return
	}
	w.log.Debug("stream", "peer", p, "op", op, "err", err)
}

func (w *Worker) serveBid(ctx context.Context, p peer.ID, s stream, req *wire.BidRequest) {
	bid := w.bid(p)
	known := false
	for _, c := range append([]cid.Cid{req.Module}, req.Inputs...) {
		if len(bid.HasInputs) >= wire.MaxCIDs {
			break
		}
		if n, ok := w.holds(ctx, c); ok {
			bid.HasInputs = append(bid.HasInputs, c)
			bid.HeldBytes = append(bid.HeldBytes, uint64(min(max(n, 0), wire.MaxHeldBytes)))
			known = known || n > 0
		}
	}
	if !known {
		bid.HeldBytes = nil
	}
	if err := wire.WriteMsg(s, bid); err != nil {
		w.log.Debug("write bid", "peer", p, "err", err)
		s.Reset()
		return
	}
	s.Close()
}

// bid returns the worker's offer to peer p, without HasInputs and
// HeldBytes.
func (w *Worker) bid(p peer.ID) *wire.Bid {
	w.mu.Lock()
	defer w.mu.Unlock()
	// FreeSlots is the room p has now, at most Slots: units of p queued
	// behind other peers' running units start as soon as a slot frees
	// (slots go first to the peer with the fewest running), so a peer
	// holding every slot does not make the worker look full to others.
	room := min(w.cfg.Slots, w.cfg.PeerShare-w.heldBy[p], w.cfg.Slots+w.cfg.QueueLen-w.held)
	return &wire.Bid{
		Busy:      !w.canAdmit(p),
		Slots:     uint32(w.cfg.Slots),
		FreeSlots: uint32(max(0, room)),
		QueueLen:  uint32(w.ahead(p)),
		Speed:     w.speed,
		LinkRate:  w.link.Rate(),
		MaxMemory: uint64(w.cfg.MaxMemoryMiB) << 20,
	}
}

// ahead is how many units wait for a slot that would get one before a new
// unit of p: p's own, and those of peers running no more units than p.
// Units still fetching their module or inputs wait for no slot and are not
// counted: a peer whose units name content nobody serves must not make the
// worker look full to others (submitters subtract QueueLen from FreeSlots).
// w.mu must be held.
func (w *Worker) ahead(p peer.ID) int {
	n := 0
	for _, x := range w.waiting {
		if x.peer == p || w.runningBy[x.peer] <= w.runningBy[p] {
			n++
		}
	}
	return n
}

// holds reports whether the worker holds c without the network, and how
// many bytes of it (0 when it cannot say): in its fetch cache, or in
// Content's store (the root block; the size of the DAG under it when
// Content can tell).
func (w *Worker) holds(ctx context.Context, c cid.Cid) (int64, bool) {
	if n, ok := w.cache.sizeOf(c); ok {
		return n, true
	}
	lc, ok := w.deps.Content.(localContent)
	if !ok {
		return 0, false
	}
	if has, err := lc.Has(ctx, c); err != nil || !has {
		return 0, false
	}
	if hs, ok := w.deps.Content.(heldSizer); ok {
		if n, err := hs.HeldSize(ctx, c); err == nil {
			return n, true
		}
	}
	return 0, true
}

// canAdmit reports whether a unit from p fits. w.mu must be held.
func (w *Worker) canAdmit(p peer.ID) bool {
	return w.held < w.cfg.Slots+w.cfg.QueueLen && w.heldBy[p] < w.cfg.PeerShare
}

// limits turns a request's limits into the sandbox's, or says why they are
// over the worker's maxima.
func (w *Worker) limits(l wire.Limits) (sandbox.Limits, string) {
	out := sandbox.Limits{
		MemoryMiB:      w.cfg.MemoryMiB,
		Timeout:        w.cfg.UnitTimeout,
		MaxOutputBytes: w.cfg.MaxOutputBytes,
		MaxModuleBytes: w.cfg.MaxModuleBytes,
	}
	if l.MemoryBytes > 0 {
		// Rounded up without overflow: MemoryBytes+1<<20-1 wraps near
		// MaxUint64 and would turn a huge request into a tiny one.
		mib := l.MemoryBytes >> 20
		if l.MemoryBytes&(1<<20-1) != 0 {
			mib++
		}
		if mib > uint64(w.cfg.MaxMemoryMiB) {
			return out, fmt.Sprintf("memory %d MiB over %d MiB", mib, w.cfg.MaxMemoryMiB)
		}
		out.MemoryMiB = int(mib)
	}
	if l.WallTime > 0 {
		if l.WallTime > w.cfg.MaxUnitTimeout {
			return out, fmt.Sprintf("wall time %v over %v", l.WallTime, w.cfg.MaxUnitTimeout)
		}
		out.Timeout = l.WallTime
	}
	if l.MaxOutputBytes > 0 {
		if l.MaxOutputBytes > uint64(w.cfg.MaxOutputBytes) {
			return out, fmt.Sprintf("output cap %d bytes over %d", l.MaxOutputBytes, w.cfg.MaxOutputBytes)
		}
		out.MaxOutputBytes = int64(l.MaxOutputBytes)
	}
	return out, ""
}

// outcome is how a run ended: exactly one of result and failed is set.
type outcome struct {
	result *wire.Result
	failed *wire.Failed
	output uint64 // the kept output's ID, with result
}

func (w *Worker) serveRun(ctx context.Context, p peer.ID, s stream, r *bufio.Reader, req *wire.RunUnit) {
	log := w.log.With("peer", p, "job", req.Job, "unit", req.Unit)
	lim, over := w.limits(req.Limits)
	if over != "" {
		w.reject(s, p, wire.RejectLimits, over)
		return
	}
	w.mu.Lock()
	if !w.canAdmit(p) {
		share := w.heldBy[p] >= w.cfg.PeerShare
		w.rejected++
		w.mu.Unlock()
		detail := "all slots and queue taken"
		if share {
			detail = "peer share taken"
		}
		w.reject(s, p, wire.RejectBusy, detail)
		return
	}
	w.held++
	w.heldBy[p]++
	queued := w.ahead(p)
	w.mu.Unlock()
	// The unit stops counting against p's share before its outcome is
	// sent, so that p may send its next unit as soon as it reads it.
	var releaseOnce sync.Once
	releaseHeld := func() {
		releaseOnce.Do(func() {
			w.mu.Lock()
			w.held--
			if w.heldBy[p]--; w.heldBy[p] <= 0 {
				delete(w.heldBy, p)
				delete(w.served, p)
			}
			w.mu.Unlock()
		})
	}
	defer releaseHeld()

	if err := w.write(s, &wire.Accepted{QueueLen: uint32(max(0, queued))}); err != nil {
		log.Debug("write accepted", "err", err)
		s.Reset()
		return
	}
	log.Debug("unit accepted")

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	s.SetReadDeadline(time.Time{})
	// delivered is closed when the submitter, after the Result, says it
	// holds the output.
	delivered := make(chan struct{})
	wg.Go(func() {
		// The submitter drops the run by writing Cancel, closing or
		// resetting the stream; anything else it sends is malformed. A
		// Cancel after the Result says the output was delivered.
		m, err := wire.ReadMsg(r)
		if err == nil {
			if c, ok := m.(*wire.Cancel); !ok {
				log.Debug("unexpected message on a run", "kind", m.Kind())
			} else if c.Reason == deliveredReason {
				close(delivered)
			}
		}
		cancel()
	})
	var started atomic.Bool
	startedCh := make(chan struct{})
	done := make(chan outcome, 1)
	wg.Go(func() { done <- w.execute(runCtx, p, req, lim, &started, startedCh) })

	tick := time.NewTicker(w.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case o := <-done:
			var m wire.Msg = o.failed
			if o.result != nil {
				m = o.result
			}
			if runCtx.Err() != nil {
				if o.result != nil {
					w.dropOutput(o.output)
				}
				s.Reset()
				return
			}
			releaseHeld()
			if err := w.write(s, m); err != nil {
				log.Debug("write outcome", "err", err)
				s.Reset()
				return
			}
			if o.result != nil {
				// Wait, at most FetchTimeout (or OutputTTL if shorter), for
				// the submitter to say it holds the output, and drop it
				// then; otherwise it waits for its TTL.
				s.SetReadDeadline(time.Now().Add(min(w.cfg.FetchTimeout, w.cfg.OutputTTL)))
				<-runCtx.Done() // the reader has read or failed, or ctx ended
				select {
				case <-delivered:
					log.Debug("output delivered", "cid", o.result.Receipt.Output)
					w.dropOutput(o.output)
				default:
				}
			}
			s.Close()
			return
		case <-runCtx.Done():
			log.Debug("unit cancelled")
			s.Reset()
			return
		case <-startedCh:
			// Tell the submitter at once that the run has started.
			startedCh = nil
			if err := w.write(s, &wire.Progress{Running: true}); err != nil {
				log.Debug("write progress", "err", err)
				cancel()
			}
		case <-tick.C:
			if err := w.write(s, &wire.Progress{Running: started.Load()}); err != nil {
				log.Debug("write progress", "err", err)
				cancel()
			}
		}
	}
}

func (w *Worker) reject(s stream, p peer.ID, reason wire.RejectReason, detail string) {
	w.deps.Metrics.unitRejected()
	w.log.Debug("unit rejected", "peer", p, "reason", reason, "detail", detail)
	if err := w.write(s, &wire.Rejected{Reason: reason, Detail: detail}); err != nil {
		s.Reset()
		return
	}
	s.Close()
}

// write sends one message under a write deadline.
func (w *Worker) write(s stream, m wire.Msg) error {
	s.SetWriteDeadline(time.Now().Add(w.cfg.RequestTimeout))
	return wire.WriteMsg(s, m)
}

// execute fetches a unit's module and inputs, waits for a slot, runs it and
// stores its output.
func (w *Worker) execute(ctx context.Context, p peer.ID, req *wire.RunUnit, lim sandbox.Limits, started *atomic.Bool, startedCh chan<- struct{}) outcome {
	fail := func(reason, format string, args ...any) outcome {
		w.mu.Lock()
		w.failed++
		w.mu.Unlock()
		w.deps.Metrics.unitFailed(reason)
		return outcome{failed: &wire.Failed{Reason: reason, Detail: truncate(fmt.Sprintf(format, args...), wire.MaxDetailLen)}}
	}
	// Everything written into the unit's directory goes through w.root,
	// created exclusively: nothing planted there can redirect a write.
	dir := path.Join(unitsDir, fmt.Sprintf("unit-%d", w.unitID.Add(1)))
	if err := w.root.Mkdir(dir, 0o755); err != nil {
		return fail("internal", "make unit directory: %v", err)
	}
	defer w.root.RemoveAll(dir)

	fetchCtx, cancelFetch := context.WithTimeout(ctx, w.cfg.FetchTimeout)
	defer cancelFetch()
	modRel := path.Join(dir, "module.wasm")
	modPath := filepath.Join(w.cfg.Dir, filepath.FromSlash(modRel))
	if _, err := w.cache.fetch(fetchCtx, w.deps.Content, req.Module, w.cfg.MaxModuleBytes, modRel); err != nil {
		if errors.Is(err, errTooLarge) {
			o := fail(sandbox.ReasonModuleTooLarge.String(), "module %s over %d bytes", req.Module, w.cfg.MaxModuleBytes)
			o.failed.Deterministic = true
			return o
		}
		return fail("fetch", "fetch module %s: %v", req.Module, err)
	}
	inRel := path.Join(dir, "input")
	inDir := filepath.Join(w.cfg.Dir, filepath.FromSlash(inRel))
	if err := w.root.Mkdir(inRel, 0o755); err != nil {
		return fail("internal", "make input directory: %v", err)
	}
	budget := w.cfg.MaxInputBytes
	var inBytes int64
	// fetched and fetchTook measure the inputs that came over the network
	// for this run: those the worker did not hold when it came (see
	// holds; a directory counts as held when its root is).
	var fetched int64
	var fetchTook time.Duration
	st := &stager{w: w}
	for i, c := range req.Inputs {
		// A unit whose only input is a directory sees it as /input;
		// otherwise input i is /input/InputName(i), a file or a directory.
		dst := path.Join(inRel, InputName(i))
		dir := dst
		if len(req.Inputs) == 1 {
			dir = inRel
		}
		_, held := w.holds(fetchCtx, c)
		began := time.Now()
		n, err := st.stage(fetchCtx, c, budget, dst, dir, 0)
		if !held && err == nil {
			fetched += n
			fetchTook += time.Since(began)
		}
		if errors.Is(err, errTooLarge) {
			o := fail("input-too-large", "inputs over %d bytes", w.cfg.MaxInputBytes)
			o.failed.Deterministic = true
			return o
		}
		var be badInputError
		if errors.As(err, &be) {
			o := fail("input", "input %d (%s): %v", i, c, err)
			o.failed.Deterministic = true
			return o
		}
		if err != nil {
			return fail("fetch", "fetch input %d (%s): %v", i, c, err)
		}
		budget -= n
		inBytes += n
	}

	cancelFetch()
	if fetched > 0 {
		w.mu.Lock()
		w.link.Add(fetched, fetchTook)
		w.mu.Unlock()
	}
	if err := w.acquire(ctx, p); err != nil {
		return fail("canceled", "waiting for a slot: %v", err)
	}
	started.Store(true)
	close(startedCh)
	res, err := w.deps.Runner.RunUnit(ctx, sandbox.Unit{
		ModuleKey:  req.Module.String(),
		ModulePath: modPath,
		InputDir:   inDir,
		Args:       req.Args,
		Seed:       req.Seed,
		Limits:     lim,
	})
	w.release(p)
	if err != nil {
		var se *sandbox.Error
		if !errors.As(err, &se) {
			return fail("internal", "run: %v", err)
		}
		o := fail(se.Reason.String(), "%s", se.Detail)
		o.failed.Deterministic = se.Reason < sandbox.ReasonCrash
		o.failed.Took = res.Duration
		o.failed.Log = runLog(res, lim)
		return o
	}

	// A tiny output travels inline with the Result and is stored here
	// unannounced (LocalContent), in case the submitter fetches it still.
	inline := len(res.Stdout) <= wire.MaxInlineOutput
	put := w.deps.Content.PutTemp
	if lc, ok := w.deps.Content.(LocalContent); ok && inline {
		put = lc.PutTempLocal
	}
	out, release, err := put(ctx, bytes.NewReader(res.Stdout))
	if err != nil {
		return fail("store", "store output: %v", err)
	}
	outID := w.keepOutput(out, release, time.Now())
	rc := wire.Receipt{
		Job: req.Job, Unit: req.Unit, Module: req.Module, Inputs: req.Inputs, Args: req.Args,
		Output: out, Took: res.Duration, PeakMemory: res.PeakMemory, Finished: time.Now().UnixNano(),
	}
	if err := rc.Sign(w.key); err != nil {
		w.dropOutput(outID)
		return fail("internal", "%v", err)
	}
	w.deps.Metrics.unitRun(res.Duration)
	w.mu.Lock()
	w.completed++
	if secs := res.Duration.Seconds(); secs > 0 {
		// The first measurement replaces the hint outright: a hint off by
		// 10x would otherwise linger in the bids for many runs.
		const alpha = 0.3
		if v := UnitCost(inBytes) / secs; w.measured == 0 {
			w.speed = v
		} else {
			w.speed = (1-alpha)*w.speed + alpha*v
		}
		w.measured++
	}
	w.mu.Unlock()
	result := &wire.Result{Receipt: rc, Log: runLog(res, lim),
		FetchedBytes: uint64(min(fetched, wire.MaxHeldBytes)), FetchTook: fetchTook}
	if inline {
		result.Inline, result.Output = true, res.Stdout
		if _, err := wire.Encode(result); err != nil { // over a frame with the log: fetched instead
			result.Inline, result.Output = false, nil
		}
	}
	return outcome{result: result, output: outID}
}

// runLog is the log of a run for its Result or Failed: its exit code and
// stderr, cut to wire.MaxStderrLen (its head and tail, as the sandbox
// keeps them) and marked Truncated when the sandbox's cap or this cut
// dropped bytes.
func runLog(res sandbox.Result, lim sandbox.Limits) wire.Log {
	l := wire.Log{ExitCode: res.ExitCode, Stderr: res.Stderr}
	// The sandbox keeps at most MaxStderrBytes of stderr (its default
	// when the limits state none) and adds a marker line where it dropped
	// bytes: more than its cap means some were dropped.
	max := lim.MaxStderrBytes
	if max <= 0 {
		max = sandbox.DefaultMaxStderrBytes
	}
	if int64(len(l.Stderr)) > max {
		l.Truncated = true
	}
	if len(l.Stderr) > wire.MaxStderrLen {
		l.Stderr = cutMiddle(l.Stderr, wire.MaxStderrLen)
		l.Truncated = true
	}
	if len(l.Stderr) == 0 {
		l.Stderr = nil
	}
	return l
}

// cutMiddle returns b cut to at most max bytes: its head and its tail with
// a marker line between them saying how many bytes were dropped.
func cutMiddle(b []byte, max int) []byte {
	if len(b) <= max {
		return b
	}
	const room = 64 // for the marker
	keep := max - room
	head, tail := b[:keep/2], b[len(b)-(keep-keep/2):]
	out := make([]byte, 0, max)
	out = append(out, head...)
	out = fmt.Appendf(out, "\n[... %d bytes dropped ...]\n", len(b)-len(head)-len(tail))
	return append(out, tail...)
}

// acquire waits for a run slot. Waiting units get freed slots fairly: the
// unit of the peer with the fewest running units first, then of the peer
// served longest ago, then the oldest.
func (w *Worker) acquire(ctx context.Context, p peer.ID) error {
	w.mu.Lock()
	if w.running < w.cfg.Slots && len(w.waiting) == 0 {
		w.grant(p)
		w.mu.Unlock()
		return nil
	}
	w.seq++
	sw := &slotWaiter{peer: p, seq: w.seq, ready: make(chan struct{})}
	w.waiting = append(w.waiting, sw)
	w.mu.Unlock()
	select {
	case <-sw.ready:
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		for i, x := range w.waiting {
			if x == sw {
				w.waiting = append(w.waiting[:i], w.waiting[i+1:]...)
				w.mu.Unlock()
				return ctx.Err()
			}
		}
		w.mu.Unlock()
		w.release(p) // granted meanwhile
		return ctx.Err()
	}
}

// release frees p's slot and hands it to the fairest waiter.
func (w *Worker) release(p peer.ID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.running--
	if w.runningBy[p]--; w.runningBy[p] <= 0 {
		delete(w.runningBy, p)
	}
	if len(w.waiting) == 0 || w.running >= w.cfg.Slots {
		return
	}
	best := 0
	for i, x := range w.waiting[1:] {
		if w.fairer(x, w.waiting[best]) {
			best = i + 1
		}
	}
	sw := w.waiting[best]
	w.waiting = append(w.waiting[:best], w.waiting[best+1:]...)
	w.grant(sw.peer)
	close(sw.ready)
}

// fairer reports whether waiter x should get a slot before y. w.mu must be
// held.
func (w *Worker) fairer(x, y *slotWaiter) bool {
	if rx, ry := w.runningBy[x.peer], w.runningBy[y.peer]; rx != ry {
		return rx < ry
	}
	if sx, sy := w.served[x.peer], w.served[y.peer]; sx != sy {
		return sx < sy
	}
	return x.seq < y.seq
}

// grant gives p a slot. w.mu must be held.
func (w *Worker) grant(p peer.ID) {
	w.running++
	w.runningBy[p]++
	w.grants++
	w.served[p] = w.grants
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// Bounds of a directory input.
const (
	maxInputDepth = 16
	maxInputFiles = 1 << 16
)

// badInputError is an input no worker can mount: a bad name, nesting too
// deep, too many files.
type badInputError struct{ msg string }

func (e badInputError) Error() string { return e.msg }

// stager puts a unit's inputs in its directory.
type stager struct {
	w     *Worker
	files int
}

// stage puts c at file when it is a file, or its entries under dir (made
// unless it exists) when it is a UnixFS directory, and returns the bytes
// staged: at most limit, or an error wrapping errTooLarge.
func (st *stager) stage(ctx context.Context, c cid.Cid, limit int64, file, dir string, depth int) (int64, error) {
	if st.files++; st.files > maxInputFiles {
		return 0, badInputError{fmt.Sprintf("over %d files", maxInputFiles)}
	}
	n, err := st.w.cache.fetch(ctx, st.w.deps.Content, c, limit, file)
	if !errors.Is(err, ErrIsDir) {
		return n, err
	}
	if depth >= maxInputDepth {
		return 0, badInputError{fmt.Sprintf("directories nested over %d levels", maxInputDepth)}
	}
	entries, err := st.w.deps.Content.ReadDir(ctx, c, limit)
	if errors.Is(err, ErrTooLarge) {
		return 0, fmt.Errorf("%w: %w", errTooLarge, err)
	}
	if err != nil {
		return 0, fmt.Errorf("read directory %s: %w", c, err)
	}
	if _, err := st.w.root.Lstat(dir); err != nil {
		if err := st.w.root.Mkdir(dir, 0o755); err != nil {
			return 0, fmt.Errorf("make directory: %w", err)
		}
	}
	slices.SortFunc(entries, func(a, b DirEntry) int { return strings.Compare(a.Name, b.Name) })
	var total int64
	for i, e := range entries {
		if !ValidName(e.Name) {
			return 0, badInputError{fmt.Sprintf("directory %s: bad entry name %q", c, e.Name)}
		}
		if i > 0 && entries[i-1].Name == e.Name {
			return 0, badInputError{fmt.Sprintf("directory %s: entry %q twice", c, e.Name)}
		}
		p := path.Join(dir, e.Name)
		n, err := st.stage(ctx, e.CID, limit-total, p, p, depth+1)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", e.Name, err)
		}
		total += n
	}
	return total, nil
}
