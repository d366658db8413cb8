package share

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enxame/enxame/share/plan"
	"github.com/enxame/enxame/share/wire"
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/verifcid"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multihash"
)

// ErrNoProviders is returned (wrapped) by Fetch when some blocks of the DAG
// have no provider and none turned up within NoProvidersTimeout.
var ErrNoProviders = errors.New("share: no providers")

// ErrTooLarge is wrapped by a fetch or a write whose DAG passes a size cap
// (FetchOptions.MaxBytes) or the space left on the destination.
var ErrTooLarge = errors.New("share: too large")

// FetchVerifyError is the error a fetch records against a provider whose
// block did not match its CID; Fetch itself does not return it.
type FetchVerifyError struct {
	Key cid.Cid
}

func (e *FetchVerifyError) Error() string {
	return fmt.Sprintf("block does not match its cid %s", e.Key)
}

// FetchOptions are the per-call options of Fetch.
type FetchOptions struct {
	// Progress, if not nil, is called with a snapshot of the fetch's progress
	// at most every ExchangeConfig.ProgressInterval, and once more when the
	// fetch ends (Done set). It is called from the fetch's own goroutine
	// and must not block.
	Progress func(Progress)
	// NoProvidersTimeout overrides ExchangeConfig.NoProvidersTimeout when
	// not zero.
	NoProvidersTimeout time.Duration
	// Providers are tried first, in addition to those the finder returns
	// and the connected peers that have the root.
	Providers []peer.AddrInfo
	// MaxBytes, when not zero, caps the DAG's size in bytes: the fetch fails
	// with an error wrapping ErrTooLarge as soon as the root's declared size
	// (its UnixFS file size, or its links' sizes) or the bytes of verified
	// blocks this fetch received pass it, before more is fetched or stored.
	MaxBytes int64
	// NoShare keeps a Service from sharing the fetched DAG back
	// (ServiceConfig.Provide): enxame get --no-share. The exchange itself
	// ignores it.
	NoShare bool
}

// Progress is a snapshot of a fetch.
type Progress struct {
	Root cid.Cid
	// BytesDone counts the DAG's bytes (blocks) present: fetched by this
	// fetch or already stored. BytesTotal is the DAG's size in bytes,
	// 0 until the root's UnixFS sizes are known.
	BytesDone, BytesTotal int64
	// BytesFetched counts the bytes of verified blocks received by this
	// fetch, BlocksFetched those blocks.
	BytesFetched  int64
	BlocksFetched int
	// Rate is BytesFetched over Elapsed, in bytes per second.
	Rate    float64
	Elapsed time.Duration
	// Providers lists the providers of the fetch, sorted by peer ID.
	Providers []FetchProvider
	// Done is set in the last report of a successful fetch.
	Done bool
}

// FetchProvider describes one provider in a Progress.
type FetchProvider struct {
	Peer peer.ID
	// State is "active", "left" or "dropped".
	State string
	// Bytes are the bytes this provider delivered first; Share is Bytes over
	// Progress.BytesFetched.
	Bytes int64
	Share float64
	// Rate is the provider's measured throughput in bytes per second.
	Rate float64
}

// Fetch fetches the whole DAG under root into the blockstore from several
// providers at once: those of opts.Providers, those the finder returns and
// the connected peers that answer that they have root. Every block is
// verified against its CID before it is stored; a provider that sends a
// block that does not match, an unrequested block or a malformed message
// is dropped from the fetch and scored down (gated after repeated
// offences). Blocks already in the blockstore are not fetched again, but
// are walked for their links. Fetch returns nil once every block is
// stored, an error wrapping ErrNoProviders when blocks have had no provider
// for NoProvidersTimeout, or the error of the blockstore or ctx. It
// returns only after every goroutine it started has ended. Fetch may be
// called concurrently, with or without Run.
func (e *Exchange) Fetch(ctx context.Context, root cid.Cid, opts FetchOptions) error {
	if !root.Defined() {
		return errors.New("share: fetch: undefined root")
	}
	if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, root); err != nil {
		return fmt.Errorf("share: fetch %s: %w", root, err)
	}
	pl, err := plan.New(e.cfg.Plan)
	if err != nil {
		return fmt.Errorf("share: fetch: %w", err)
	}
	stuckTimeout := e.cfg.NoProvidersTimeout
	if opts.NoProvidersTimeout > 0 {
		stuckTimeout = opts.NoProvidersTimeout
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &fetcher{
		e:            e,
		root:         root,
		opts:         opts,
		stuckTimeout: stuckTimeout,
		pl:           pl,
		events:       make(chan fetchEvent, 1024),
		verifyQ:      make(chan verifyJob, 2*e.cfg.VerifyWorkers),
		sessions:     make(map[peer.ID]*fetchSession),
		opening:      make(map[peer.ID]bool),
		offsets:      make(map[cid.Cid]uint64),
		seen:         walkSeen{},
		requery:      make(chan struct{}, 1),
		start:        time.Now(),
	}
	for range e.cfg.VerifyWorkers {
		f.wg.Go(func() { f.verifyLoop(ctx) })
	}
	err = f.run(ctx)
	for _, s := range f.sessions {
		if s.pending() {
			s.reset() // answers still owed: don't make the provider send them
		} else {
			s.close()
		}
	}
	cancel()
	f.wg.Wait()
	for _, r := range f.releases {
		r()
	}
	if err != nil {
		return fmt.Errorf("share: fetch %s: %w", root, err)
	}
	return nil
}

