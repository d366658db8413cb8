package dht

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	kaddht "github.com/libp2p/go-libp2p-kad-dht"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/routing"
)

// ErrNotFound is returned by FindPeer when the lookup ends without finding
// the peer.
var ErrNotFound = errors.New("dht: not found")

// ErrNoPeers is returned (wrapped) by Provide when the routing table is
// empty, so there is nobody to announce to yet. The record is kept
// locally; retry once the node has joined (TableSize > 0).
var ErrNoPeers = errors.New("dht: no peers in the routing table")

// Deps are a Router's collaborators.
type Deps struct {
	// Host is the libp2p host the DHT runs on. Required.
	Host host.Host
	// Datastore keeps provider records and values. Nil means in memory.
	Datastore ds.Batching
	// Logger receives the router's logs. Nil discards them.
	Logger *slog.Logger
	// Options are extra kad-dht options appended after enxame's own (for
	// simnet, e.g. a custom message sender, which replaces enxame's: then
	// RequestTimeout and muting no longer apply). Nil means none.
	Options []kaddht.Option
}

// Router is enxame's DHT: kad-dht plus bootstrap with retry and a view of
// the routing table. Its methods are safe for concurrent use.
type Router struct {
	cfg  Config
	h    host.Host
	kad  *kaddht.IpfsDHT
	log  *slog.Logger
	boot []peer.AddrInfo

	snd *sender

	mu    sync.Mutex
	state map[peer.ID]*bootState
}

type bootState struct {
	attempts  int
	lastErr   error
	lastTry   time.Time
	nextTry   time.Time
	connected bool // at the last attempt
}

