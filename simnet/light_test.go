package simnet

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"testing/synctest"
	"time"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"
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

// TestLightCheck holds the light layer's shortcut for kad-dht's lookup
// check (a FIND_NODE for the receiver's own ID) to what the real handler
// answers: the receiver itself first. The shortcut answers after the same
// round trip, and a silent peer still fails it.
func TestLightCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		net, err := Start(ctx, Config{Nodes: 6, Seed: 4, Tier: TierLight, Bootstraps: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := net.Close(); err != nil {
				t.Error(err)
			}
		}()
		time.Sleep(5 * time.Second) // let the nodes join
		peers := net.Peers()
		a, b := peers[1].host.(*lightHost), peers[2].host.(*lightHost)
		protos := []protocol.ID{peers[0].Router().ProtocolID()}
		check := pb.NewMessage(pb.Message_FIND_NODE, []byte(b.id), 0)
		if k := requestKind(check, a.id, b.id); k != kindCheck {
			t.Fatalf("a FIND_NODE for the receiver's ID is kind %s, want check", kindNames[k])
		}

		// What b's real handler answers.
		body, err := proto.Marshal(check)
		if err != nil {
			t.Fatal(err)
		}
		msg := binary.AppendUvarint(nil, uint64(len(body)))
		handler, pid := b.handler(protos)
		st := &lightStream{in: bytes.NewReader(append(msg, body...)), proto: pid, conn: lightConn{local: b.id, remote: a.id}}
		handler(st)
		out := st.out.Bytes()
		n, k := binary.Uvarint(out)
		real := new(pb.Message)
		if k <= 0 || proto.Unmarshal(out[k:k+int(n)], real) != nil {
			t.Fatalf("the real handler's answer does not decode: %x", out)
		}
		if len(real.CloserPeers) == 0 || peer.ID(real.CloserPeers[0].Id) != b.id {
			t.Fatalf("the real handler's answer does not start with the target: %v", real.CloserPeers)
		}

		if err := a.dial(ctx, b.id, true); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		resp, err := a.roundTrip(ctx, b.id, protos, check, true)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(t0), 2*net.lw.latency(a, b); got != want {
			t.Errorf("check took %v, want one round trip %v", got, want)
		}
		if len(resp.CloserPeers) != 1 || peer.ID(resp.CloserPeers[0].Id) != b.id {
			t.Errorf("check answered %v, want the target alone", resp.CloserPeers)
		}
		b.setSilent()
		if _, err := a.roundTrip(ctx, b.id, protos, check, true); err == nil {
			t.Error("a silent peer passed the check")
		}
	})
}

// TestLightPeerstore checks the shared peerstore: a host's addresses are
// fixed once registered, what kad-dht adds for it changes nothing, and
// addresses of other peers go to the underlying store.
func TestLightPeerstore(t *testing.T) {
	base, err := pstoremem.NewPeerstore()
	if err != nil {
		t.Fatal(err)
	}
	ps := newLightPeerstore(base)
	defer ps.Close()
	known, other := peer.ID("known"), peer.ID("other")
	a1 := ma.StringCast("/ip4/10.0.0.1/udp/8000/quic-v1")
	a2 := ma.StringCast("/ip4/10.0.0.2/udp/8000/quic-v1")
	ps.register(known, []ma.Multiaddr{a1})
	ps.AddAddrs(known, []ma.Multiaddr{a2}, peerstore.TempAddrTTL)
	ps.SetAddrs(known, []ma.Multiaddr{a2}, peerstore.TempAddrTTL)
	ps.ClearAddrs(known)
	if got := ps.PeerInfo(known).Addrs; len(got) != 1 || !got[0].Equal(a1) {
		t.Errorf("registered host's addresses = %v, want [%v]", got, a1)
	}
	ps.AddAddr(other, a2, peerstore.TempAddrTTL)
	if got := ps.Addrs(other); len(got) != 1 || !got[0].Equal(a2) {
		t.Errorf("other peer's addresses = %v, want [%v]", got, a2)
	}
	ans := []*pb.Message_Peer{{Id: []byte(known), Addrs: [][]byte{a1.Bytes()}}, {Id: []byte(other), Addrs: [][]byte{a2.Bytes()}}}
	ps.dropKnownAddrs(ans)
	if len(ans[0].Addrs) != 0 || len(ans[1].Addrs) != 1 {
		t.Errorf("after dropKnownAddrs: %d and %d addresses, want 0 (registered) and 1 (other)", len(ans[0].Addrs), len(ans[1].Addrs))
	}
}
