package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/enxame/enxame/dht"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	basichost "github.com/libp2p/go-libp2p/p2p/host/basic"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// defaultRelay sizes the relay service for a swarm: a public peer holds a
// slot for up to 256 NAT'd peers, and a relayed connection lives long
// enough for hole punching and, where punching fails (symmetric NAT), for
// a file or a work unit to get through.
var defaultRelay = RelayConfig{
	MaxReservations: 256,
	MaxCircuits:     16,
	Duration:        2 * time.Minute,
	Data:            64 << 20,
	ReservationTTL:  time.Hour,
}

func (r RelayConfig) withDefaults() RelayConfig {
	if r.MaxReservations == 0 {
		r.MaxReservations = defaultRelay.MaxReservations
	}
	if r.MaxCircuits == 0 {
		r.MaxCircuits = defaultRelay.MaxCircuits
	}
	if r.Duration == 0 {
		r.Duration = defaultRelay.Duration
	}
	if r.Data == 0 {
		r.Data = defaultRelay.Data
	}
	if r.ReservationTTL == 0 {
		r.ReservationTTL = defaultRelay.ReservationTTL
	}
	return r
}

func (c NATConfig) validate() error {
	for i, s := range c.StaticRelays {
		if _, err := dht.ParsePeerAddr(s); err != nil {
			return &ConfigError{Field: fmt.Sprintf("nat.static_relays[%d]", i), Err: err}
		}
	}
	r := c.Relay
	switch {
	case r.MaxReservations < 0:
		return &ConfigError{Field: "nat.relay.max_reservations", Err: errors.New("must be >= 0")}
	case r.MaxCircuits < 0:
		return &ConfigError{Field: "nat.relay.max_circuits", Err: errors.New("must be >= 0")}
	case r.Duration < 0:
		return &ConfigError{Field: "nat.relay.duration", Err: errors.New("must be >= 0")}
	case r.Data < 0:
		return &ConfigError{Field: "nat.relay.data", Err: errors.New("must be >= 0")}
	case r.ReservationTTL < 0:
		return &ConfigError{Field: "nat.relay.reservation_ttl", Err: errors.New("must be >= 0")}
	}
	return nil
}

// relayResources turns the config into the relay service's resources.
func relayResources(rc RelayConfig) relay.Resources {
	rc = rc.withDefaults()
	res := relay.DefaultResources()
	res.Limit = &relay.RelayLimit{Duration: rc.Duration, Data: int64(rc.Data)}
	res.MaxReservations = rc.MaxReservations
	res.MaxCircuits = rc.MaxCircuits
	res.ReservationTTL = rc.ReservationTTL
	// A whole lab or LAN behind one address must still find slots.
	res.MaxReservationsPerIP = max(res.MaxReservationsPerIP, 32)
	res.MaxReservationsPerASN = max(res.MaxReservationsPerASN, 64)
	return res
}

// reach holds what the host's reachability options need from the node,
// which exists only after the host: the relay candidate source reads the
// node's peers and routing table, and the hole-punch tracer records which
// peers a hole was punched to.
type reach struct {
	mu      sync.Mutex
	n       *Node
	punched map[peer.ID]punch // peers a hole punch succeeded to
	// portMap is the port-mapping manager (UPnP/NAT-PMP), nil when port
	// mapping is off.
	portMap basichost.NATManager
}

// punch is when a successful hole punch ran.
type punch struct{ start, end time.Time }

// punchSlack is how long after a punch ended its connection may still be
// added to the swarm (a QUIC connection accepted by the punching listener
// is registered after the punch reports success).
const punchSlack = 5 * time.Second

// reachOptions returns the host options for cfg.NAT.
// Port mapping is skipped when every listen address is loopback: there is
// nothing a router could map, and its discovery (SSDP, NAT-PMP) would only
// send packets to the LAN and outlive the host by seconds.
func reachOptions(cfg NATConfig, listen []string, rs *reach) ([]libp2p.Option, error) {
	var opts []libp2p.Option
	if !cfg.DisablePortMap && !allLoopback(listen) {
		opts = append(opts, libp2p.NATManager(func(nw network.Network) basichost.NATManager {
			m := basichost.NewNATManager(nw)
			rs.mu.Lock()
			rs.portMap = m
			rs.mu.Unlock()
			return m
		}))
	}
	if !cfg.DisableRelayService {
		opts = append(opts, libp2p.EnableRelayService(relay.WithResources(relayResources(cfg.Relay))))
	}
	if !cfg.DisableHolePunching {
		opts = append(opts, libp2p.EnableHolePunching(holepunch.WithTracer(rs)))
	}
	if cfg.DisableAutoRelay {
		return opts, nil
	}
	arOpts := []autorelay.Option{
		autorelay.WithMinCandidates(1),
		autorelay.WithBootDelay(5 * time.Second),
		autorelay.WithMinInterval(10 * time.Second),
		autorelay.WithBackoff(30 * time.Second),
	}
	if len(cfg.StaticRelays) > 0 {
		var static []peer.AddrInfo
		for _, s := range cfg.StaticRelays {
			ai, err := dht.ParsePeerAddr(s)
			if err != nil {
				return nil, fmt.Errorf("nat.static_relays: %w", err)
			}
			static = append(static, ai)
		}
		return append(opts, libp2p.EnableAutoRelayWithStaticRelays(static, arOpts...)), nil
	}
	return append(opts, libp2p.EnableAutoRelayWithPeerSource(rs.candidates, arOpts...)), nil
}