// New builds the DHT on deps.Host. It does not contact any peer: Run does.
func New(cfg Config, deps Deps) (*Router, error) {
	if deps.Host == nil {
		return nil, errors.New("dht: deps: Host is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	boot, err := ParseBootstrap(cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "dht")

	mode := kaddht.ModeServer
	switch cfg.Mode {
	case ModeClient:
		mode = kaddht.ModeClient
	case ModeAuto:
		mode = kaddht.ModeAutoServer
	}
	snd := newSender(deps.Host, cfg.RequestTimeout, newMute(cfg.MuteMin, cfg.MuteMax, muteLimit))
	opts := []kaddht.Option{
		kaddht.WithCustomMessageSender(snd.build),
		kaddht.ProtocolPrefix(protocol.ID(cfg.ProtocolPrefix)),
		kaddht.Mode(mode),
		kaddht.BucketSize(cfg.BucketSize),
		kaddht.Concurrency(cfg.Concurrency),
		kaddht.RoutingTableRefreshPeriod(cfg.RefreshInterval),
	}
	if len(boot) > 0 {
		opts = append(opts, kaddht.BootstrapPeers(boot...))
	}
	provDS := deps.Datastore
	if deps.Datastore != nil {
		opts = append(opts, kaddht.Datastore(deps.Datastore))
	} else {
		provDS = dssync.MutexWrap(ds.NewMapDatastore())
	}
	// Provider records go through a datastore that caps them per peer and
	// per key (issue 11): one peer announcing without end fills nothing.
	pc, err := newProvCap(context.Background(), provDS, cfg.MaxProviderRecordsPerPeer, cfg.MaxProvidersPerKey)
	if err != nil {
		return nil, fmt.Errorf("dht: %w", err)
	}
	opts = append(opts, kaddht.ProviderDatastore(pc))
	if !cfg.DisableDiversityFilter {
		opts = append(opts, kaddht.RoutingTablePeerDiversityFilter(
			kaddht.NewRTPeerDiversityFilter(deps.Host, cfg.DiversityMaxPerCPL, cfg.DiversityMaxPerTable)))
	}
	opts = append(opts, deps.Options...)
	kad, err := kaddht.New(deps.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("dht: start kad-dht: %w", err)
	}
	r := &Router{
		cfg:   cfg,
		h:     deps.Host,
		kad:   kad,
		log:   log,
		boot:  boot,
		snd:   snd,
		state: make(map[peer.ID]*bootState, len(boot)),
	}
	// kad-dht drops a peer whose query fails from its table, but not one
	// that misses a liveness ping's or a provide's request: do it here.
	snd.setOnSilent(func(p peer.ID) {
		if kad.RoutingTable().Find(p) != "" {
			kad.RoutingTable().RemovePeer(p)
			log.Debug("silent peer dropped from the routing table", "peer", p)
		}
	})
	for _, ai := range boot {
		r.state[ai.ID] = &bootState{}
	}
	return r, nil
}

// ProtocolID is the Kademlia protocol this router speaks.
func (r *Router) ProtocolID() protocol.ID {
	return protocol.ID(r.cfg.ProtocolPrefix) + "/kad/1.0.0"
}

// Kad returns the underlying kad-dht, for code that builds hosts (node,
// simnet). Others use the Router's methods.
func (r *Router) Kad() *kaddht.IpfsDHT { return r.kad }

// Close stops the DHT. Call it after Run has returned.
func (r *Router) Close() error {
	if err := r.kad.Close(); err != nil {
		return fmt.Errorf("dht: close: %w", err)
	}
	return nil
}

// Run joins the swarm through the bootstrap peers and keeps the node joined:
// it dials each bootstrap peer, retries an unreachable one with exponential
// backoff (logging each failure), refreshes the routing table once the first
// bootstrap peer is in it, and dials bootstrap peers again whenever the host falls
// below MinPeers connections. It returns when ctx ends, after its dials
// have finished.
func (r *Router) Run(ctx context.Context) error {
	if len(r.boot) == 0 {
		<-ctx.Done()
		return nil
	}
	joined := false
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		ok := r.dialDue(ctx, time.Now())
		if ok > 0 && (!joined || r.kad.RoutingTable().Size() == 0) {
			// kad-dht adds a bootstrap peer to its table only once it has
			// answered a FIND_NODE check, a round trip after the dial. A
			// refresh started before that finds an empty table, fails at
			// once and is not retried, leaving the node known only to
			// its bootstrap peers: wait for the table first.
			if r.awaitTable(ctx, joinTableWait) {
				joined = true
				r.log.Info("joined swarm", "bootstrap_connected", ok)
				// The refresh runs inside kad-dht; its result arrives on
				// a buffered channel we need not wait for.
				r.kad.RefreshRoutingTable()
			} else if ctx.Err() == nil {
				r.log.Warn("bootstrap peers connected but none entered the routing table; will retry", "bootstrap_connected", ok, "waited", joinTableWait)
			}
		}
		timer.Reset(r.nextWake(time.Now()))
	}
}

// joinTableWait bounds how long Run waits, after connecting to a bootstrap
// peer, for kad-dht to add a peer to its routing table.
const joinTableWait = 10 * time.Second

// awaitTable waits until the routing table holds a peer, at most d. It
// reports whether it does.
func (r *Router) awaitTable(ctx context.Context, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for r.kad.RoutingTable().Size() == 0 {
		if !time.Now().Before(deadline) {
			return false
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
	return true
}

// dialDue dials, in parallel, every bootstrap peer that is due and returns
// how many of them succeeded.
func (r *Router) dialDue(ctx context.Context, now time.Time) int {
	below := len(r.h.Network().Peers()) < r.cfg.MinPeers
	var due []peer.AddrInfo
	r.mu.Lock()
	for _, ai := range r.boot {
		st := r.state[ai.ID]
		if r.h.Network().Connectedness(ai.ID) == network.Connected {
			st.connected = true
			continue
		}
		// A peer that once connected is dialled again only when we run
		// short of peers; a peer never reached is retried on its backoff.
		if st.nextTry.After(now) || (st.connected && !below) {
			continue
		}
		due = append(due, ai)
	}
	r.mu.Unlock()

	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for _, ai := range due {
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, r.cfg.DialTimeout)
			err := r.h.Connect(dctx, ai)
			cancel()
			if ctx.Err() != nil {
				return
			}
			r.mu.Lock()
			st := r.state[ai.ID]
			st.lastTry = now
			if err != nil {
				st.attempts++
				st.lastErr = err
				st.connected = false
				delay := Backoff(st.attempts, r.cfg.RetryMin, r.cfg.RetryMax, rand.Float64())
				st.nextTry = time.Now().Add(delay)
				r.mu.Unlock()
				r.log.Warn("bootstrap peer unreachable; will retry", "peer", ai.ID, "attempt", st.attempts, "retry_in", delay.Round(time.Millisecond), "err", err)
				return
			}
			st.attempts = 0
			st.lastErr = nil
			st.connected = true
			st.nextTry = time.Time{}
			r.mu.Unlock()
			r.log.Debug("bootstrap peer connected", "peer", ai.ID)
			mu.Lock()
			ok++
			mu.Unlock()
		})
	}
	wg.Wait()
	return ok
}