// fetcher is the state of one Fetch. Its fields are owned by the shell
// goroutine (run) unless noted.
type fetcher struct {
	e            *Exchange
	root         cid.Cid
	opts         FetchOptions
	stuckTimeout time.Duration
	pl           *plan.Planner
	wg           sync.WaitGroup // every goroutine of the fetch

	events  chan fetchEvent // to the shell, from all goroutines
	verifyQ chan verifyJob  // from fetchSession readers to verify workers
	requery chan struct{}   // to the finder goroutine

	sessions map[peer.ID]*fetchSession // joined or probing
	opening  map[peer.ID]bool          // connecting
	offsets  map[cid.Cid]uint64        // byte offset of each interior node
	seen     walkSeen                  // every key walked or handed to the planner
	releases []func()
	received atomic.Int64 // bytes of verified blocks, counted against MaxBytes

	start       time.Time
	total       int64 // DAG bytes, 0 until known
	localBytes  int64 // bytes found already stored
	localBlocks int
	wanted      int // keys handed to the planner
	joined      int // providers that ever joined
	stuckSince  time.Time
	lastFetched int
	lastQuery   time.Time // last provider lookup or re-probe of connected peers
	lastErrs    []peerErr // why recent providers could not be used, newest last
	finding     bool
	lastReport  time.Time
}

// fetchEvent is what the fetch's goroutines report to the shell.
type fetchEvent interface{}

type (
	// evBlock: a verified, stored block (err nil), or a block that failed
	// verification (err set).
	evBlock struct {
		sess  *fetchSession
		key   cid.Cid
		size  int
		at    time.Time
		links []fetchLink
		err   error
	}
	// evDontHave: the provider lacks key.
	evDontHave struct {
		sess *fetchSession
		key  cid.Cid
	}
	// evHave: the answer to a probe for the root.
	evHave struct {
		sess *fetchSession
		has  bool
	}
	// evOpened: a fetchSession is open (and probing if sess.probe).
	evOpened struct{ sess *fetchSession }
	// evOpenFailed: connecting to p or opening a stream failed.
	evOpenFailed struct {
		p   peer.ID
		err error
	}
	// evEnded: a fetchSession's stream ended; invalid when the provider broke
	// the protocol.
	evEnded struct {
		sess    *fetchSession
		err     error
		invalid bool
	}
	// evFound: a provider from the finder.
	evFound struct{ ai peer.AddrInfo }
	// evFindDone: a lookup ended.
	evFindDone struct{}
	// evFatal: the fetch cannot go on (the blockstore failed, or a block
	// that matches its CID is not a valid node).
	evFatal struct{ err error }
)

// send delivers ev to the shell unless the fetch is ending.
func (f *fetcher) send(ctx context.Context, ev fetchEvent) {
	select {
	case f.events <- ev:
	case <-ctx.Done():
	}
}

