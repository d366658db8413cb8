package compute

import (
	"bufio"
	"context"
	"io"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/nodetest/hosttest"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	relayclient "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
)

// TestOpenWorkerStreamOverRelay pins issue 12's scenario 2 for compute: a
// submitter reaching a worker only through a relay (both behind NAT, one
// of them symmetric, so no hole punch) still opens the unit's stream, over
// the relayed connection. Before, NewStream waited for a direct connection
// that never came and the worker got no units.
func TestOpenWorkerStreamOverRelay(t *testing.T) {
	// hosttest.New's hosts listen on loopback TCP with no relay: the
	// options here turn the relay on and the listening off.
	r := hosttest.New(t, libp2p.ForceReachabilityPublic(),
		libp2p.EnableRelayService(relay.WithResources(relay.DefaultResources())))
	worker := hosttest.New(t, libp2p.NoListenAddrs, libp2p.EnableRelay())
	sub := hosttest.New(t, libp2p.NoListenAddrs, libp2p.EnableRelay())
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ri := peer.AddrInfo{ID: r.ID(), Addrs: r.Addrs()}
	if err := worker.Connect(ctx, ri); err != nil {
		t.Fatal(err)
	}
	if _, err := relayclient.Reserve(ctx, worker, ri); err != nil {
		t.Fatalf("reserve: %v", err)
	}
	worker.SetStreamHandler(ProtocolID, func(s network.Stream) {
		defer s.Close()
		line, _ := bufio.NewReader(s).ReadString('\n')
		io.WriteString(s, "got "+line)
	})
	circuit := ma.StringCast(r.Addrs()[0].String() + "/p2p/" + r.ID().String() + "/p2p-circuit")
	if err := sub.Connect(network.WithAllowLimitedConn(ctx, "test"), peer.AddrInfo{ID: worker.ID(), Addrs: []ma.Multiaddr{circuit}}); err != nil {
		t.Fatalf("connect over the relay: %v", err)
	}
	if !onlyLimited(sub, worker.ID()) {
		t.Fatalf("the submitter has a direct connection to the worker; want only the relayed one")
	}
	octx, ocancel := context.WithTimeout(ctx, 20*time.Second)
	defer ocancel()
	st, err := openWorkerStream(octx, sub, worker.ID())
	if err != nil {
		t.Fatalf("open a stream to a worker reached only through a relay: %v", err)
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(st, "unit\n"); err != nil {
		t.Fatal(err)
	}
	st.CloseWrite()
	got, err := io.ReadAll(st)
	if err != nil || string(got) != "got unit\n" {
		t.Fatalf("over the relay: read %q, %v; want %q", got, err, "got unit\n")
	}
}
