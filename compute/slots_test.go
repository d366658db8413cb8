package compute

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/enxame/enxame/internal/waittest"
	"github.com/libp2p/go-libp2p/core/peer"
)

// bareWorker is a Worker with only its slot accounting, for tests of
// acquire and release.
func bareWorker(slots int) *Worker {
	return &Worker{
		cfg:       WorkerConfig{Slots: slots},
		runningBy: map[peer.ID]int{},
		heldBy:    map[peer.ID]int{},
		served:    map[peer.ID]uint64{},
	}
}

// TestWorkerSlotsFair pins the order in which waiting units get a freed
// slot: a peer that has just been served waits behind one that has not, so
// a peer with many queued units cannot starve another's single unit.
func TestWorkerSlotsFair(t *testing.T) {
	w := bareWorker(1)
	ctx := t.Context()
	if err := w.acquire(ctx, "flooder"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []peer.ID
	var wg sync.WaitGroup
	start := func(p peer.ID) {
		wg.Go(func() {
			if err := w.acquire(ctx, p); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, p)
			mu.Unlock()
			w.release(p)
		})
		waittest.For(t, "a waiter queued", func() bool {
			w.mu.Lock()
			defer w.mu.Unlock()
			for _, x := range w.waiting {
				if x.peer == p {
					return true
				}
			}
			return false
		})
	}
	// Hold the waiters until they are all queued: each releases at once
	// after being granted, so order is the grant order.
	for range 3 {
		start("flooder")
	}
	start("other")
	w.release("flooder")
	wg.Wait()
	want := []peer.ID{"other", "flooder", "flooder", "flooder"}
	if len(order) != len(want) || order[0] != "other" {
		t.Errorf("grant order %v, want %v", order, want)
	}
}

// TestWorkerSlotsHammer: P goroutines × N acquire/release cycles of several
// peers, some cancelled while waiting, never hold more than Slots at once
// and leave the accounting empty.
func TestWorkerSlotsHammer(t *testing.T) {
	const slots, P = 3, 8
	N := 500
	if testing.Short() {
		N = 100
	}
	w := bareWorker(slots)
	var holding, peak atomic.Int64
	var wg sync.WaitGroup
	for g := range P {
		wg.Go(func() {
			p := peer.ID(rune('a' + g%3))
			for i := range N {
				ctx, cancel := context.WithCancel(t.Context())
				if i%7 == 0 {
					cancel() // sometimes give up while waiting
				}
				if err := w.acquire(ctx, p); err != nil {
					cancel()
					continue
				}
				n := holding.Add(1)
				for {
					old := peak.Load()
					if n <= old || peak.CompareAndSwap(old, n) {
						break
					}
				}
				holding.Add(-1)
				w.release(p)
				cancel()
			}
		})
	}
	wg.Wait()
	if peak.Load() > slots {
		t.Errorf("%d units held slots at once, want at most %d", peak.Load(), slots)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running != 0 || len(w.runningBy) != 0 || len(w.waiting) != 0 {
		t.Errorf("after the hammer: running %d, by peer %v, waiting %d", w.running, w.runningBy, len(w.waiting))
	}
}