// allLoopback reports whether every address in listen is a loopback one.
func allLoopback(listen []string) bool {
	for _, s := range listen {
		m, err := ma.NewMultiaddr(s)
		if err != nil || !manet.IsIPLoopback(m) {
			return false
		}
	}
	return true
}

// candidates is AutoRelay's peer source: the peers we are connected to,
// then those of the routing table. AutoRelay itself keeps only those that
// speak the relay hop protocol and grant a reservation.
func (rs *reach) candidates(ctx context.Context, num int) <-chan peer.AddrInfo {
	rs.mu.Lock()
	n := rs.n
	rs.mu.Unlock()
	var out []peer.AddrInfo
	if n != nil && n.host != nil {
		seen := map[peer.ID]bool{n.host.ID(): true}
		add := func(p peer.ID) {
			if seen[p] || len(out) >= num {
				return
			}
			seen[p] = true
			if addrs := n.host.Peerstore().Addrs(p); len(addrs) > 0 {
				out = append(out, peer.AddrInfo{ID: p, Addrs: addrs})
			}
		}
		for _, p := range n.host.Network().Peers() {
			add(p)
		}
		if n.router != nil {
			for _, p := range n.router.Kad().RoutingTable().ListPeers() {
				add(p)
			}
		}
	}
	ch := make(chan peer.AddrInfo, len(out))
	for _, ai := range out {
		ch <- ai
	}
	close(ch)
	return ch
}

// Trace records successful hole punches (holepunch.EventTracer).
func (rs *reach) Trace(evt *holepunch.Event) {
	if e, ok := evt.Evt.(*holepunch.EndHolePunchEvt); ok && e.Success {
		end := time.Unix(0, evt.Timestamp)
		if evt.Timestamp == 0 {
			end = time.Now()
		}
		rs.mu.Lock()
		if rs.punched == nil {
			rs.punched = map[peer.ID]punch{}
		}
		rs.punched[evt.Remote] = punch{start: end.Add(-e.EllapsedTime), end: end}
		rs.mu.Unlock()
	}
}

// Connection paths as `enxame peers` shows them.
const (
	PathDirect  = "direct"
	PathPunched = "hole-punched"
	PathRelayed = "relayed"
)

// connPath says how c reached its peer: over a relay when its remote
// address holds /p2p-circuit, hole-punched when it is direct and was opened
// while a successful hole punch to that peer ran (DCUtR opens the direct
// connection while punching; punchSlack after it), else direct.
func (rs *reach) connPath(c network.Conn) string {
	if isRelayed(c.RemoteMultiaddr()) {
		return PathRelayed
	}
	rs.mu.Lock()
	pu, ok := rs.punched[c.RemotePeer()]
	rs.mu.Unlock()
	opened := c.Stat().Opened
	if ok && !opened.Before(pu.start) && !opened.After(pu.end.Add(punchSlack)) {
		return PathPunched
	}
	return PathDirect
}

func isRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// probeListen fails when a fixed TCP port this node is to listen on already
// accepts connections: another daemon (or anything else) holds it. Without
// this, SO_REUSEPORT, which libp2p's TCP transport sets so that hole
// punching can dial from the listen port, lets a second daemon bind the
// same port and the kernel splits incoming dials between the two.
func probeListen(ctx context.Context, listen []string) error {
	for _, s := range listen {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		port, err := m.ValueForProtocol(ma.P_TCP)
		if err != nil || port == "0" {
			continue
		}
		var host string
		if ip, err := m.ValueForProtocol(ma.P_IP4); err == nil {
			host = ip
			if ip == "0.0.0.0" {
				host = "127.0.0.1"
			}
		} else if ip, err := m.ValueForProtocol(ma.P_IP6); err == nil {
			host = ip
			if ip == "::" {
				host = "::1"
			}
		} else {
			continue // dns or other: nothing to probe
		}
		addr := net.JoinHostPort(host, port)
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			continue // nothing listens (or no such interface): free
		}
		c.Close()
		return fmt.Errorf("listen %s: port %s is already in use on %s (another enxame daemon?): stop it or set another port in listen", s, port, addr)
	}
	return nil
}

// peerPath is the best path among the connections to p: a direct or
// hole-punched one over a relayed one; "" when not connected.
func (n *Node) peerPath(p peer.ID) string {
	best := ""
	for _, c := range n.host.Network().ConnsToPeer(p) {
		path := PathRelayed
		if n.nat != nil {
			path = n.nat.connPath(c)
		} else if !isRelayed(c.RemoteMultiaddr()) {
			path = PathDirect
		}
		if best == "" || best == PathRelayed {
			best = path
		}
	}
	return best
}

// Port-mapping states as `status` and `doctor` show them (the mapped
// address follows PortMapMapped).
const (
	PortMapOff      = "off"
	PortMapNoRouter = "no router answered"
	PortMapMapped   = "mapped"
)

// portMapState says whether port mapping is on, found a router (UPnP or
// NAT-PMP) and got a mapping for one of listen: "mapped ADDR,...",
// PortMapNoRouter when it is on but no router answered (or none mapped),
// PortMapOff when it is off.
func (rs *reach) portMapState(listen []ma.Multiaddr) string {
	rs.mu.Lock()
	m := rs.portMap
	rs.mu.Unlock()
	if m == nil {
		return PortMapOff
	}
	if !m.HasDiscoveredNAT() {
		return PortMapNoRouter
	}
	var mapped []string
	for _, a := range listen {
		if ext := m.GetMapping(a); ext != nil {
			mapped = append(mapped, ext.String())
		}
	}
	if len(mapped) == 0 {
		return PortMapNoRouter
	}
	return PortMapMapped + " " + strings.Join(mapped, ",")
}
