package simnet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/enxame/enxame/dht"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
)

// Lookup is the outcome of one DHT lookup.
type Lookup struct {
	OK bool
	// Hops is the length of the referral chain that reached the answer:
	// 1 when a peer from the source's own routing table answered, 2 when
	// a peer one of those named answered, and so on; 0 when the answer
	// was local (already connected, or a record held locally).
	Hops int
	// Queried is how many distinct peers were sent a query.
	Queried int
	// Took is the lookup's latency in (virtual) time: until the peer's
	// addresses, or until the first provider.
	Took time.Duration
	Err  error
}

// hopTracker follows a lookup's query events and knows each queried
// peer's depth in the referral tree.
type hopTracker struct {
	mu       sync.Mutex
	depth    map[peer.ID]int
	queried  map[peer.ID]bool
	maxDepth int
	target   peer.ID
	found    int // depth of the first peer that returned target; -1 none
}

func newHopTracker(target peer.ID) *hopTracker {
	return &hopTracker{depth: map[peer.ID]int{}, queried: map[peer.ID]bool{}, target: target, found: -1}
}

func (t *hopTracker) consume(events <-chan *routing.QueryEvent) {
	for ev := range events {
		t.mu.Lock()
		switch ev.Type {
		case routing.SendingQuery:
			d, ok := t.depth[ev.ID]
			if !ok {
				d = 1 // seeded from the source's own table
				t.depth[ev.ID] = d
			}
			t.queried[ev.ID] = true
			t.maxDepth = max(t.maxDepth, d)
		case routing.PeerResponse:
			d := max(t.depth[ev.ID], 1)
			for _, r := range ev.Responses {
				if _, ok := t.depth[r.ID]; !ok {
					t.depth[r.ID] = d + 1
				}
				if r.ID == t.target && t.target != "" && t.found < 0 {
					t.found = d
				}
			}
		}
		t.mu.Unlock()
	}
}

func (t *hopTracker) snapshot() (hops, queried int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hops = t.maxDepth
	if t.found >= 0 {
		hops = t.found
	}
	return hops, len(t.queried)
}

// FindPeer looks target up from src's DHT (kad-dht's own lookup). Like
// dht.Router.FindPeer, it ends the lookup as soon as src is connected to
// target instead of waiting on queries still in flight (a silent peer
// among them would hold it for a whole request timeout).
func FindPeer(ctx context.Context, src *Peer, target peer.ID) Lookup {
	var wg sync.WaitGroup
	lctx, cancel, err := dht.UntilConnected(ctx, src.host, target)
	if err != nil {
		return Lookup{Err: fmt.Errorf("find peer %s: %w", target, err)}
	}
	defer cancel()
	qctx, events := routing.RegisterForQueryEvents(lctx)
	tr := newHopTracker(target)
	wg.Go(func() { tr.consume(events) })
	start := time.Now()
	ai, err := src.Router().Kad().FindPeer(qctx, target)
	took := time.Since(start)
	cancel()
	wg.Wait()
	reached := src.host.Network().Connectedness(target) == network.Connected
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() == nil && reached {
		// Cancelled by us once connected: the lookup found the peer.
		ai, err = src.host.Peerstore().PeerInfo(target), nil
	}
	hops, queried := tr.snapshot()
	l := Lookup{Hops: hops, Queried: queried, Took: took, Err: err}
	if queried == 0 {
		l.Hops = 0
	}
	// kad-dht returns a peer it reached but whose listen addresses
	// identify has not reported yet with no addresses (dht.Router.FindPeer
	// waits for them); the lookup found it all the same.
	l.OK = err == nil && ai.ID == target && (len(ai.Addrs) > 0 || reached)
	if err == nil && !l.OK {
		l.Err = fmt.Errorf("find peer %s: no addresses", target)
	}
	return l
}

// FindProvider looks up providers of c from src's DHT and stops at the
// first one; want, when not empty, must contain it.
func FindProvider(ctx context.Context, src *Peer, c cid.Cid, want map[peer.ID]bool) Lookup {
	qctx, cancel := context.WithCancel(ctx)
	qctx, events := routing.RegisterForQueryEvents(qctx)
	tr := newHopTracker("")
	var wg sync.WaitGroup
	wg.Go(func() { tr.consume(events) })
	start := time.Now()
	var l Lookup
	for ai := range src.Router().Kad().FindProvidersAsync(qctx, c, 1) {
		if len(want) == 0 || want[ai.ID] {
			l.OK = true
			l.Took = time.Since(start)
			break
		}
	}
	if !l.OK {
		l.Took = time.Since(start)
		l.Err = fmt.Errorf("find providers of %s: none found", c)
		if ctx.Err() != nil {
			l.Err = fmt.Errorf("find providers of %s: %w", c, ctx.Err())
		}
	}
	l.Hops, l.Queried = tr.snapshot()
	cancel()
	wg.Wait()
	if l.Queried == 0 {
		l.Hops = 0
	}
	return l
}