// nextWake is how long the bootstrap loop sleeps: until the earliest retry,
// and at most CheckInterval.
func (r *Router) nextWake(now time.Time) time.Duration {
	d := r.cfg.CheckInterval
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.state {
		if st.connected || st.nextTry.IsZero() {
			continue
		}
		if w := st.nextTry.Sub(now); w < d {
			d = max(w, 0)
		}
	}
	return d
}

// Backoff is the delay before retry number attempt (1 for the first retry):
// min·2^(attempt-1), capped at max, then scaled by a jitter factor in
// [0.8, 1.2) taken from u, a uniform number in [0, 1).
func Backoff(attempt int, min, max time.Duration, u float64) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*u))
	if d > max {
		d = max
	}
	return d
}

// BootstrapPeer is the state of one bootstrap peer.
type BootstrapPeer struct {
	ID        peer.ID   `json:"id"`
	Addrs     []string  `json:"addrs"`
	Connected bool      `json:"connected"`
	Attempts  int       `json:"failed_attempts"`
	LastError string    `json:"last_error,omitempty"`
	NextRetry time.Time `json:"next_retry,omitzero"`
}

// Bootstrap reports the state of every bootstrap peer, in configured order.
func (r *Router) Bootstrap() []BootstrapPeer {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]BootstrapPeer, 0, len(r.boot))
	for _, ai := range r.boot {
		st := r.state[ai.ID]
		bp := BootstrapPeer{
			ID:        ai.ID,
			Connected: r.h.Network().Connectedness(ai.ID) == network.Connected,
			Attempts:  st.attempts,
		}
		for _, a := range ai.Addrs {
			bp.Addrs = append(bp.Addrs, a.String())
		}
		if st.lastErr != nil && !bp.Connected {
			bp.LastError = st.lastErr.Error()
			bp.NextRetry = st.nextTry
		}
		out = append(out, bp)
	}
	return out
}

// FindResult is the outcome of FindPeer.
type FindResult struct {
	Peer    peer.AddrInfo
	Queried int           // distinct peers sent a query; 0 when already connected
	Took    time.Duration // wall time of the lookup
}

// findPeerAttempts is how many lookups FindPeer runs before it reports
// the peer not found.
const findPeerAttempts = 2

