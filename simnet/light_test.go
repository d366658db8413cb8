package simnet

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// TestLightDHT runs the dht scenario with churn on light nodes (enxame's
// DHT router and kad-dht's lookups and handlers over the in-memory message
// layer) and holds it to the full tier's bars; the 1,000-node run is in
// light_big_test.go.
func TestLightDHT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunDHT(context.Background(), DHTConfig{
			Net:  Config{Nodes: 40, Seed: 5, Tier: TierLight, JoinSpread: 5 * time.Second},
			Keys: 8, FindPeer: 30, FindProviders: 30, Churn: 0.1, Settle: 10 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		checkDHT(t, rep)
		if rep.Tier != TierLight || rep.Requests == 0 || rep.Dials == 0 {
			t.Errorf("tier %q, %d requests, %d dials: the light layer carried nothing", rep.Tier, rep.Requests, rep.Dials)
		}
	})
}

// TestLightDroppers is TestDHTDroppers on light nodes: silent peers stay in
// the routing tables, and every lookup still succeeds.
func TestLightDroppers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunDHT(context.Background(), DHTConfig{
			Net: Config{Nodes: 30, Seed: 3, Tier: TierLight}, Settle: 5 * time.Second,
			Keys: 8, FindPeer: 25, FindProviders: 25, Droppers: 0.2,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Droppers != 6 {
			t.Errorf("%d droppers, want 6", rep.Droppers)
		}
		checkDHT(t, rep)
	})
}

// TestLightLinks checks the light layer's model of a link: a dial takes a
// round trip, a request another, a dead peer's dial fails after
// lightDialTimeout and a silent peer's request after lightReadTimeout.
func TestLightLinks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		net, err := Start(ctx, Config{Nodes: 4, Seed: 9, Tier: TierLight, Bootstraps: 1, Regions: []Region{EU, Asia}})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := net.Close(); err != nil {
				t.Error(err)
			}
		}()
		hosts := make([]*lightHost, 4)
		for i, p := range net.Peers() {
			hosts[i] = p.host.(*lightHost)
		}
		a, b := hosts[1], hosts[2]
		one := net.lw.latency(a, b)
		req := pb.NewMessage(pb.Message_FIND_NODE, []byte(a.id), 0)
		protos := []protocol.ID{net.Peers()[0].Router().ProtocolID()}

		t0 := time.Now()
		resp, err := a.roundTrip(ctx, b.id, protos, req, true)
		if err != nil || resp == nil {
			t.Fatalf("request: %v, %v", resp, err)
		}
		if got, want := time.Since(t0), 4*one; got != want {
			t.Errorf("dial and request took %v, want two round trips %v", got, want)
		}
		t0 = time.Now()
		if _, err := a.roundTrip(ctx, b.id, protos, req, true); err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(t0), 2*one; got != want {
			t.Errorf("request on an open connection took %v, want one round trip %v", got, want)
		}

		c := hosts[3]
		c.setSilent()
		t0 = time.Now()
		if _, err := a.roundTrip(ctx, c.id, protos, req, true); err == nil {
			t.Error("a silent peer answered")
		}
		if got, want := time.Since(t0), 2*net.lw.latency(a, c)+net.lw.latency(a, c)+lightReadTimeout; got != want {
			t.Errorf("request to a silent peer failed after %v, want %v", got, want)
		}

		if err := net.Leave(2); err != nil {
			t.Fatal(err)
		}
		if a.connected(b.id) {
			t.Error("still connected to a peer that left")
		}
		t0 = time.Now()
		if err := a.Connect(ctx, peer.AddrInfo{ID: b.id}); err == nil {
			t.Error("dialled a peer that left")
		}
		if got := time.Since(t0); got != lightDialTimeout {
			t.Errorf("dial to a dead peer failed after %v, want %v", got, lightDialTimeout)
		}
	})
}
