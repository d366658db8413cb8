// The share exchange protocol (/enxame/share/1.0.0): the server side that
// streams blocks to other peers, its configuration and its collaborators.
// The fetch side is in fetch.go, peer scores in score.go, the messages in
// package share/wire; the message flow and limits are in DESIGN.md
// ("Exchange protocol").

package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/enxame/enxame/share/plan"
	"github.com/enxame/enxame/share/wire"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ProtocolID is the libp2p protocol of the share exchange.
const ProtocolID protocol.ID = "/enxame/share/1.0.0"

// ExchangeServiceName is the resource-manager service name under which the
// exchange's streams are accounted (network.StreamScope.SetService), so that
// node can give it per-peer limits.
const ExchangeServiceName = "enxame.share"

// ExchangeConfig tunes an Exchange. It is plain data: a zero field means
// "use the default" given in its comment; DefaultExchangeConfig returns every
// default filled in.
type ExchangeConfig struct {
	// MaxStreamsPerPeer caps the exchange streams one peer may have open to
	// this server at once; more are reset. Default 8.
	MaxStreamsPerPeer int `yaml:"max_streams_per_peer" json:"max_streams_per_peer"`
	// MaxQueuedRequests caps the requests queued per stream on the server
	// (each names at most wire.MaxKeys keys); beyond it the server stops
	// reading the stream until it catches up. Default 64.
	MaxQueuedRequests int `yaml:"max_queued_requests" json:"max_queued_requests"`
	// MaxQueuedKeys caps the keys of the requests queued per stream on the
	// server (a request of more keys than that is queued alone); beyond it
	// the server stops reading the stream until it catches up. The memory
	// of queued requests is also reserved in the stream's resource scope,
	// so the resource manager's per-peer limits bound it. Default 4096.
	MaxQueuedKeys int `yaml:"max_queued_keys" json:"max_queued_keys"`
	// IdleTimeout is the read deadline of a stream waiting for its next
	// frame: a server stream with no request for this long, or a fetch
	// stream with requests outstanding and no answer, is closed. Default 30s.
	IdleTimeout time.Duration `yaml:"idle_timeout" json:"idle_timeout"`
	// WriteTimeout is the write deadline of each frame. Default 30s.
	WriteTimeout time.Duration `yaml:"write_timeout" json:"write_timeout"`
	// ServeRateLimit caps the bytes per second this peer serves, over all
	// exchange streams together (a token bucket); 0 means no limit.
	// Default 0.
	ServeRateLimit int64 `yaml:"serve_rate_limit" json:"serve_rate_limit"`
	// ConnectTimeout bounds connecting to a provider and opening a stream to
	// it. Default 10s.
	ConnectTimeout time.Duration `yaml:"connect_timeout" json:"connect_timeout"`
	// FindProvidersCount is the count passed to FindProviders. Default 20.
	FindProvidersCount int `yaml:"find_providers_count" json:"find_providers_count"`
	// RequeryInterval is the least time between two provider lookups of one
	// fetch while some blocks have no provider. Default 5s.
	RequeryInterval time.Duration `yaml:"requery_interval" json:"requery_interval"`
	// NoProvidersTimeout is how long a fetch may make no progress while some
	// of its blocks have no provider before it fails with ErrNoProviders.
	// Default 30s.
	NoProvidersTimeout time.Duration `yaml:"no_providers_timeout" json:"no_providers_timeout"`
	// MaxProbePeers caps the already-connected peers a fetch asks whether
	// they have the root. Default 64.
	MaxProbePeers int `yaml:"max_probe_peers" json:"max_probe_peers"`
	// VerifyWorkers is the number of goroutines per fetch that hash, store
	// and decode arriving blocks. Default runtime.GOMAXPROCS(0).
	VerifyWorkers int `yaml:"verify_workers" json:"verify_workers"`
	// ProgressInterval is the least time between two progress reports of a
	// fetch. Default 250ms.
	ProgressInterval time.Duration `yaml:"progress_interval" json:"progress_interval"`
	// GateAfter is the number of offences (invalid blocks, unrequested
	// blocks, malformed messages) after which a peer is disconnected and
	// refused for GateDuration. Default 3.
	GateAfter int `yaml:"gate_after" json:"gate_after"`
	// GateDuration is how long a gated peer is refused. Default 10m.
	GateDuration time.Duration `yaml:"gate_duration" json:"gate_duration"`
	// Plan tunes the multi-source planner of each fetch (zero fields take
	// plan's defaults).
	Plan plan.Config `yaml:"plan" json:"plan"`
}

