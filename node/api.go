package node

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/node/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Default and maximum durations of control API calls that reach the network.
const (
	defaultConnectTimeout = 30 * time.Second
	defaultFindTimeout    = time.Minute
	maxFindTimeout        = 10 * time.Minute
)

// backend implements control.Backend for a node.
type backend struct{ n *Node }

var _ control.Backend = backend{}

func (b backend) ID() control.ID {
	h := b.n.host
	id := control.ID{ID: h.ID().String(), Addrs: b.n.Addrs(), AgentVersion: "enxame/" + Version}
	for _, p := range h.Mux().Protocols() {
		id.Protocols = append(id.Protocols, string(p))
	}
	slices.Sort(id.Protocols)
	return id
}

func (b backend) Peers() []control.Peer {
	h := b.n.host
	seen := map[peer.ID]bool{}
	var out []control.Peer
	for _, c := range h.Network().Conns() {
		p := c.RemotePeer()
		if seen[p] {
			continue
		}
		seen[p] = true
		// Show the connection streams use: a direct one over a relayed one.
		for _, d := range h.Network().ConnsToPeer(p) {
			if !isRelayed(d.RemoteMultiaddr()) {
				c = d
				break
			}
		}
		dir := "outbound"
		if c.Stat().Direction == network.DirInbound {
			dir = "inbound"
		}
		cp := control.Peer{ID: p.String(), Addr: c.RemoteMultiaddr().String(), Direction: dir,
			Latency: h.Peerstore().LatencyEWMA(p), Path: b.n.peerPath(p)}
		if v, err := h.Peerstore().Get(p, "AgentVersion"); err == nil {
			cp.Agent, _ = v.(string)
		}
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b control.Peer) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (b backend) Connect(ctx context.Context, req control.ConnectRequest) (control.ConnectResult, error) {
	ai, err := dht.ParsePeerAddr(req.Addr)
	if err != nil {
		return control.ConnectResult{}, control.Errorf(control.CodeBadRequest, "connect: %w", err)
	}
	if ai.ID == b.n.host.ID() {
		return control.ConnectResult{}, control.Errorf(control.CodeBadRequest, "connect: %s is this node", ai.ID)
	}
	ctx, cancel := context.WithTimeout(ctx, defaultConnectTimeout)
	defer cancel()
	start := time.Now()
	if err := b.n.host.Connect(ctx, ai); err != nil {
		return control.ConnectResult{}, control.Errorf(control.CodeUnreached, "connect %s: %w", ai.ID, err)
	}
	return control.ConnectResult{ID: ai.ID.String(), Took: time.Since(start)}, nil
}

func (b backend) FindPeer(ctx context.Context, req control.FindPeerRequest) (control.FindPeerResult, error) {
	id, err := peer.Decode(req.Peer)
	if err != nil {
		return control.FindPeerResult{}, control.Errorf(control.CodeBadRequest, "find peer: invalid peer ID %q: %w", req.Peer, err)
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = defaultFindTimeout
	}
	timeout = min(timeout, maxFindTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := b.n.router.FindPeer(ctx, id)
	out := control.FindPeerResult{ID: id.String(), Queried: res.Queried, Took: res.Took}
	for _, a := range res.Peer.Addrs {
		out.Addrs = append(out.Addrs, a.String())
	}
	switch {
	case errors.Is(err, dht.ErrNotFound):
		return out, control.Errorf(control.CodeNotFound, "find peer %s: not found after querying %d peers in %s", id, res.Queried, res.Took.Round(time.Millisecond))
	case err != nil && ctx.Err() != nil:
		return out, control.Errorf(control.CodeTimeout, "find peer %s: no answer within %s", id, timeout)
	case err != nil:
		return out, err
	}
	return out, nil
}

func (b backend) Table() []control.Bucket {
	var out []control.Bucket
	for _, bk := range b.n.router.Table() {
		cb := control.Bucket{CPL: bk.CPL}
		for _, p := range bk.Peers {
			cb.Peers = append(cb.Peers, control.TablePeer{ID: p.ID.String(), AddedAt: p.AddedAt, LastUseful: p.LastUseful, Connected: p.Connected})
		}
		out = append(out, cb)
	}
	return out
}

func (b backend) Status() control.Status {
	n := b.n
	st := control.Status{
		ID:           n.host.ID().String(),
		Version:      Version,
		StartedAt:    n.started,
		Uptime:       n.uptime(),
		Peers:        len(n.host.Network().Peers()),
		RoutingTable: n.router.TableSize(),
		DHTMode:      n.router.Mode(),
		Reachability: n.reach.Load(),
	}
	for _, a := range n.host.Network().ListenAddresses() {
		st.Listen = append(st.Listen, a.String())
	}
	st.Observed = observedAddrs(n)
	st.PortMap = PortMapOff
	if n.nat != nil {
		st.PortMap = n.nat.portMapState(n.host.Network().ListenAddresses())
	}
	u := n.blocks.Usage()
	st.StorageBytes, st.StorageMax = u.Bytes, u.Max
	for _, bp := range n.router.Bootstrap() {
		st.Bootstrap = append(st.Bootstrap, control.BootstrapPeer{ID: bp.ID.String(), Addrs: bp.Addrs,
			Connected: bp.Connected, Attempts: bp.Attempts, LastError: bp.LastError, NextRetry: bp.NextRetry})
	}
	return st
}

// observedAddrs are addresses other peers see us at (identify) that are not
// among our own interface addresses.
func observedAddrs(n *Node) []string {
	all, ok := n.host.(interface{ AllAddrs() []ma.Multiaddr })
	if !ok {
		return nil
	}
	own := map[string]bool{}
	for _, a := range n.host.Addrs() {
		own[a.String()] = true
	}
	var out []string
	for _, a := range all.AllAddrs() {
		if !own[a.String()] {
			out = append(out, a.String())
		}
	}
	return out
}

func (b backend) Version() control.Version {
	return Build()
}
