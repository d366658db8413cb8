package share

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/waittest"
)

// exStartStorePeer runs an Exchange over a *Store with quota max, holding
// what its fetches want as node does, until cleanup.
func exStartStorePeer(t *testing.T, max int64, providers ...*exPeer) (*exPeer, *Store) {
	t.Helper()
	st := newTestStore(t, StoreConfig{MaxBytes: max, PackSize: 256 << 10})
	finder := &exFinder{}
	for _, p := range providers {
		finder.add(p.info())
	}
	h := exNewHost(t)
	ex, err := NewExchange(exTestConfig(), ExchangeDeps{Host: h, Blockstore: st, Finder: finder, Hold: st.Hold, Logger: exLogger(t)})
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
	return &exPeer{h: h, bs: st, ex: ex}, st
}

// TestFetchPastQuotaFails fetches a 3 MiB file into a store with a 1 MiB
// quota: the fetch holds what it fetched, so the automatic GC cannot make
// room and the fetch fails with ErrStoreFull without reporting done, the
// store stays under its quota, and the peer goes on fetching and serving.
// Issue 11, finding 2.
func TestFetchPastQuotaFails(t *testing.T) {
	exVerifyNoLeaks(t)
	big := exRandom(70, 3<<20)
	small := exRandom(71, 300<<10)
	srcBS := exNewBlockstore(t)
	bigRoot := exImport(t, srcBS, big, 64<<10)
	smallRoot := exImport(t, srcBS, small, 64<<10)
	src := exStartPeer(t, exTestConfig(), srcBS, nil)
	dst, st := exStartStorePeer(t, 1<<20, src)

	var log exProgressLog
	err := dst.ex.Fetch(t.Context(), bigRoot, FetchOptions{Progress: log.add})
	if !errors.Is(err, ErrStoreFull) {
		t.Fatalf("Fetch of 3 MiB into a 1 MiB store: error %v, want ErrStoreFull", err)
	}
	if log.final().Done {
		t.Errorf("Fetch that hit the quota reported Done")
	}
	u := checkUsage(t, st)
	t.Logf("stored %d bytes of a %d quota after the failed fetch", u.Bytes, u.Max)

	// The failed fetch's blocks are garbage now: the next fetch makes room.
	exFetch(t, dst, smallRoot, small)
	checkUsage(t, st)
	// And the peer serves what it has.
	third, _ := exFetcher(t, exTestConfig(), dst)
	exFetch(t, third, smallRoot, small)
}

// TestFetchAutoGCMakesRoom fetches into a store whose quota is taken by
// unpinned blocks: the automatic GC removes them and the fetch completes.
func TestFetchAutoGCMakesRoom(t *testing.T) {
	exVerifyNoLeaks(t)
	data := exRandom(72, 600<<10)
	srcBS := exNewBlockstore(t)
	root := exImport(t, srcBS, data, 64<<10)
	src := exStartPeer(t, exTestConfig(), srcBS, nil)
	dst, st := exStartStorePeer(t, 1<<20, src)
	addBytes(t, st, randomBytes(73, 800<<10), AddOptions{ChunkSize: 64 << 10, NoPin: true})

	exFetch(t, dst, root, data)
	checkUsage(t, st)
}