// DefaultExchangeConfig returns the configuration with every default filled
// in.
func DefaultExchangeConfig() ExchangeConfig {
	return ExchangeConfig{}.withDefaults()
}

func (c ExchangeConfig) withDefaults() ExchangeConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxStreamsPerPeer, 8)
	def(&c.MaxQueuedRequests, 64)
	def(&c.MaxQueuedKeys, 4096)
	defd(&c.IdleTimeout, 30*time.Second)
	defd(&c.WriteTimeout, 30*time.Second)
	defd(&c.ConnectTimeout, 10*time.Second)
	def(&c.FindProvidersCount, 20)
	defd(&c.RequeryInterval, 5*time.Second)
	defd(&c.NoProvidersTimeout, 30*time.Second)
	def(&c.MaxProbePeers, 64)
	def(&c.VerifyWorkers, runtime.GOMAXPROCS(0))
	defd(&c.ProgressInterval, 250*time.Millisecond)
	def(&c.GateAfter, 3)
	defd(&c.GateDuration, 10*time.Minute)
	c.Plan = c.Plan.WithDefaults()
	return c
}

func (c ExchangeConfig) validate() error {
	ints := []struct {
		name string
		v    int
	}{
		{"MaxStreamsPerPeer", c.MaxStreamsPerPeer},
		{"MaxQueuedRequests", c.MaxQueuedRequests},
		{"MaxQueuedKeys", c.MaxQueuedKeys},
		{"FindProvidersCount", c.FindProvidersCount},
		{"MaxProbePeers", c.MaxProbePeers},
		{"VerifyWorkers", c.VerifyWorkers},
		{"GateAfter", c.GateAfter},
	}
	for _, f := range ints {
		if f.v < 0 {
			return fmt.Errorf("share: exchange config: %s must be > 0", f.name)
		}
	}
	durs := []struct {
		name string
		v    time.Duration
	}{
		{"IdleTimeout", c.IdleTimeout},
		{"WriteTimeout", c.WriteTimeout},
		{"ConnectTimeout", c.ConnectTimeout},
		{"RequeryInterval", c.RequeryInterval},
		{"NoProvidersTimeout", c.NoProvidersTimeout},
		{"ProgressInterval", c.ProgressInterval},
		{"GateDuration", c.GateDuration},
	}
	for _, f := range durs {
		if f.v < 0 {
			return fmt.Errorf("share: exchange config: %s must be > 0", f.name)
		}
	}
	if c.ServeRateLimit < 0 {
		return errors.New("share: exchange config: ServeRateLimit must be >= 0")
	}
	if _, err := plan.New(c.Plan); err != nil {
		return fmt.Errorf("share: exchange config: Plan: %w", err)
	}
	return nil
}

