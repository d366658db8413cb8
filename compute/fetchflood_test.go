package compute

import (
	"bufio"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/compute/wire"
	"github.com/enxame/enxame/internal/waittest"
)

// TestWorkerFetchFlood: a peer flooding run requests that name modules
// nobody has keeps its share of the worker's units waiting on their
// fetches, and another submitter's job still completes. The worker used to
// count units still fetching in its bids' QueueLen, which submitters take
// from FreeSlots: a worker with both slots free looked full to everyone
// else for as long as the flood went on (issue 11).
func TestWorkerFetchFlood(t *testing.T) {
	sw := newSwarm()
	sw.content.blockMissing = true
	w := sw.startWorker(t, WorkerConfig{Slots: 2}, nil)
	flooder := client{h: newHost(t)}
	connect(t, flooder, w)
	mod := sw.hostileModule(t)

	ctx, cancel := context.WithCancel(t.Context())
	var (
		mu       sync.Mutex
		accepted int
		busy     int
		wg       sync.WaitGroup
	)
	defer func() { cancel(); wg.Wait() }()
	for i := range 8 {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				s, err := flooder.h.NewStream(ctx, w.h.ID(), ProtocolID)
				if err != nil {
					return
				}
				context.AfterFunc(ctx, func() { s.Reset() })
				r := bufio.NewReader(s)
				missing := rawCID([]byte{byte(i), byte(n), byte(n >> 8), byte(n >> 16)})
				wire.WriteMsg(s, &wire.RunUnit{Job: "flood", Unit: uint32(i*100000 + n), Module: missing, Limits: wire.Limits{WallTime: time.Second}})
				for {
					m, err := wire.ReadMsg(r)
					if err != nil {
						break
					}
					mu.Lock()
					switch m := m.(type) {
					case *wire.Accepted:
						accepted++
					case *wire.Rejected:
						if m.Reason == wire.RejectBusy {
							busy++
						}
					}
					mu.Unlock()
				}
				s.Reset()
			}
		})
	}
	waittest.For(t, "the flooder to fill its share with fetches", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return accepted >= 2 && busy > 10
	})

	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	start := time.Now()
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Args: []string{"ok"}})
	if err != nil {
		t.Fatal(err)
	}
	// Generous: the job takes well under a second; only a worker that
	// looks full for good misses it.
	info := sub.wait(t, id, 60*time.Second)
	took := time.Since(start)
	mu.Lock()
	t.Logf("good job beside a fetch flood: %s in %v (flooder: %d accepted, %d busy); worker %+v",
		info.State, took.Round(time.Millisecond), accepted, busy, w.w.Stats())
	mu.Unlock()
	if info.State != JobDone {
		t.Fatalf("job of the other submitter: %s %s", info.State, info.Error)
	}
	if got := string(sw.content.bytes(t, info.Output())); got != "ok\n" {
		t.Errorf("good job output %q, want %q", got, "ok\n")
	}
}