// FindPeer looks id up in the DHT and returns its addresses, how many peers
// were queried and how long it took. The lookup ends as soon as the host
// is connected to id, without waiting on queries still in flight. It
// returns ErrNotFound (wrapped) when findPeerAttempts lookups end without
// the peer: one lookup can miss a peer that is there when queries to the
// peers that know it time out or fail (a loaded machine, a peer that just
// joined), and the second starts from the closer peers the first met.
// A lookup that finds the routing table empty waits for it to refill from
// the connected peers (up to tableRefillWait, at most maxTableRefills
// times) and looks again without counting an attempt.
// Queried and Took cover every attempt.
func (r *Router) FindPeer(ctx context.Context, id peer.ID) (FindResult, error) {
	var total FindResult
	refills := 0
	for attempt := 1; ; {
		res, err := r.findPeerOnce(ctx, id)
		total.Peer = res.Peer
		total.Queried += res.Queried
		total.Took += res.Took
		if errors.Is(err, kb.ErrLookupFailure) && refills < maxTableRefills && ctx.Err() == nil {
			// Failed queries (a loaded machine) can empty the table;
			// kad-dht refills it from the connected peers.
			refills++
			r.log.Debug("find peer: routing table empty, waiting for it to refill", "peer", id)
			if r.awaitTable(ctx, tableRefillWait) {
				continue
			}
		}
		if !errors.Is(err, ErrNotFound) || attempt == findPeerAttempts || ctx.Err() != nil {
			return total, err
		}
		attempt++
		r.log.Debug("find peer: not found, looking again", "peer", id, "queried", res.Queried)
	}
}

// maxTableRefills is how many times one FindPeer waits for an emptied
// routing table to refill; those lookups do not count as attempts.
const maxTableRefills = 3

// tableRefillWait bounds how long FindPeer waits for an emptied routing
// table to refill before its next lookup.
const tableRefillWait = 10 * time.Second

