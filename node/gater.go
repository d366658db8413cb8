package node

import (
	"sync/atomic"

	"github.com/enxame/enxame/share"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// gater refuses connections to and from peers the exchange has gated for
// misbehaving (invalid blocks, unrequested blocks, malformed messages), for
// as long as the gate lasts. The exchange is set after the host is built.
type gater struct {
	ex atomic.Pointer[share.Exchange]
}

func (g *gater) gated(p peer.ID) bool {
	ex := g.ex.Load()
	return ex != nil && ex.Gated(p)
}

func (g *gater) InterceptPeerDial(p peer.ID) bool                 { return !g.gated(p) }
func (g *gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !g.gated(p) }
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.gated(p)
}
func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
