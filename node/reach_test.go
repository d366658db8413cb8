package node

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
)

// TestNewRefusesHeldPort pins issue 12: a second daemon configured on a
// TCP port another one holds fails with a clear error instead of binding
// it too through SO_REUSEPORT and splitting incoming dials.
func TestNewRefusesHeldPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()

	cfg := DefaultConfig()
	cfg.Listen = []string{"/ip4/127.0.0.1/tcp/" + port}
	cfg.DisableMDNS = true
	cfg.Compute.Disabled = true
	cfg.NAT.DisablePortMap = true
	first, err := New(cfg, Deps{})
	if err != nil {
		t.Fatalf("first node: %v", err)
	}
	defer first.Close()
	second, err := New(cfg, Deps{})
	if err == nil {
		second.Close()
		t.Fatalf("second node on port %s started; want an error", port)
	}
	if !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), port) {
		t.Errorf("error = %q, want it to name port %s as already in use", err, port)
	}
}

func TestProbeListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freePort := strconv.Itoa(free.Addr().(*net.TCPAddr).Port)
	free.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		listen  []string
		wantErr bool
	}{
		{[]string{"/ip4/127.0.0.1/tcp/" + held}, true},
		{[]string{"/ip4/0.0.0.0/tcp/" + held}, true},
		{[]string{"/ip4/127.0.0.1/udp/" + held + "/quic-v1"}, false},
		{[]string{"/ip4/127.0.0.1/tcp/0"}, false},
		{[]string{"/ip4/127.0.0.1/tcp/" + freePort}, false},
		{[]string{"/dns4/localhost/tcp/" + held}, false},
	} {
		err := probeListen(ctx, c.listen)
		if (err != nil) != c.wantErr {
			t.Errorf("probeListen(%v) = %v, want error %v", c.listen, err, c.wantErr)
		}
	}
}

func TestIsRelayed(t *testing.T) {
	for s, want := range map[string]bool{
		"/ip4/11.1.0.2/tcp/4100": false,
		"/ip4/11.1.0.2/tcp/4100/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit": true,
		"/ip4/11.1.0.2/udp/4100/quic-v1": false,
	} {
		if got := isRelayed(ma.StringCast(s)); got != want {
			t.Errorf("isRelayed(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestTraceRecordsOnlySuccessfulPunches(t *testing.T) {
	var rs reach
	a, b := peer.ID("a"), peer.ID("b")
	rs.Trace(&holepunch.Event{Remote: a, Evt: &holepunch.EndHolePunchEvt{Success: true}})
	rs.Trace(&holepunch.Event{Remote: b, Evt: &holepunch.EndHolePunchEvt{Success: false}})
	rs.Trace(&holepunch.Event{Remote: b, Evt: &holepunch.DirectDialEvt{Success: true}})
	if _, ok := rs.punched[a]; !ok {
		t.Error("successful punch to a not recorded")
	}
	if _, ok := rs.punched[b]; ok {
		t.Error("failed punch to b recorded")
	}
}

func TestNATConfigValidate(t *testing.T) {
	for _, c := range []struct {
		mod   func(*Config)
		field string
	}{
		{func(c *Config) { c.NAT.StaticRelays = []string{"/ip4/1.2.3.4/tcp/1"} }, "nat.static_relays[0]"},
		{func(c *Config) { c.NAT.Relay.MaxReservations = -1 }, "nat.relay.max_reservations"},
		{func(c *Config) { c.NAT.Relay.Duration = -time.Second }, "nat.relay.duration"},
		{func(c *Config) { c.NAT.Relay.Data = -1 }, "nat.relay.data"},
	} {
		cfg := DefaultConfig()
		c.mod(&cfg)
		var ce *ConfigError
		if err := cfg.Validate(); !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("Validate() = %v, want a ConfigError on %s", err, c.field)
		}
	}
	cfg, err := ParseConfig("x.yaml", []byte("nat:\n  disable_port_map: true\n  relay:\n    data: 1MiB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.NAT.DisablePortMap || cfg.NAT.Relay.Data != 1<<20 || cfg.NAT.Relay.MaxReservations != defaultRelay.MaxReservations {
		t.Errorf("parsed nat = %+v", cfg.NAT)
	}
	res := relayResources(cfg.NAT.Relay)
	if res.Limit == nil || res.Limit.Data != 1<<20 || res.MaxReservations != defaultRelay.MaxReservations {
		t.Errorf("relayResources = %+v", res)
	}
}

func TestAllLoopback(t *testing.T) {
	for _, c := range []struct {
		listen []string
		want   bool
	}{
		{[]string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1", "/ip6/::1/tcp/0"}, true},
		{[]string{"/ip4/127.0.0.1/tcp/0", "/ip4/0.0.0.0/tcp/4100"}, false},
		{DefaultConfig().Listen, false},
	} {
		if got := allLoopback(c.listen); got != c.want {
			t.Errorf("allLoopback(%v) = %v, want %v", c.listen, got, c.want)
		}
	}
}

// fakePortMap is a port-mapping manager with a fixed answer.
type fakePortMap struct {
	found  bool
	mapped map[string]string
}

func (f fakePortMap) GetMapping(a ma.Multiaddr) ma.Multiaddr {
	if s, ok := f.mapped[a.String()]; ok {
		return ma.StringCast(s)
	}
	return nil
}
func (f fakePortMap) HasDiscoveredNAT() bool { return f.found }
func (f fakePortMap) Close() error           { return nil }

// TestPortMapState pins what `status` and `doctor` say about UPnP/NAT-PMP.
func TestPortMapState(t *testing.T) {
	listen := []ma.Multiaddr{ma.StringCast("/ip4/10.1.0.2/tcp/4100"), ma.StringCast("/ip4/10.1.0.2/udp/4100/quic-v1")}
	for _, c := range []struct {
		name string
		pm   *fakePortMap
		want string
	}{
		{"off", nil, PortMapOff},
		{"no router", &fakePortMap{}, PortMapNoRouter},
		{"router, no mapping", &fakePortMap{found: true}, PortMapNoRouter},
		{"mapped", &fakePortMap{found: true, mapped: map[string]string{"/ip4/10.1.0.2/tcp/4100": "/ip4/11.101.0.2/tcp/4100"}},
			PortMapMapped + " /ip4/11.101.0.2/tcp/4100"},
	} {
		rs := &reach{}
		if c.pm != nil {
			rs.portMap = *c.pm
		}
		if got := rs.portMapState(listen); got != c.want {
			t.Errorf("%s: portMapState = %q, want %q", c.name, got, c.want)
		}
	}
}