func (r *Router) findPeerOnce(ctx context.Context, id peer.ID) (FindResult, error) {
	// kad-dht stops a FindPeer lookup once connected to the target, but
	// only after its queries in flight end; cancel them at once instead.
	lctx, stopLookup, err := UntilConnected(ctx, r.h, id)
	if err != nil {
		return FindResult{}, fmt.Errorf("find peer %s: %w", id, err)
	}
	defer stopLookup()
	qctx, events := routing.RegisterForQueryEvents(lctx)
	var queried int
	var wg sync.WaitGroup
	wg.Go(func() {
		seen := map[peer.ID]struct{}{}
		for ev := range events {
			if ev.Type == routing.SendingQuery {
				seen[ev.ID] = struct{}{}
			}
		}
		queried = len(seen)
	})
	start := time.Now()
	ai, err := r.kad.FindPeer(qctx, id)
	if err == nil && len(ai.Addrs) == 0 {
		ai = r.awaitAddrs(ctx, id)
		if len(ai.Addrs) == 0 {
			// Connected no longer, or never told where it listens: a
			// peer without an address is not found (FindPeer looks
			// again).
			err = routing.ErrNotFound
		}
	}
	took := time.Since(start)
	stopLookup()
	wg.Wait()
	res := FindResult{Peer: ai, Queried: queried, Took: took}
	if errors.Is(err, routing.ErrNotFound) {
		return res, fmt.Errorf("find peer %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return res, fmt.Errorf("find peer %s: %w", id, err)
	}
	return res, nil
}

// UntilConnected returns a context that ends with ctx or as soon as h is
// connected to id, whichever comes first: a FindPeer lookup that has
// reached its target need not wait on queries still in flight (a silent
// peer among them would hold it for a whole request timeout). The returned
// stop ends the context and the goroutine that watches connections; call
// it when done.
func UntilConnected(ctx context.Context, h host.Host, id peer.ID) (context.Context, func(), error) {
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		return nil, nil, fmt.Errorf("subscribe to connections: %w", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer sub.Close()
		for {
			select {
			case <-cctx.Done():
				return
			case ev := <-sub.Out():
				e, ok := ev.(event.EvtPeerConnectednessChanged)
				if ok && e.Peer == id && (e.Connectedness == network.Connected || e.Connectedness == network.Limited) {
					cancel()
					return
				}
			}
		}
	}()
	return cctx, func() { cancel(); <-done }, nil
}

// identifyWait bounds how long FindPeer waits for a connected peer's
// identify exchange to report its listen addresses. Identify normally takes
// one round trip; on a starved machine it has taken over 3 s, and it ends
// on its own (completed or failed) well within this bound.
const identifyWait = 15 * time.Second

// awaitAddrs handles a peer we are connected to but whose listen addresses
// are not known yet (an inbound connection whose identify exchange is still
// running): it waits for identify to complete or fail, then falls back to
// the remote addresses of outbound connections, and failing those (identify
// failed on a loaded machine, or the connection closed meanwhile) to those
// of inbound ones: libp2p dials from its listening port (QUIC always, TCP
// with reuseport, its default), so where the peer reached us from is
// usually where it listens.
func (r *Router) awaitAddrs(ctx context.Context, id peer.ID) peer.AddrInfo {
	sub, err := r.h.EventBus().Subscribe([]any{
		new(event.EvtPeerIdentificationCompleted), new(event.EvtPeerIdentificationFailed)})
	if err == nil {
		defer sub.Close()
		timer := time.NewTimer(identifyWait)
		defer timer.Stop()
	wait:
		for len(r.h.Peerstore().Addrs(id)) == 0 && r.h.Network().Connectedness(id) == network.Connected {
			select {
			case ev := <-sub.Out():
				switch e := ev.(type) {
				case event.EvtPeerIdentificationCompleted:
					if e.Peer == id {
						break wait
					}
				case event.EvtPeerIdentificationFailed:
					if e.Peer == id {
						break wait
					}
				}
			case <-timer.C:
				break wait
			case <-ctx.Done():
				break wait
			}
		}
	}
	ai := r.h.Peerstore().PeerInfo(id)
	if len(ai.Addrs) > 0 {
		return ai
	}
	conns := r.h.Network().ConnsToPeer(id)
	for _, c := range conns {
		if c.Stat().Direction == network.DirOutbound {
			ai.Addrs = append(ai.Addrs, c.RemoteMultiaddr())
		}
	}
	if len(ai.Addrs) == 0 {
		for _, c := range conns {
			ai.Addrs = append(ai.Addrs, c.RemoteMultiaddr())
		}
	}
	if len(ai.Addrs) == 0 {
		r.log.Debug("find peer: connected, but no address known", "peer", id)
	}
	return ai
}

// ProvideResult is the outcome of one announcement.
type ProvideResult struct {
	Closest int  // closest peers the lookup found
	Stored  int  // of those, peers the record was sent to
	Partial bool // the lookup was cut short by LookupTimeout or ctx
}

// Provide announces that this node holds c: it records itself as a
// provider locally, looks up the peers closest to c (for at most
// LookupTimeout, or until shortly before ctx's deadline) and sends the
// record to every peer the lookup found; a lookup cut short still
// announces to the closest peers found so far. It returns ErrNoPeers
// (wrapped) when the routing table is empty, and an error when the record
// reached no peer. Silent peers cost at most RequestTimeout each.
func (r *Router) Provide(ctx context.Context, c cid.Cid) error {
	_, err := r.ProvideStats(ctx, c)
	return err
}

// ProvideStats is Provide, reporting how far the announcement got.
func (r *Router) ProvideStats(ctx context.Context, c cid.Cid) (ProvideResult, error) {
	var res ProvideResult
	if !c.Defined() {
		return res, errors.New("provide: undefined cid")
	}
	key := c.Hash()
	if err := r.kad.ProviderStore().AddProvider(ctx, key, peer.AddrInfo{ID: r.h.ID()}); err != nil {
		return res, fmt.Errorf("provide %s: record locally: %w", c, err)
	}
	if r.kad.RoutingTable().Size() == 0 {
		return res, fmt.Errorf("provide %s: %w", c, ErrNoPeers)
	}
	lctx, cancel := context.WithTimeout(ctx, r.cfg.LookupTimeout)
	defer cancel()
	if d, ok := ctx.Deadline(); ok {
		// Keep a tenth of what is left, at most 1s, to store the record.
		reserve := min(time.Until(d)/10, time.Second)
		var c2 context.CancelFunc
		lctx, c2 = context.WithDeadline(lctx, d.Add(-reserve))
		defer c2()
	}
	peers, err := r.kad.GetClosestPeers(lctx, string(key))
	cancel()
	switch {
	case errors.Is(err, kb.ErrLookupFailure):
		return res, fmt.Errorf("provide %s: %w", c, ErrNoPeers)
	case err != nil && lctx.Err() != nil && ctx.Err() == nil:
		res.Partial = true // our own bound: announce to what we found
	case err != nil:
		return res, fmt.Errorf("provide %s: find closest peers: %w", c, err)
	}
	res.Closest = len(peers)
	if len(peers) == 0 {
		return res, fmt.Errorf("provide %s: lookup found no peers: %w", c, ErrNoPeers)
	}
	pm, err := pb.NewProtocolMessenger(r.kad.MessageSender())
	if err != nil {
		return res, fmt.Errorf("provide %s: %w", c, err)
	}
	self := peer.AddrInfo{ID: r.h.ID(), Addrs: r.kad.FilteredAddrs()}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() {
			err := pm.PutProviderAddrs(ctx, p, key, self)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			res.Stored++
		})
	}
	wg.Wait()
	r.log.Debug("provided", "cid", c, "closest", res.Closest, "stored", res.Stored, "partial", res.Partial)
	if res.Stored == 0 {
		return res, fmt.Errorf("provide %s: no peer took the record: %w", c, errors.Join(errs...))
	}
	return res, nil
}