// run is the shell: it owns the planner, feeds it events and executes its
// actions until the DAG is complete or the fetch fails.
func (f *fetcher) run(ctx context.Context) error {
	log := f.e.log.With("root", f.root)
	if f.e.hold != nil {
		f.releases = append(f.releases, f.e.hold(f.root))
	}
	// The root, and everything below it already stored.
	if err := f.want(ctx, []fetchLink{{key: f.root}}, 0, true); err != nil {
		return err
	}
	if f.wanted == 0 {
		log.Debug("fetch: everything already stored", "bytes", f.localBytes)
		f.report(true)
		return nil
	}
	log.Debug("fetch start", "local_bytes", f.localBytes)
	for _, ai := range f.opts.Providers {
		f.open(ctx, ai, false)
	}
	f.probeConnected(ctx)
	f.find(ctx)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		done, err := f.act(ctx, f.pl.Next(now))
		if err != nil {
			return err
		}
		if done {
			log.Debug("fetch done", "bytes", f.pl.Stats().BytesReceived, "dur", time.Since(f.start))
			f.report(true)
			return nil
		}
		if err := f.checkStuck(ctx, now); err != nil {
			return err
		}
		if now.Sub(f.lastReport) >= f.e.cfg.ProgressInterval {
			f.report(false)
		}
		timer.Reset(f.nextWake(now).Sub(now))
		select {
		case ev := <-f.events:
			if err := f.handle(ctx, ev); err != nil {
				return err
			}
		drain:
			for range 256 {
				select {
				case ev := <-f.events:
					if err := f.handle(ctx, ev); err != nil {
						return err
					}
				default:
					break drain
				}
			}
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// nextWake returns when the shell must run without an event.
func (f *fetcher) nextWake(now time.Time) time.Time {
	wake := now.Add(f.e.cfg.ProgressInterval)
	if f.opts.Progress == nil {
		wake = now.Add(time.Second)
	}
	if t, ok := f.pl.Deadline(); ok && t.Before(wake) {
		wake = t
	}
	if !f.stuckSince.IsZero() {
		if t := f.stuckSince.Add(f.stuckTimeout); t.Before(wake) {
			wake = t
		}
		if t := f.lastQuery.Add(f.e.cfg.RequeryInterval); t.Before(wake) {
			wake = t
		}
	}
	if wake.Before(now) {
		wake = now
	}
	return wake
}

// act executes the planner's actions; it reports whether the fetch is done.
func (f *fetcher) act(ctx context.Context, actions []plan.Action) (bool, error) {
	for _, a := range actions {
		switch a := a.(type) {
		case plan.RequestBlocks:
			s := f.sessions[a.Peer]
			if s == nil {
				return false, fmt.Errorf("planner requested from %s, which has no fetchSession", a.Peer)
			}
			s.request(a.Keys, 0)
		case plan.CancelBlocks:
			f.e.log.Debug("fetch: cancel", "peer", a.Peer, "blocks", len(a.Keys), "root", f.root)
			if s := f.sessions[a.Peer]; s != nil {
				s.cancel(a.Keys)
			}
		case plan.DropPeer:
			f.e.log.Warn("fetch: provider dropped", "peer", a.Peer, "reason", a.Reason, "root", f.root)
			f.e.met.providerDropped()
			if s := f.sessions[a.Peer]; s != nil {
				s.reset()
				delete(f.sessions, a.Peer)
			}
		case plan.Done:
			return true, nil
		case plan.Stuck:
			if f.stuckSince.IsZero() {
				f.stuckSince = time.Now()
				f.lastFetched = f.pl.Stats().BlocksReceived
			}
			f.find(ctx)
		}
	}
	return false, nil
}

// checkStuck fails the fetch when blocks have had no provider, and the
// fetch no progress, for the timeout.
func (f *fetcher) checkStuck(ctx context.Context, now time.Time) error {
	if f.stuckSince.IsZero() || now.Sub(f.stuckSince) < f.stuckTimeout {
		if !f.stuckSince.IsZero() && now.Sub(f.lastQuery) >= f.e.cfg.RequeryInterval {
			// Look again: in the DHT, and among the connected peers (one
			// may have got the content since, or have refused a stream
			// a moment ago).
			f.lastQuery = now
			f.probeConnected(ctx)
			f.find(ctx)
		}
		return nil
	}
	st := f.pl.Stats()
	if st.Stuck == 0 {
		f.stuckSince = time.Time{}
		return nil
	}
	if st.BlocksReceived > f.lastFetched || len(f.opening) > 0 {
		f.stuckSince, f.lastFetched = now, st.BlocksReceived
		return nil
	}
	return fmt.Errorf("%d of %d blocks unavailable after %v (%d providers tried%s): %w",
		st.Stuck, st.BlocksWanted, f.stuckTimeout, f.joined, f.describeErrs(), ErrNoProviders)
}

// peerErr is why a provider could not be used.
type peerErr struct {
	peer peer.ID
	err  string
}

// maxLastErrs caps the provider errors a fetch remembers for its error
// message.
const maxLastErrs = 3

// noteErr remembers why p could not be used, replacing an older note of p.
func (f *fetcher) noteErr(p peer.ID, err error) {
	f.lastErrs = slices.DeleteFunc(f.lastErrs, func(e peerErr) bool { return e.peer == p })
	f.lastErrs = append(f.lastErrs, peerErr{p, err.Error()})
	if len(f.lastErrs) > maxLastErrs {
		f.lastErrs = f.lastErrs[len(f.lastErrs)-maxLastErrs:]
	}
}

// describeErrs formats the remembered provider errors for an error message.
func (f *fetcher) describeErrs() string {
	if len(f.lastErrs) == 0 {
		return ""
	}
	parts := make([]string, len(f.lastErrs))
	for i, e := range f.lastErrs {
		parts[i] = fmt.Sprintf("%s: %s", e.peer, e.err)
	}
	return "; last errors: " + strings.Join(parts, "; ")
}

// handle feeds one event to the planner.
func (f *fetcher) handle(ctx context.Context, ev fetchEvent) error {
	switch ev := ev.(type) {
	case evBlock:
		if f.sessions[ev.sess.peer] != ev.sess || !ev.sess.joined {
			return nil // dropped meanwhile: report nothing more of it
		}
		if ev.err != nil {
			return f.invalid(ev.sess, ev.key, ev.err)
		}
		if err := f.pl.Observe(plan.BlockReceived{Peer: ev.sess.peer, Key: ev.key, Bytes: int64(ev.size), At: ev.at}); err != nil {
			return fmt.Errorf("planner: %w", err)
		}
		if ev.key.Equals(f.root) {
			f.setTotal(int64(ev.size), ev.links)
			if err := f.checkRoot(ctx); err != nil {
				return err
			}
		}
		if len(ev.links) > 0 {
			return f.want(ctx, ev.links, f.offsets[ev.key], false)
		}
	case evDontHave:
		if f.sessions[ev.sess.peer] != ev.sess || !ev.sess.joined {
			return nil
		}
		err := fmt.Errorf("%s: %w", ev.key, plan.ErrNotFound)
		if e := f.pl.Observe(plan.BlockFailed{Peer: ev.sess.peer, Key: ev.key, Err: err}); e != nil {
			return fmt.Errorf("planner: %w", e)
		}
	case evHave:
		if f.sessions[ev.sess.peer] != ev.sess {
			return nil
		}
		if !ev.has {
			ev.sess.close()
			delete(f.sessions, ev.sess.peer)
			return nil
		}
		return f.join(ev.sess)
	case evOpened:
		p := ev.sess.peer
		delete(f.opening, p)
		if f.sessions[p] != nil || f.e.scores.gated(p, time.Now()) || f.dropped(p) {
			ev.sess.close()
			return nil
		}
		f.sessions[p] = ev.sess
		if !ev.sess.probe {
			return f.join(ev.sess)
		}
	case evOpenFailed:
		delete(f.opening, ev.p)
		f.noteErr(ev.p, ev.err)
		f.e.log.Debug("fetch: provider unreachable", "peer", ev.p, "err", ev.err)
	case evEnded:
		s := ev.sess
		if f.sessions[s.peer] != s {
			return nil
		}
		if ev.invalid && s.joined {
			return f.invalid(s, cid.Undef, ev.err)
		}
		f.e.log.Debug("fetch: provider left", "peer", s.peer, "err", ev.err)
		if ev.err != nil {
			f.noteErr(s.peer, ev.err)
		}
		delete(f.sessions, s.peer)
		s.reset()
		if s.joined {
			if err := f.pl.Observe(plan.ProviderLeft{Peer: s.peer}); err != nil {
				return fmt.Errorf("planner: %w", err)
			}
		}
		if ev.invalid {
			f.e.offend(s.peer, ev.err.Error())
		}
	case evFound:
		f.open(ctx, ev.ai, false)
	case evFindDone:
		f.finding = false
	case evFatal:
		return ev.err
	default:
		panic(fmt.Sprintf("share: fetch: unknown event %T", ev))
	}
	return nil
}

// dropped reports whether the planner dropped p.
func (f *fetcher) dropped(p peer.ID) bool {
	for _, ps := range f.pl.Stats().Providers {
		if ps.Peer == p {
			return ps.State == plan.StateDropped
		}
	}
	return false
}

// invalid reports a provider's misbehaviour to the planner (which drops it)
// and to the score table, and ends its session at once: the events of the
// session still queued (more bad blocks of the same burst, verified before
// the planner's DropPeer is acted on) are then ignored, so that one drop
// counts one offence.
func (f *fetcher) invalid(s *fetchSession, key cid.Cid, err error) error {
	f.e.offend(s.peer, err.Error())
	s.reset()
	delete(f.sessions, s.peer)
	if e := f.pl.Observe(plan.BlockInvalid{Peer: s.peer, Key: key, Err: err}); e != nil {
		return fmt.Errorf("planner: %w", e)
	}
	return nil
}

func (f *fetcher) join(s *fetchSession) error {
	s.joined = true
	f.joined++
	// A provider of the whole DAG unsticks the planner; if it becomes stuck
	// again, it says so again.
	f.stuckSince = time.Time{}
	f.e.log.Debug("fetch: provider joined", "peer", s.peer, "root", f.root)
	if err := f.pl.Observe(plan.ProviderJoined{Peer: s.peer, HasAll: true}); err != nil {
		return fmt.Errorf("planner: %w", err)
	}
	return nil
}

// setTotal records the DAG's size from the root block and its links.
func (f *fetcher) setTotal(rootSize int64, links []fetchLink) {
	t := rootSize
	for _, l := range links {
		t += int64(l.size)
	}
	f.total = t
}

// want hands the links of a node (at byte offset off) to the planner,
// walking those already stored instead. isRoot marks the root itself.
func (f *fetcher) want(ctx context.Context, links []fetchLink, off uint64, isRoot bool) error {
	type item struct {
		l      fetchLink
		off    uint64
		isRoot bool
	}
	stack := make([]item, 0, len(links))
	o := off
	for _, l := range links {
		stack = append(stack, item{l, o, isRoot})
		o += l.size
	}
	slices.Reverse(stack) // depth first, in order
	var held []cid.Cid
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		k := it.l.key
		// A DAG may link a block many times (a file of zeros, or a
		// hostile DAG whose levels all point at one node): each key is
		// handled once, so the walk stays linear in distinct blocks.
		if fresh, err := f.seen.visit(k); err != nil {
			return err
		} else if !fresh {
			continue
		}
		held = append(held, k)
		has, err := f.e.bs.Has(ctx, k)
		if err != nil {
			return fmt.Errorf("blockstore: has %s: %w", k, err)
		}
		if !has {
			ev := plan.WantAdded{Key: k, Order: it.off}
			if k.Type() == cid.DagProtobuf || it.isRoot {
				ev.Priority = 1
				f.offsets[k] = it.off
			} else {
				ev.Size = int64(it.l.size)
			}
			if err := f.pl.Observe(ev); err != nil {
				return fmt.Errorf("planner: %w", err)
			}
			f.wanted++
			continue
		}
		// Stored already: count it and walk its links.
		f.localBlocks++
		if k.Type() != cid.DagProtobuf {
			size := int64(it.l.size)
			if it.isRoot || size == 0 {
				n, err := f.e.bs.GetSize(ctx, k)
				if err != nil {
					return fmt.Errorf("blockstore: size of %s: %w", k, err)
				}
				size = int64(n)
			}
			f.localBytes += size
			if it.isRoot {
				f.total = size
				if err := f.checkRoot(ctx); err != nil {
					return err
				}
			}
			continue
		}
		blk, err := f.e.bs.Get(ctx, k)
		if err != nil {
			return fmt.Errorf("blockstore: get %s: %w", k, err)
		}
		sub, err := fetchLinks(k, blk.RawData())
		if err != nil {
			return err
		}
		f.localBytes += int64(len(blk.RawData()))
		if it.isRoot {
			f.setTotal(int64(len(blk.RawData())), sub)
			if err := f.checkRoot(ctx); err != nil {
				return err
			}
		}
		o := it.off
		first := len(stack)
		for _, l := range sub {
			stack = append(stack, item{l, o, false})
			o += l.size
		}
		slices.Reverse(stack[first:])
	}
	if f.e.hold != nil && len(held) > 0 {
		f.releases = append(f.releases, f.e.hold(held...))
	}
	return nil
}

// checkRoot fails the fetch (ErrTooLarge) when the stored root declares
// more than MaxBytes, before any of its links is fetched.
func (f *fetcher) checkRoot(ctx context.Context) error {
	if f.opts.MaxBytes <= 0 {
		return nil
	}
	blk, err := f.e.bs.Get(ctx, f.root)
	if err != nil {
		return fmt.Errorf("blockstore: get %s: %w", f.root, err)
	}
	if d := declaredSize(f.root, blk.RawData()); d > uint64(f.opts.MaxBytes) {
		return fmt.Errorf("root declares %s, over the cap of %s: %w", formatSize(d), formatSize(uint64(f.opts.MaxBytes)), ErrTooLarge)
	}
	return nil
}

// overCap counts n more verified bytes received and reports, as an error
// wrapping ErrTooLarge, when they pass MaxBytes. Safe for concurrent use.
func (f *fetcher) overCap(n int) error {
	if f.opts.MaxBytes <= 0 {
		return nil
	}
	if got := f.received.Add(int64(n)); got > f.opts.MaxBytes {
		return fmt.Errorf("received %s, over the cap of %s: %w", formatSize(uint64(got)), formatSize(uint64(f.opts.MaxBytes)), ErrTooLarge)
	}
	return nil
}

// declaredSize is the size the block of k declares for its DAG: the
// larger of its UnixFS file size and its own size plus its links' sizes.
func declaredSize(k cid.Cid, data []byte) uint64 {
	d := uint64(len(data))
	if k.Type() != cid.DagProtobuf {
		return d
	}
	nd, err := merkledag.DecodeProtobuf(data)
	if err != nil {
		return d
	}
	for _, l := range nd.Links() {
		d = satAdd(d, l.Size)
	}
	if fsn, err := ft.FSNodeFromBytes(nd.Data()); err == nil {
		d = max(d, fsn.FileSize())
	}
	return d
}

// report calls the progress callback.
func (f *fetcher) report(done bool) {
	f.lastReport = time.Now()
	if f.opts.Progress == nil {
		return
	}
	st := f.pl.Stats()
	el := time.Since(f.start)
	p := Progress{
		Root:          f.root,
		BytesDone:     f.localBytes + st.BytesReceived,
		BytesTotal:    f.total,
		BytesFetched:  st.BytesReceived,
		BlocksFetched: st.BlocksReceived,
		Elapsed:       el,
		Done:          done,
	}
	if el > 0 {
		p.Rate = float64(st.BytesReceived) / el.Seconds()
	}
	// A DAG can hold a block several times (a file of zeros): the total
	// counts each link, done counts each block once.
	if p.BytesTotal > 0 && (done || p.BytesDone > p.BytesTotal) {
		p.BytesDone = p.BytesTotal
	}
	for _, ps := range st.Providers {
		p.Providers = append(p.Providers, FetchProvider{
			Peer: ps.Peer, State: ps.State.String(), Bytes: ps.BytesReceived, Share: ps.Share, Rate: ps.Rate,
		})
	}
	f.opts.Progress(p)
}

// find starts a provider lookup unless one is running.
func (f *fetcher) find(ctx context.Context) {
	if f.e.finder == nil || f.finding {
		return
	}
	f.finding = true
	f.lastQuery = time.Now()
	f.wg.Go(func() {
		defer f.send(ctx, evFindDone{})
		ch := f.e.finder.FindProviders(ctx, f.root, f.e.cfg.FindProvidersCount)
		// Stop at the fetch's end without waiting for the lookup to
		// close ch: a DHT lookup waits for its outstanding queries,
		// which across a partition end only at their deadlines.
		for {
			select {
			case ai, ok := <-ch:
				if !ok {
					return
				}
				f.send(ctx, evFound{ai})
			case <-ctx.Done():
				return
			}
		}
	})
}

// probeConnected asks the connected peers whether they have the root.
func (f *fetcher) probeConnected(ctx context.Context) {
	peers := f.e.host.Network().Peers()
	n := 0
	for _, p := range peers {
		if n >= f.e.cfg.MaxProbePeers {
			break
		}
		if f.e.host.Network().Connectedness(p) != network.Connected {
			continue
		}
		if f.open(ctx, peer.AddrInfo{ID: p}, true) {
			n++
		}
	}
}

// open connects to a provider and opens a fetchSession in a goroutine; the
// result comes back as evOpened or evOpenFailed. It reports whether it
// started.
func (f *fetcher) open(ctx context.Context, ai peer.AddrInfo, probe bool) bool {
	p := ai.ID
	if p == "" || p == f.e.host.ID() || f.sessions[p] != nil || f.opening[p] || f.e.scores.gated(p, time.Now()) || f.dropped(p) {
		return false
	}
	f.opening[p] = true
	f.wg.Go(func() {
		s, err := f.connect(ctx, ai, probe)
		if err != nil {
			f.send(ctx, evOpenFailed{p, err})
			return
		}
		f.send(ctx, evOpened{s})
	})
	return true
}

func (f *fetcher) connect(ctx context.Context, ai peer.AddrInfo, probe bool) (*fetchSession, error) {
	cctx, cancel := context.WithTimeout(ctx, f.e.cfg.ConnectTimeout)
	defer cancel()
	h := f.e.host
	if h.Network().Connectedness(ai.ID) != network.Connected {
		if err := h.Connect(cctx, ai); err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
	}
	st, err := openExchangeStream(cctx, h, ai.ID)
	if err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	s := &fetchSession{
		f:      f,
		peer:   ai.ID,
		s:      st,
		probe:  probe,
		want:   make(map[cid.Cid]int),
		notify: make(chan struct{}, 1),
	}
	if probe {
		s.probeID = s.request([]cid.Cid{f.root}, wire.FlagHaveOnly)
	}
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	f.wg.Go(func() {
		defer stop()
		s.readLoop(ctx)
	})
	f.wg.Go(func() { s.writeLoop(ctx) })
	return s, nil
}

// verifyJob is a block received from a provider, to verify and store.
type verifyJob struct {
	sess *fetchSession
	key  cid.Cid
	data []byte
	at   time.Time
}

// verifyBatch caps the blocks a verify worker stores with one PutMany.
const verifyBatch = 16

// verifyLoop verifies blocks against their CIDs, stores the good ones and
// decodes their links, in parallel with the other workers. It takes what is
// queued, up to verifyBatch blocks, and stores them with one PutMany.
func (f *fetcher) verifyLoop(ctx context.Context) {
	jobs := make([]verifyJob, 0, verifyBatch)
	good := make([]blocks.Block, 0, verifyBatch)
	evs := make([]evBlock, 0, verifyBatch)
	for {
		jobs, good, evs = jobs[:0], good[:0], evs[:0]
		select {
		case j := <-f.verifyQ:
			jobs = append(jobs, j)
		case <-ctx.Done():
			return
		}
	more:
		for len(jobs) < verifyBatch {
			select {
			case j := <-f.verifyQ:
				jobs = append(jobs, j)
			default:
				break more
			}
		}
		for i, j := range jobs {
			if err := fetchVerify(j.key, j.data); err != nil {
				f.e.met.blockRejected()
				f.recycle(j.data)
				jobs[i].data = nil
				f.send(ctx, evBlock{sess: j.sess, key: j.key, err: err})
				continue
			}
			if err := f.overCap(len(j.data)); err != nil {
				f.send(ctx, evFatal{err}) // before the block is stored
				return
			}
			links, err := fetchLinks(j.key, j.data)
			if err != nil {
				// The bytes match the CID: the DAG itself is broken.
				f.send(ctx, evFatal{fmt.Errorf("block %s matches its cid but: %w", j.key, err)})
				return
			}
			blk, err := blocks.NewBlockWithCid(j.data, j.key)
			if err != nil {
				f.send(ctx, evFatal{fmt.Errorf("block %s: %w", j.key, err)})
				return
			}
			good = append(good, blk)
			f.e.met.blockVerified(len(j.data))
			evs = append(evs, evBlock{sess: j.sess, key: j.key, size: len(j.data), at: j.at, links: links})
		}
		if len(good) == 0 {
			continue
		}
		if err := f.e.bs.PutMany(ctx, good); err != nil {
			f.send(ctx, evFatal{fmt.Errorf("blockstore: put %d blocks: %w", len(good), err)})
			return
		}
		for _, j := range jobs {
			f.recycle(j.data) // stored: the blockstore copied it
		}
		for _, ev := range evs {
			f.send(ctx, ev)
		}
		clear(jobs[:cap(jobs)])
		clear(good[:cap(good)])
	}
}

// recycle hands the data buffer of a block back to the exchange's pool
// when its blockstore copies what it stores (ExchangeDeps.Blockstore is a
// *Store); the caller must not use data afterwards.
func (f *fetcher) recycle(data []byte) {
	if f.e.recycle {
		f.e.blockBufs.Put(data)
	}
}

// fetchVerify checks data against the multihash of k.
func fetchVerify(k cid.Cid, data []byte) error {
	pref := k.Prefix()
	if pref.MhType == multihash.SHA2_256 && pref.MhLength == sha256.Size {
		sum := sha256.Sum256(data)
		h := k.Hash()
		if !bytes.Equal(h[len(h)-sha256.Size:], sum[:]) {
			return &FetchVerifyError{Key: k}
		}
		return nil
	}
	got, err := pref.Sum(data)
	if err != nil {
		return fmt.Errorf("hash block %s: %w", k, err)
	}
	if !got.Equals(k) {
		return &FetchVerifyError{Key: k}
	}
	return nil
}

// fetchSession is one stream to one provider, for one fetch. Its reader and
// writer goroutines are owned by the fetch.
type fetchSession struct {
	f       *fetcher
	peer    peer.ID
	s       network.Stream
	probe   bool   // asked whether it has the root; joins on Have
	probeID uint64 // set before the fetchSession reaches the shell
	joined  bool   // shell only

	mu     sync.Mutex
	want   map[cid.Cid]int // requested keys not yet answered, cancelled or not
	outq   []wire.Msg
	nextID uint64
	closed bool
	notify chan struct{}
	// heard is set once a message came from the provider: the stream's
	// protocol negotiation (lazy, finished by the first read) is over.
	heard atomic.Bool
}

// request queues a request for keys and returns its ID.
func (s *fetchSession) request(keys []cid.Cid, flags byte) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var id uint64
	for len(keys) > 0 {
		n := min(len(keys), wire.MaxKeys)
		s.nextID++
		id = s.nextID
		if flags == 0 {
			for _, k := range keys[:n] {
				s.want[k]++
			}
		}
		s.outq = append(s.outq, &wire.Request{ID: id, Flags: flags, Keys: slices.Clone(keys[:n])})
		keys = keys[n:]
	}
	s.wake()
	return id
}

