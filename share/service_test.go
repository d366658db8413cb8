package share

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/waittest"
	cid "github.com/ipfs/go-cid"
)

// svcRouter is a Router over an exFinder that counts the provides of each
// CID and signals each on changed.
type svcRouter struct {
	*exFinder
	mu       sync.Mutex
	provides map[cid.Cid]int
	changed  chan struct{} // one slot: a provide happened since the last read
}

func newSvcRouter() *svcRouter {
	return &svcRouter{exFinder: &exFinder{}, provides: map[cid.Cid]int{}, changed: make(chan struct{}, 1)}
}

func (r *svcRouter) Provide(ctx context.Context, c cid.Cid) error {
	r.mu.Lock()
	r.provides[c]++
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
	return nil
}

func (r *svcRouter) TableSize() int { return 1 }

func (r *svcRouter) count(c cid.Cid) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.provides[c]
}

// waitFor waits, on provide events, until cond holds.
func (r *svcRouter) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(waittest.Timeout)
	for !cond() {
		select {
		case <-r.changed:
		case <-timeout:
			t.Fatalf("no %s after %v", what, waittest.Timeout)
		}
	}
}

// svcStart runs a Service over a fresh store with router r until cleanup.
func svcStart(t *testing.T, cfg ServiceConfig, r *svcRouter) *Service {
	t.Helper()
	st := newTestStore(t, StoreConfig{})
	cfg.Exchange = exTestConfig()
	cfg.DisableBitswap = true
	s, err := NewService(cfg, ServiceDeps{Host: exNewHost(t), Store: st, Router: r, Logger: exLogger(t)})
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Service.Run: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Service.Close: %v", err)
		}
	})
	return s
}

// svcShared reports whether the next reprovide of s announces c.
func svcShared(t *testing.T, s *Service, c cid.Cid) bool {
	t.Helper()
	keys, err := s.Shared(t.Context())
	if err != nil {
		t.Fatalf("Shared: %v", err)
	}
	return slices.Contains(keys, c)
}

// TestServiceSharesBackFetched: under each strategy, a fetched DAG is
// announced (and listed for reprovide) or not, and --no-share (NoShare)
// keeps one fetch from it. Issue 15, "Sharing back".
func TestServiceSharesBackFetched(t *testing.T) {
	exVerifyNoLeaks(t)
	data := exRandom(80, 300<<10)
	srcBS := exNewBlockstore(t)
	root := exImport(t, srcBS, data, 64<<10)
	src := exStartPeer(t, exTestConfig(), srcBS, nil)
	tests := []struct {
		name     string
		strategy ProvideStrategy
		noShare  bool
		want     bool
	}{
		{"default shares back", "", false, true},
		{"fetched", ProvideFetched, false, true},
		{"all", ProvideAll, false, true},
		{"pinned does not", ProvidePinned, false, false},
		{"no-share does not", ProvideFetched, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSvcRouter()
			r.add(src.info())
			s := svcStart(t, ServiceConfig{Provide: tt.strategy}, r)
			if err := s.Fetch(t.Context(), root, FetchOptions{NoShare: tt.noShare}); err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if got := svcShared(t, s, root); got != tt.want {
				t.Errorf("after Fetch(NoShare: %v) under %q: Shared lists the root = %v, want %v", tt.noShare, tt.strategy, got, tt.want)
			}
			if tt.want {
				r.waitFor(t, "provide of the fetched root", func() bool { return r.count(root) > 0 })
			}
			// A second fetch of content already here announces nothing new.
			before := r.count(root)
			if err := s.Fetch(t.Context(), root, FetchOptions{}); err != nil {
				t.Fatalf("Fetch again: %v", err)
			}
			if tt.noShare || !tt.want {
				return
			}
			if got := svcShared(t, s, root); !got {
				t.Errorf("after a second Fetch: Shared lists the root = false, want true")
			}
			if got := r.count(root); got != before {
				t.Errorf("a second Fetch of a shared root provided it again: %d provides, want %d", got, before)
			}
		})
	}
}

// TestServiceStopsSharingAfterGC: a fetched DAG is reprovided while the
// peer holds it; once GC removes its blocks it is withdrawn: no longer
// listed, and no longer provided while the reprovide goes on announcing
// a pinned file. Issue 15: "provider records are withdrawn or left to
// expire when gc removes the blocks".
func TestServiceStopsSharingAfterGC(t *testing.T) {
	exVerifyNoLeaks(t)
	data := exRandom(81, 200<<10)
	srcBS := exNewBlockstore(t)
	root := exImport(t, srcBS, data, 64<<10)
	src := exStartPeer(t, exTestConfig(), srcBS, nil)
	r := newSvcRouter()
	r.add(src.info())
	s := svcStart(t, ServiceConfig{ReprovideInterval: 50 * time.Millisecond}, r)
	res, err := s.AddReader(t.Context(), bytes.NewReader(exRandom(82, 10<<10)), "pinned", AddOptions{})
	if err != nil {
		t.Fatalf("AddReader: %v", err)
	}
	pinned := res.Root
	if err := s.Fetch(t.Context(), root, FetchOptions{}); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	r.waitFor(t, "reprovide of the fetched root", func() bool { return r.count(root) >= 2 })

	gc, err := s.GC(t.Context())
	if err != nil || gc.Removed == 0 {
		t.Fatalf("GC: removed %d blocks, %v; want the fetched DAG's", gc.Removed, err)
	}
	if svcShared(t, s, root) {
		t.Errorf("after GC removed the fetched DAG: Shared still lists it")
	}
	if roots, err := s.Store().FetchedRoots(t.Context()); err != nil || len(roots) != 0 {
		t.Errorf("after GC: FetchedRoots = %v, %v; want none", roots, err)
	}
	// A reprovide whose list was taken before GC may still announce the
	// root once; after two more of the pinned file, none may.
	p := r.count(pinned)
	r.waitFor(t, "two reprovides after GC", func() bool { return r.count(pinned) >= p+2 })
	after := r.count(root)
	p = r.count(pinned)
	r.waitFor(t, "two more reprovides", func() bool { return r.count(pinned) >= p+2 })
	if got := r.count(root); got != after {
		t.Errorf("the collected root was provided %d more times after GC, want 0", got-after)
	}
}