// FindProviders streams up to count providers of c (0: no limit) on the
// returned channel, which is closed when the lookup ends or ctx ends.
func (r *Router) FindProviders(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo {
	return r.kad.FindProvidersAsync(ctx, c, count)
}

// TablePeer is one routing-table entry.
type TablePeer struct {
	ID         peer.ID   `json:"id"`
	AddedAt    time.Time `json:"added_at"`
	LastUseful time.Time `json:"last_useful,omitzero"`
	Connected  bool      `json:"connected"`
}

// Bucket is the routing-table entries sharing CPL leading bits with us.
type Bucket struct {
	CPL   int         `json:"cpl"`
	Peers []TablePeer `json:"peers"`
}

// Table returns the non-empty buckets of the routing table, by CPL, peers
// sorted by ID.
func (r *Router) Table() []Bucket {
	self := kb.ConvertPeerID(r.h.ID())
	byCPL := map[int][]TablePeer{}
	for _, pi := range r.kad.RoutingTable().GetPeerInfos() {
		cpl := kb.CommonPrefixLen(self, kb.ConvertPeerID(pi.Id))
		byCPL[cpl] = append(byCPL[cpl], TablePeer{
			ID:         pi.Id,
			AddedAt:    pi.AddedAt,
			LastUseful: pi.LastUsefulAt,
			Connected:  r.h.Network().Connectedness(pi.Id) == network.Connected,
		})
	}
	out := make([]Bucket, 0, len(byCPL))
	for cpl, ps := range byCPL {
		slices.SortFunc(ps, func(a, b TablePeer) int { return cmp.Compare(a.ID, b.ID) })
		out = append(out, Bucket{CPL: cpl, Peers: ps})
	}
	slices.SortFunc(out, func(a, b Bucket) int { return a.CPL - b.CPL })
	return out
}

// TableSize is the number of peers in the routing table.
func (r *Router) TableSize() int { return r.kad.RoutingTable().Size() }

// Mode is the DHT's current mode: "server" when it answers queries (its
// protocol handler is registered on the host), else "client".
func (r *Router) Mode() string {
	if slices.Contains(r.h.Mux().Protocols(), r.ProtocolID()) {
		return ModeServer
	}
	return ModeClient
}