// cancel queues a cancel of keys; their blocks are still accepted if they
// arrive.
func (s *fetchSession) cancel(keys []cid.Cid) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(keys) > 0 {
		n := min(len(keys), wire.MaxKeys)
		s.outq = append(s.outq, &wire.Cancel{Keys: slices.Clone(keys[:n])})
		keys = keys[n:]
	}
	s.wake()
}

func (s *fetchSession) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// accept reports whether a block of k was requested and not yet answered,
// and counts the answer.
func (s *fetchSession) accept(k cid.Cid) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.want[k]
	if !ok {
		return false
	}
	if n <= 1 {
		delete(s.want, k)
	} else {
		s.want[k] = n - 1
	}
	return true
}

func (s *fetchSession) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.want) > 0 || len(s.outq) > 0
}

// close ends the fetchSession cleanly; reset ends it abruptly. Either makes its
// goroutines return, and neither waits on the provider: close resets a
// stream the provider has not answered on yet, whose Close would wait
// for the provider's half of the protocol negotiation (up to libp2p's
// negotiation timeout, per stream, when the provider is cut off).
func (s *fetchSession) close() {
	if !s.heard.Load() {
		s.reset()
		return
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wake()
	s.s.Close()
}

func (s *fetchSession) reset() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wake()
	s.s.Reset()
}

