package cli

import (
	"fmt"
	"strings"

	"github.com/enxame/enxame/node/control"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"
)

// check is one line of `enxame doctor`: what was checked, whether it is
// fine, and what to do when it is not.
type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func newDoctorCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check this peer's reachability, relays, NAT, port mapping, bootstrap peers, storage and clock",
		Long: `doctor asks the running daemon what it knows about its place in the swarm
and prints one line per check, each with what to do when it is not fine:
reachability (AutoNAT), relays (when behind NAT), the NAT type as other peers
see it, port mapping (UPnP/NAT-PMP), the DHT mode, bootstrap peers, connected
peers, storage, and whether this machine's clock is kept in sync.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return e.apiErr(err)
			}
			id, err := c.ID(cmd.Context())
			if err != nil {
				return e.apiErr(err)
			}
			checks := diagnose(st, id)
			checks = append(checks, clockCheck(clockSynced()))
			if e.json {
				return e.printJSON(checks)
			}
			for _, ch := range checks {
				mark := "ok  "
				if !ch.OK {
					mark = "WARN"
				}
				fmt.Fprintf(e.stdout, "%s %-13s %s\n", mark, ch.Name+":", ch.Detail)
				if ch.Fix != "" {
					fmt.Fprintf(e.stdout, "     %-13s → %s\n", "", ch.Fix)
				}
			}
			return nil
		},
	}
}

// diagnose turns the daemon's status and identity into checks.
func diagnose(st control.Status, id control.ID) []check {
	var out []check
	var relays []string
	for _, a := range id.Addrs {
		if i := strings.Index(a, "/p2p-circuit"); i >= 0 {
			relays = append(relays, a[:i])
		}
	}
	switch st.Reachability {
	case "public":
		out = append(out, check{Name: "reachability", OK: true, Detail: "public: other peers can dial this one (it relays for peers behind NAT)"})
	case "private":
		out = append(out, check{Name: "reachability", OK: true, Detail: "private: behind NAT or a firewall; reachable through relays, with hole punching for direct connections",
			Fix: "to be reachable directly, forward TCP and UDP port 4100 on your router (or enable UPnP there)"})
	default:
		out = append(out, check{Name: "reachability", OK: false, Detail: "unknown: AutoNAT has not decided yet (it needs about 20s and peers with public addresses)",
			Fix: "wait a minute; if it stays unknown, check the bootstrap peers below"})
	}
	if st.Reachability == "private" {
		if len(relays) == 0 {
			out = append(out, check{Name: "relays", OK: false, Detail: "none yet: peers behind other NATs cannot reach this one",
				Fix: "wait for AutoRelay to find a public peer, or set nat.static_relays in the config"})
		} else {
			out = append(out, check{Name: "relays", OK: true, Detail: fmt.Sprintf("%d relay address(es), e.g. %s", len(relays), relays[0])})
		}
	}
	out = append(out, natType(st.Observed))
	if pm, ok := portMapCheck(st); ok {
		out = append(out, pm)
	}
	mode := check{Name: "dht mode", OK: true, Detail: st.DHTMode}
	if st.DHTMode == "server" && st.Reachability == "private" {
		mode.OK = false
		mode.Detail = "server while private: other peers will try to query a peer they cannot dial"
		mode.Fix = "set dht.mode to auto (the default) in the config"
	}
	out = append(out, mode)
	connected := 0
	var lastErr string
	for _, b := range st.Bootstrap {
		if b.Connected {
			connected++
		} else if b.LastError != "" {
			lastErr = b.LastError
		}
	}
	boot := check{Name: "bootstrap", OK: connected > 0 || (len(st.Bootstrap) == 0 && st.Peers > 0),
		Detail: fmt.Sprintf("%d of %d connected", connected, len(st.Bootstrap))}
	if !boot.OK {
		boot.Fix = "add a reachable peer: enxame daemon --bootstrap /ip4/…/tcp/4100/p2p/PEERID"
		if lastErr != "" {
			boot.Detail += "; last error: " + lastErr
		}
	}
	out = append(out, boot)
	peers := check{Name: "peers", OK: st.Peers > 0, Detail: fmt.Sprintf("%d connected, %d in the routing table", st.Peers, st.RoutingTable)}
	if !peers.OK {
		peers.Fix = "no peer at all: check the network and the bootstrap peers"
	}
	out = append(out, peers)
	disk := check{Name: "storage", OK: true, Detail: fmt.Sprintf("%s of %s used", bytesHuman(st.StorageBytes), bytesHuman(st.StorageMax))}
	if st.StorageMax > 0 && st.StorageBytes*10 >= st.StorageMax*9 {
		disk.OK = false
		disk.Fix = "unpinned blocks are evicted past 90%: 'enxame pin rm', 'enxame repo gc', or raise storage.max"
	}
	out = append(out, disk)
	return out
}

// natType reads the NAT's behaviour from the addresses peers observed us
// at: the same IP with different ports per peer means the NAT picks a new
// port for every destination (symmetric), which defeats hole punching.
func natType(observed []string) check {
	ports := map[string]map[string]bool{} // ip+transport -> ports
	for _, s := range observed {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		var ip, port, tr string
		ma.ForEach(m, func(c ma.Component) bool {
			switch c.Protocol().Code {
			case ma.P_IP4, ma.P_IP6:
				ip = c.Value()
			case ma.P_TCP, ma.P_UDP:
				port, tr = c.Value(), c.Protocol().Name
			}
			return true
		})
		if ip == "" || port == "" {
			continue
		}
		k := ip + " " + tr
		if ports[k] == nil {
			ports[k] = map[string]bool{}
		}
		ports[k][port] = true
	}
	if len(ports) == 0 {
		return check{Name: "nat type", OK: true, Detail: "no outside address observed (public, or too few peers yet)"}
	}
	for k, ps := range ports {
		if len(ps) > 1 {
			return check{Name: "nat type", OK: false,
				Detail: fmt.Sprintf("symmetric-like: peers see %s with %d different ports", k, len(ps)),
				Fix:    "hole punching will fail, transfers go through relays: enable UPnP or forward port 4100 on the router"}
		}
	}
	return check{Name: "nat type", OK: true, Detail: "port-preserving: hole punching can work"}
}

// portMapCheck reads the daemon's port-mapping state; ok is false when the
// daemon does not report one (an older daemon).
func portMapCheck(st control.Status) (check, bool) {
	ch := check{Name: "port mapping", OK: true}
	public := st.Reachability == "public"
	switch {
	case st.PortMap == "":
		return ch, false
	case strings.HasPrefix(st.PortMap, "mapped"):
		ch.Detail = "the router forwards " + strings.TrimSpace(strings.TrimPrefix(st.PortMap, "mapped")) + " to this peer (UPnP/NAT-PMP)"
	case st.PortMap == "off":
		ch.Detail = "off (--no-port-map or nat.disable_port_map)"
		if !public {
			ch.OK = false
			ch.Fix = "if your router speaks UPnP or NAT-PMP, drop --no-port-map so it forwards port 4100 to this peer; otherwise forward TCP and UDP 4100 by hand"
		}
	default: // on, but no router answered or none mapped
		ch.Detail = "on, but " + st.PortMap
		if public {
			ch.Detail += " (not needed: this peer is public)"
		} else {
			ch.OK = false
			ch.Fix = "enable UPnP or NAT-PMP in your router's settings, or forward TCP and UDP port 4100 to this machine"
		}
	}
	return ch, true
}

// clockCheck says whether this machine's clock is kept in sync. libp2p's
// TLS certificates are valid from an hour before their creation, so a
// clock more than an hour off fails the TLS handshake (TCP and QUIC) with
// every peer whose clock is right.
func clockCheck(synced, known bool) check {
	switch {
	case !known:
		return check{Name: "clock", OK: true, Detail: "not checked on this system; keep it in sync (TLS to peers fails when it is more than an hour off)"}
	case synced:
		return check{Name: "clock", OK: true, Detail: "synchronised by a time service"}
	default:
		return check{Name: "clock", OK: false, Detail: "not synchronised by any time service: a clock more than an hour off fails TLS with every peer",
			Fix: "turn on time sync: timedatectl set-ntp true (or install chrony or systemd-timesyncd)"}
	}
}
