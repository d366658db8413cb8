package node

import (
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// dialRanker is go-libp2p's default dial ranker with one change: when a
// peer has both TCP and QUIC addresses on loopback or a private network,
// TCP is dialled first and QUIC PrivateQUICDelay later (the default does
// the opposite). Over a LAN the two are equally fast to set up, but one
// TCP+TLS+yamux stream moves a GiB for ~1.5 CPU-seconds where quic-go
// needs ~4.4 (bench/transfer -transport quic), and block transfer is
// CPU-bound on both ends. Public addresses keep the default order: there
// QUIC's handshake, hole punching and loss recovery matter more.
func dialRanker(addrs []ma.Multiaddr) []network.AddrDelay {
	ranked := swarm.DefaultDialRanker(addrs)
	hasTCP := false
	for _, a := range addrs {
		if isLocal(a) && isTCP(a) {
			hasTCP = true
			break
		}
	}
	if !hasTCP {
		return ranked
	}
	for i := range ranked {
		a := ranked[i].Addr
		if !isLocal(a) {
			continue
		}
		switch {
		case isTCP(a):
			ranked[i].Delay = 0
		case isQUIC(a):
			ranked[i].Delay += swarm.PrivateQUICDelay
		}
	}
	return ranked
}

func isLocal(a ma.Multiaddr) bool {
	return manet.IsIPLoopback(a) || manet.IsPrivateAddr(a)
}

func isTCP(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_TCP)
	return err == nil && !isCircuit(a)
}

func isQUIC(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_QUIC_V1)
	return err == nil && !isCircuit(a)
}

func isCircuit(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}