// writeLoop sends queued requests and cancels.
func (s *fetchSession) writeLoop(ctx context.Context) {
	w := wire.NewWriter(s.s)
	var batch []wire.Msg
	for {
		select {
		case <-s.notify:
		case <-ctx.Done():
			return
		}
		s.mu.Lock()
		batch, s.outq = s.outq, batch[:0]
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return
		}
		if len(batch) == 0 {
			continue
		}
		s.s.SetWriteDeadline(time.Now().Add(s.f.e.cfg.WriteTimeout))
		for _, m := range batch {
			if err := w.Write(m); err != nil {
				s.s.Reset() // the reader reports the end
				return
			}
		}
		if err := w.Flush(); err != nil {
			s.s.Reset()
			return
		}
		clear(batch)
	}
}

// readLoop reads the provider's answers, checks that each was requested,
// and hands blocks to the verify workers.
func (s *fetchSession) readLoop(ctx context.Context) {
	f := s.f
	r := wire.NewReader(s.s)
	if f.e.recycle {
		r = wire.NewPooledReader(s.s, &f.e.blockBufs)
	}
	end := func(err error, invalid bool) {
		f.send(ctx, evEnded{sess: s, err: err, invalid: invalid})
	}
	for {
		// A provider owes us answers: it must send something within the
		// idle timeout. Otherwise the deadline is long; the planner's
		// own stall timeout acts first in either case.
		d := f.e.cfg.IdleTimeout
		if !s.pending() {
			d = 10 * d
		}
		s.s.SetReadDeadline(time.Now().Add(d))
		m, err := r.Read()
		if err == nil {
			s.heard.Store(true)
		}
		if err != nil {
			if errors.Is(err, wire.ErrMalformed) {
				end(fmt.Errorf("malformed message: %w", err), true)
			} else {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				end(err, false)
			}
			return
		}
		switch m := m.(type) {
		case *wire.Block:
			if !s.accept(m.Key) {
				f.recycle(m.Data)
				end(fmt.Errorf("unrequested block %s: %w", m.Key, wire.ErrMalformed), true)
				return
			}
			select {
			case f.verifyQ <- verifyJob{sess: s, key: m.Key, data: m.Data, at: time.Now()}:
			case <-ctx.Done():
				return
			}
		case *wire.DontHave:
			if s.probe && m.ID == s.probeID {
				f.send(ctx, evHave{sess: s, has: false})
				continue
			}
			if !s.accept(m.Key) {
				end(fmt.Errorf("unrequested answer for %s: %w", m.Key, wire.ErrMalformed), true)
				return
			}
			f.send(ctx, evDontHave{sess: s, key: m.Key})
		case *wire.Have:
			if !s.probe || m.ID != s.probeID {
				end(fmt.Errorf("unrequested have for %s: %w", m.Key, wire.ErrMalformed), true)
				return
			}
			f.send(ctx, evHave{sess: s, has: true})
		case *wire.Error:
			end(fmt.Errorf("provider error %d: %s", m.Code, m.Msg), false)
			return
		default:
			end(fmt.Errorf("unexpected %T from provider: %w", m, wire.ErrMalformed), true)
			return
		}
	}
}
