package dht

import (
	"testing"

	"github.com/enxame/enxame/internal/waittest"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
)

// TestDefaultModeFollowsReachability pins issue 12: with the default
// config, a peer that AutoNAT finds private runs the DHT as a client (so
// status says so and nobody routes queries to an unreachable server), and
// a server again once it is public.
func TestDefaultModeFollowsReachability(t *testing.T) {
	r, h := newRouter(t, DefaultConfig())
	if got := r.Mode(); got != ModeServer {
		t.Fatalf("Mode() before any reachability = %q, want %q", got, ModeServer)
	}
	em, err := h.EventBus().Emitter(new(event.EvtLocalReachabilityChanged))
	if err != nil {
		t.Fatalf("Emitter: %v", err)
	}
	defer em.Close()
	for _, c := range []struct {
		reach network.Reachability
		want  string
	}{
		{network.ReachabilityPrivate, ModeClient},
		{network.ReachabilityPublic, ModeServer},
		{network.ReachabilityPrivate, ModeClient},
	} {
		if err := em.Emit(event.EvtLocalReachabilityChanged{Reachability: c.reach}); err != nil {
			t.Fatalf("Emit: %v", err)
		}
		waittest.For(t, "mode "+c.want+" after "+c.reach.String(), func() bool { return r.Mode() == c.want })
	}
}