// ExchangeFinder finds providers of a CID; *dht.Router implements it.
type ExchangeFinder interface {
	// FindProviders streams up to count providers of c (0: no limit) on the
	// returned channel, which it closes when the lookup ends or ctx ends.
	// It must be safe for concurrent use.
	FindProviders(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo
}

// ExchangeDeps are the collaborators of an Exchange.
type ExchangeDeps struct {
	// Host is the libp2p host; required.
	Host host.Host
	// Blockstore holds the blocks served and fetched; required. It must be
	// safe for concurrent use.
	Blockstore blockstore.Blockstore
	// Finder finds providers; nil means a fetch only asks the peers already
	// connected.
	Finder ExchangeFinder
	// Hold, if not nil, protects keys from garbage collection until release
	// is called. A fetch holds every key it wants before requesting it and
	// releases them all when it returns. It must be safe for concurrent use.
	Hold func(keys ...cid.Cid) (release func())
	// Logger receives the exchange's logs; nil discards them.
	Logger *slog.Logger
	// Metrics, if not nil, counts bytes served and fetched, blocks
	// verified and rejected, and providers dropped.
	Metrics *Metrics
}

// Exchange serves blocks of its blockstore to other peers over ProtocolID
// (Run) and fetches DAGs from several providers at once (Fetch). Its methods
// are safe for concurrent use.
type Exchange struct {
	cfg    ExchangeConfig
	host   host.Host
	bs     blockstore.Blockstore
	finder ExchangeFinder
	hold   func(keys ...cid.Cid) (release func())
	log    *slog.Logger
	met    *Metrics
	scores *scoreTable
	pace   *servePacer // nil without ServeRateLimit

	// blockBufs recycles the data buffers of fetched blocks once they are
	// stored, when recycle is set: the blockstore is a *Store, whose
	// PutMany copies the data into its pack and keeps no reference to it.
	// (Another blockstore may keep the slices it is given.)
	blockBufs wire.BlockPool
	recycle   bool

	mu      sync.Mutex
	running bool
	stopped bool
	streams map[peer.ID]int // open server streams per peer
	wg      sync.WaitGroup  // server stream handlers
}

// NewExchange returns an Exchange. It validates cfg and deps; it starts
// nothing (see Run).
func NewExchange(cfg ExchangeConfig, deps ExchangeDeps) (*Exchange, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Host == nil {
		return nil, errors.New("share: exchange deps: Host is required")
	}
	if deps.Blockstore == nil {
		return nil, errors.New("share: exchange deps: Blockstore is required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Exchange{
		cfg:     cfg,
		host:    deps.Host,
		bs:      deps.Blockstore,
		finder:  deps.Finder,
		hold:    deps.Hold,
		log:     log.With("component", "share"),
		met:     deps.Metrics,
		scores:  newScoreTable(cfg.GateAfter, cfg.GateDuration),
		streams: make(map[peer.ID]int),
	}
	_, e.recycle = deps.Blockstore.(*Store)
	if cfg.ServeRateLimit > 0 {
		e.pace = &servePacer{rate: float64(cfg.ServeRateLimit)}
	}
	return e, nil
}

// Config returns the exchange's configuration with defaults filled in.
func (e *Exchange) Config() ExchangeConfig { return e.cfg }

// Gated reports whether p is currently refused for misbehaving. node may
// consult it from a connmgr.ConnectionGater.
func (e *Exchange) Gated(p peer.ID) bool { return e.scores.gated(p, time.Now()) }

// Run registers the ProtocolID stream handler and serves blocks from the
// blockstore to other peers until ctx ends; it then removes the handler,
// resets open streams and returns nil once every handler has returned. It
// returns an error at once if Run is already running or has run.
func (e *Exchange) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.running || e.stopped {
		e.mu.Unlock()
		return errors.New("share: exchange: Run called twice")
	}
	e.running = true
	e.mu.Unlock()

	e.host.SetStreamHandler(ProtocolID, func(s network.Stream) {
		e.mu.Lock()
		if e.stopped {
			e.mu.Unlock()
			s.Reset()
			return
		}
		e.wg.Add(1)
		e.mu.Unlock()
		defer e.wg.Done()
		e.serve(ctx, s)
	})
	e.log.Info("exchange serving", "protocol", ProtocolID)
	<-ctx.Done()
	e.host.RemoveStreamHandler(ProtocolID)
	e.mu.Lock()
	e.stopped = true
	e.mu.Unlock()
	e.wg.Wait()
	e.log.Info("exchange stopped")
	return nil
}

// acquire counts a new server stream of p; false if p is at its limit.
func (e *Exchange) acquire(p peer.ID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.streams[p] >= e.cfg.MaxStreamsPerPeer {
		return false
	}
	e.streams[p]++
	return true
}

func (e *Exchange) release(p peer.ID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.streams[p]--; e.streams[p] <= 0 {
		delete(e.streams, p)
	}
}

// offend records an offence of p and, past the threshold, disconnects it.
func (e *Exchange) offend(p peer.ID, why string) {
	if e.scores.offend(p, time.Now()) {
		e.log.Warn("peer gated", "peer", p, "why", why, "for", e.cfg.GateDuration)
		e.host.Network().ClosePeer(p)
		return
	}
	e.log.Warn("peer offended", "peer", p, "why", why)
}

// serve answers the requests of one stream. The stream's reader runs in a
// goroutine of its own, owned here; the answers are written from this one.
func (e *Exchange) serve(ctx context.Context, s network.Stream) {
	p := s.Conn().RemotePeer()
	log := e.log.With("peer", p)
	if e.scores.gated(p, time.Now()) {
		log.Debug("stream from gated peer refused")
		s.Reset()
		return
	}
	if err := s.Scope().SetService(ExchangeServiceName); err != nil {
		log.Debug("stream refused by the resource manager", "err", err)
		s.Reset()
		return
	}
	if !e.acquire(p) {
		log.Debug("stream refused: too many streams", "max", e.cfg.MaxStreamsPerPeer)
		e.writeError(s, wire.CodeBusy, "too many streams")
		return
	}
	defer e.release(p)
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()

	sv := &serverStream{
		e:         e,
		s:         s,
		queue:     make(chan *wire.Request, e.cfg.MaxQueuedRequests),
		out:       make(chan served, serveAhead),
		done:      make(chan struct{}),
		freed:     make(chan struct{}, 1),
		cancelled: make(map[cid.Cid]struct{}),
	}
	var wg sync.WaitGroup
	wg.Go(sv.read)
	wg.Go(func() { sv.load(ctx) })
	err := sv.write()
	close(sv.done)
	if err != nil {
		s.Reset() // also ends the reader
	}
	wg.Wait()
	if err == nil {
		s.Close()
		return
	}
	if errors.Is(sv.readErr, wire.ErrMalformed) {
		e.offend(p, sv.readErr.Error())
		return
	}
	log.Debug("stream ended", "err", err)
}

func (e *Exchange) writeError(s network.Stream, code uint64, msg string) {
	s.SetWriteDeadline(time.Now().Add(e.cfg.WriteTimeout))
	w := wire.NewWriter(s)
	if w.Write(&wire.Error{Code: code, Msg: msg}) != nil || w.Flush() != nil {
		s.Reset()
		return
	}
	s.Close()
}

// serverStream is the state of one served stream: a reader goroutine
// queues requests, a loader goroutine reads their blocks from the
// blockstore up to serveAhead answers ahead, and the writer (the handler's
// goroutine) sends them, so that disk reads overlap network writes.
type serverStream struct {
	e     *Exchange
	s     network.Stream
	queue chan *wire.Request // closed by read
	out   chan served        // closed by load
	done  chan struct{}      // closed when write returns

	readErr error // set by read before it closes queue
	loadErr error // set by load before it closes out

	freed chan struct{} // poked by load when it has answered a request

	mu         sync.Mutex
	cancelled  map[cid.Cid]struct{}
	queuedKeys int // keys of the requests queued and not yet answered
}

// served is one answer ready to send; size bytes of memory are reserved
// with the stream's scope until it is sent. buf, if not nil, is the pooled
// buffer holding the block's data, recycled once it is written.
type served struct {
	m    wire.Msg
	size int
	buf  []byte
}

// blockReader is implemented by blockstores that can copy a block into the
// caller's buffer (*Store's ReadInto), so that serving a block costs no
// allocation. ReadInto must return the block's size and an error matching
// io.ErrShortBuffer when p is too short, an error matching
// ipld.ErrNotFound when the block is not stored, and must keep no
// reference to p. It must be safe for concurrent use.
type blockReader interface {
	ReadInto(ctx context.Context, c cid.Cid, p []byte) (int, error)
}

// serveAhead is how many answers the loader prepares ahead of the writer.
const serveAhead = 8

// maxCancelled caps the cancelled keys a stream remembers.
const maxCancelled = 4 * wire.MaxKeys

// read reads requests and cancels until the stream ends, a frame is bad,
// or write returns. After a half-close by the client the requests queued
// before it are still answered, then the stream is closed. The memory of
// the frames it reads and of the requests it queues is reserved in the
// stream's scope; it queues at most MaxQueuedKeys keys at once.
func (sv *serverStream) read() {
	defer close(sv.queue)
	scope := sv.s.Scope()
	r := wire.NewReader(sv.s)
	r.SetMemoryScope(scope, network.ReservationPriorityAlways)
	defer r.Release()
	for {
		sv.s.SetReadDeadline(time.Now().Add(sv.e.cfg.IdleTimeout))
		m, err := r.Read()
		if err != nil {
			if errors.Is(err, network.ErrResourceLimitExceeded) {
				err = fmt.Errorf("%w: %w", errServeBusy, err)
			}
			sv.readErr = err
			return
		}
		switch m := m.(type) {
		case *wire.Request:
			if !sv.waitRoom(len(m.Keys)) {
				return
			}
			if err := scope.ReserveMemory(requestCost(m), network.ReservationPriorityHigh); err != nil {
				sv.unqueue(len(m.Keys))
				sv.readErr = fmt.Errorf("queue a request of %d keys: %w: %w", len(m.Keys), errServeBusy, err)
				return
			}
			select {
			case sv.queue <- m:
			case <-sv.done:
				scope.ReleaseMemory(requestCost(m))
				return
			}
		case *wire.Cancel:
			sv.mu.Lock()
			for _, k := range m.Keys {
				if len(sv.cancelled) < maxCancelled {
					sv.cancelled[k] = struct{}{}
				}
			}
			sv.mu.Unlock()
		default:
			sv.readErr = fmt.Errorf("unexpected %T from client: %w", m, wire.ErrMalformed)
			return
		}
	}
}

// requestCost estimates the memory a queued request holds: the message,
// its key slice and each key's bytes.
func requestCost(m *wire.Request) int {
	n := 64 + 16*len(m.Keys)
	for _, k := range m.Keys {
		n += 16 + k.ByteLen()
	}
	return n
}

// waitRoom counts n more queued keys once they fit under MaxQueuedKeys (a
// request alone in the queue always fits); false if write returned first.
func (sv *serverStream) waitRoom(n int) bool {
	for {
		sv.mu.Lock()
		if sv.queuedKeys == 0 || sv.queuedKeys+n <= sv.e.cfg.MaxQueuedKeys {
			sv.queuedKeys += n
			sv.mu.Unlock()
			return true
		}
		sv.mu.Unlock()
		select {
		case <-sv.freed:
		case <-sv.done:
			return false
		}
	}
}

// unqueue uncounts n queued keys and wakes a reader waiting for room.
func (sv *serverStream) unqueue(n int) {
	sv.mu.Lock()
	sv.queuedKeys -= n
	sv.mu.Unlock()
	select {
	case sv.freed <- struct{}{}:
	default:
	}
}

func (sv *serverStream) isCancelled(k cid.Cid) bool {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if len(sv.cancelled) == 0 {
		return false
	}
	if _, ok := sv.cancelled[k]; ok {
		delete(sv.cancelled, k)
		return true
	}
	return false
}

// load answers queued requests in order, reading blocks from the
// blockstore, reserving their memory and pacing them (ServeRateLimit).
func (sv *serverStream) load(ctx context.Context) {
	defer close(sv.out)
	scope := sv.s.Scope()
	for req := range sv.queue {
		if !sv.loadRequest(ctx, scope, req) {
			return
		}
	}
}

// loadRequest answers one queued request, then releases what it reserved;
// false when the stream must end.
func (sv *serverStream) loadRequest(ctx context.Context, scope network.StreamScope, req *wire.Request) bool {
	defer func() {
		scope.ReleaseMemory(requestCost(req))
		sv.unqueue(len(req.Keys))
	}()
	for _, k := range req.Keys {
		if sv.isCancelled(k) {
			continue
		}
		a, err := sv.answer(ctx, req, k)
		if err != nil {
			sv.loadErr = err
			return false
		}
		if a.size > 0 {
			if err := scope.ReserveMemory(a.size, network.ReservationPriorityHigh); err != nil {
				sv.loadErr = fmt.Errorf("reserve %d bytes: %w", a.size, errServeBusy)
				return false
			}
			if sv.e.pace != nil {
				if err := sv.e.pace.wait(ctx, a.size); err != nil {
					scope.ReleaseMemory(a.size)
					sv.loadErr = err
					return false
				}
			}
		}
		select {
		case sv.out <- a:
		case <-sv.done:
			if a.size > 0 {
				scope.ReleaseMemory(a.size)
			}
			return false
		}
	}
	return true
}

// errServeBusy marks a stream ended because the server lacks resources.
var errServeBusy = errors.New("server busy")

// answer reads the answer to one key of req.
func (sv *serverStream) answer(ctx context.Context, req *wire.Request, k cid.Cid) (served, error) {
	if req.Flags&wire.FlagHaveOnly != 0 {
		has, err := sv.e.bs.Has(ctx, k)
		if err != nil {
			return served{}, fmt.Errorf("has %s: %w", k, err)
		}
		if has {
			return served{m: &wire.Have{ID: req.ID, Key: k}}, nil
		}
		return served{m: &wire.DontHave{ID: req.ID, Key: k}}, nil
	}
	if br, ok := sv.e.bs.(blockReader); ok {
		return sv.answerInto(ctx, br, req, k)
	}
	blk, err := sv.e.bs.Get(ctx, k)
	switch {
	case ipld.IsNotFound(err):
		return served{m: &wire.DontHave{ID: req.ID, Key: k}}, nil
	case err != nil:
		return served{}, fmt.Errorf("get %s: %w", k, err)
	case len(blk.RawData()) > wire.MaxBlockSize:
		return served{m: &wire.DontHave{ID: req.ID, Key: k}}, nil
	}
	return served{m: &wire.Block{ID: req.ID, Key: k, Data: blk.RawData()}, size: len(blk.RawData())}, nil
}

// answerInto reads the block of k into a pooled buffer.
func (sv *serverStream) answerInto(ctx context.Context, br blockReader, req *wire.Request, k cid.Cid) (served, error) {
	pool := &sv.e.blockBufs
	buf := pool.Get(int(sv.e.cfg.Plan.BlockSize))
	n, err := br.ReadInto(ctx, k, buf[:cap(buf)])
	if errors.Is(err, io.ErrShortBuffer) && n > cap(buf) && n <= wire.MaxBlockSize {
		pool.Put(buf)
		buf = pool.Get(n)
		n, err = br.ReadInto(ctx, k, buf)
	}
	switch {
	case ipld.IsNotFound(err):
		pool.Put(buf)
		return served{m: &wire.DontHave{ID: req.ID, Key: k}}, nil
	case errors.Is(err, io.ErrShortBuffer):
		pool.Put(buf) // over wire.MaxBlockSize: not servable
		return served{m: &wire.DontHave{ID: req.ID, Key: k}}, nil
	case err != nil:
		pool.Put(buf)
		return served{}, fmt.Errorf("get %s: %w", k, err)
	}
	return served{m: &wire.Block{ID: req.ID, Key: k, Data: buf[:n]}, size: n, buf: buf}, nil
}

// write sends the loader's answers, flushing whenever it has nothing more
// ready. It returns nil when the client closed its side cleanly and
// everything was sent, an error otherwise. (Memory reserved for answers
// not sent goes with the stream's scope when the stream ends.)
func (sv *serverStream) write() error {
	w := wire.NewWriter(sv.s)
	scope := sv.s.Scope()
	for {
		var a served
		var ok bool
		select {
		case a, ok = <-sv.out:
		default:
			// Nothing ready: send what is buffered, then wait.
			if w.Buffered() > 0 {
				sv.s.SetWriteDeadline(time.Now().Add(sv.e.cfg.WriteTimeout))
				if err := w.Flush(); err != nil {
					return fmt.Errorf("flush: %w", err)
				}
			}
			a, ok = <-sv.out
		}
		if !ok { // the loader is done: the client closed, broke the stream, or we failed
			switch {
			case sv.loadErr != nil:
				if errors.Is(sv.loadErr, errServeBusy) {
					sv.e.writeErrorOn(w, sv.s, wire.CodeBusy, "out of memory")
				}
				return sv.loadErr
			case sv.readErr == nil || errors.Is(sv.readErr, io.EOF):
				sv.s.SetWriteDeadline(time.Now().Add(sv.e.cfg.WriteTimeout))
				return w.Flush()
			case errors.Is(sv.readErr, errServeBusy):
				sv.e.writeErrorOn(w, sv.s, wire.CodeBusy, "out of memory")
			case errors.Is(sv.readErr, wire.ErrMalformed):
				sv.e.writeErrorOn(w, sv.s, wire.CodeProtocol, "malformed message")
			}
			return fmt.Errorf("read: %w", sv.readErr)
		}
		sv.s.SetWriteDeadline(time.Now().Add(sv.e.cfg.WriteTimeout))
		err := w.Write(a.m)
		if a.size > 0 {
			scope.ReleaseMemory(a.size)
		}
		// The writer copied what it keeps of the data (into its buffer,
		// or the muxer's frames).
		sv.e.blockBufs.Put(a.buf)
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		sv.e.met.blockServed(a.size)
	}
}

// writeErrorOn sends an Error frame on w, best effort.
func (e *Exchange) writeErrorOn(w *wire.Writer, s network.Stream, code uint64, msg string) {
	s.SetWriteDeadline(time.Now().Add(e.cfg.WriteTimeout))
	if w.Write(&wire.Error{Code: code, Msg: msg}) == nil {
		w.Flush()
	}
}

// servePacer is a token bucket holding an eighth of a second's bytes: it
// spaces sends so that the bytes passed to wait flow at rate bytes per
// second.
type servePacer struct {
	rate float64

	mu   sync.Mutex
	next time.Time
}

// wait blocks until n more bytes may be sent.
func (p *servePacer) wait(ctx context.Context, n int) error {
	p.mu.Lock()
	now := time.Now()
	// A burst of an eighth of a second's bytes makes up for short idle
	// gaps, as a token bucket's depth does.
	if floor := now.Add(-time.Second / 8); p.next.Before(floor) {
		p.next = floor
	}
	d := p.next.Sub(now)
	p.next = p.next.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	p.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
