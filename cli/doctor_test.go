package cli

import (
	"runtime"
	"strings"
	"testing"

	"github.com/enxame/enxame/node/control"
)

func TestDiagnose(t *testing.T) {
	relayed := control.ID{Addrs: []string{"/ip4/10.1.0.2/tcp/4100/p2p/A",
		"/ip4/11.2.0.2/tcp/4100/p2p/R/p2p-circuit/p2p/A"}}
	for _, c := range []struct {
		name   string
		st     control.Status
		id     control.ID
		wantOK map[string]bool
		detail map[string]string // substring of a check's detail
	}{
		{
			name: "public",
			st: control.Status{Reachability: "public", DHTMode: "server", Peers: 5, RoutingTable: 4, PortMap: "no router answered",
				Bootstrap: []control.BootstrapPeer{{Connected: true}}, StorageBytes: 1, StorageMax: 100},
			wantOK: map[string]bool{"reachability": true, "nat type": true, "dht mode": true, "bootstrap": true, "peers": true, "storage": true,
				"port mapping": true},
			detail: map[string]string{"port mapping": "not needed"},
		},
		{
			name: "behind port-preserving nat with a relay",
			st: control.Status{Reachability: "private", DHTMode: "client", Peers: 5, PortMap: "no router answered",
				Observed: []string{"/ip4/11.101.0.2/tcp/4100", "/ip4/11.101.0.2/udp/4100/quic-v1"}},
			id:     relayed,
			wantOK: map[string]bool{"reachability": true, "relays": true, "nat type": true, "dht mode": true, "port mapping": false},
			detail: map[string]string{"relays": "/ip4/11.2.0.2/tcp/4100/p2p/R", "nat type": "port-preserving", "port mapping": "no router answered"},
		},
		{
			name: "behind nat, port mapped",
			st: control.Status{Reachability: "private", DHTMode: "client", Peers: 5,
				PortMap: "mapped /ip4/11.101.0.2/tcp/4100,/ip4/11.101.0.2/udp/4100/quic-v1"},
			id:     relayed,
			wantOK: map[string]bool{"port mapping": true},
			detail: map[string]string{"port mapping": "/ip4/11.101.0.2/tcp/4100"},
		},
		{
			name: "symmetric nat, no relay, dht server, no peers, store full",
			st: control.Status{Reachability: "private", DHTMode: "server", PortMap: "off",
				Observed:  []string{"/ip4/11.102.0.2/tcp/40001", "/ip4/11.102.0.2/tcp/52113"},
				Bootstrap: []control.BootstrapPeer{{LastError: "dial refused"}}, StorageBytes: 95, StorageMax: 100},
			wantOK: map[string]bool{"relays": false, "nat type": false, "dht mode": false, "bootstrap": false, "peers": false, "storage": false,
				"port mapping": false},
			detail: map[string]string{"bootstrap": "dial refused", "nat type": "symmetric"},
		},
		{
			name:   "unknown",
			st:     control.Status{Reachability: "unknown"},
			wantOK: map[string]bool{"reachability": false},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := map[string]check{}
			for _, ch := range diagnose(c.st, c.id) {
				got[ch.Name] = ch
				if !ch.OK && ch.Fix == "" {
					t.Errorf("%s is not ok but says nothing to do", ch.Name)
				}
			}
			for name, ok := range c.wantOK {
				ch, found := got[name]
				if !found || ch.OK != ok {
					t.Errorf("check %s = %+v (found %v), want ok %v", name, ch, found, ok)
				}
			}
			for name, sub := range c.detail {
				if !strings.Contains(got[name].Detail, sub) {
					t.Errorf("check %s detail %q, want it to contain %q", name, got[name].Detail, sub)
				}
			}
		})
	}
}

func TestClockCheck(t *testing.T) {
	for _, c := range []struct {
		synced, known, wantOK bool
		detail                string
	}{
		{synced: true, known: true, wantOK: true, detail: "synchronised"},
		{synced: false, known: true, wantOK: false, detail: "not synchronised"},
		{synced: false, known: false, wantOK: true, detail: "not checked"},
	} {
		ch := clockCheck(c.synced, c.known)
		if ch.Name != "clock" || ch.OK != c.wantOK || !strings.Contains(ch.Detail, c.detail) || (!ch.OK && ch.Fix == "") {
			t.Errorf("clockCheck(%v, %v) = %+v, want ok %v with %q and a fix when not ok", c.synced, c.known, ch, c.wantOK, c.detail)
		}
	}
	// On Linux the kernel always answers adjtimex.
	if _, known := clockSynced(); runtime.GOOS == "linux" && !known {
		t.Errorf("clockSynced on linux: kernel did not say")
	}
}
