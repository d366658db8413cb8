package node

import (
	"fmt"
	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/share"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/pbnjay/memory"
)

// hostOptions builds the libp2p options for cfg: TCP and QUIC (TCP only in
// a private swarm), TLS and Noise, yamux, a resource manager scaled to the
// machine, a connection manager, AutoNAT service, the relay client, and
// the reachability options of cfg.NAT (reach.go).
func hostOptions(cfg Config, key crypto.PrivKey, g *gater, rs *reach) ([]libp2p.Option, error) {
	cm, err := connmgr.NewConnManager(cfg.Connections.Low, cfg.Connections.High,
		connmgr.WithGracePeriod(cfg.Connections.Grace))
	if err != nil {
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	rm, err := resourceManager(cfg.Resources)
	if err != nil {
		return nil, err
	}
	listen := cfg.Listen
	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.UserAgent("enxame/" + Version),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(g),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.DialRanker(dialRanker),
		libp2p.EnableNATService(),
		libp2p.EnableRelay(),
	}
	ropts, err := reachOptions(cfg.NAT, listen, rs)
	if err != nil {
		return nil, err
	}
	opts = append(opts, ropts...)
	if cfg.SwarmKey != "" {
		psk, err := readSwarmKey(cfg.Home, cfg.SwarmKey)
		if err != nil {
			return nil, err
		}
		opts = append(opts, libp2p.PrivateNetwork(psk))
		listen = dropQUIC(listen)
	} else {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	opts = append(opts, libp2p.ListenAddrStrings(listen...))
	return opts, nil
}

func resourceManager(rc ResourceConfig) (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	// Our own protocols: per-peer stream and memory caps, so that one peer
	// cannot hold every stream of the exchange or the compute service (the
	// services add their own per-peer limits on top).
	limits.AddProtocolLimit(share.ProtocolID,
		rcmgr.BaseLimit{StreamsInbound: 1024, StreamsOutbound: 1024, Streams: 2048, Memory: 256 << 20},
		rcmgr.BaseLimitIncrease{StreamsInbound: 256, StreamsOutbound: 256, Streams: 512, Memory: 64 << 20})
	limits.AddProtocolPeerLimit(share.ProtocolID,
		rcmgr.BaseLimit{StreamsInbound: 16, StreamsOutbound: 16, Streams: 32, Memory: 64 << 20},
		rcmgr.BaseLimitIncrease{})
	limits.AddProtocolLimit(compute.ProtocolID,
		rcmgr.BaseLimit{StreamsInbound: 512, StreamsOutbound: 512, Streams: 1024, Memory: 64 << 20},
		rcmgr.BaseLimitIncrease{StreamsInbound: 128, StreamsOutbound: 128, Streams: 256, Memory: 16 << 20})
	limits.AddProtocolPeerLimit(compute.ProtocolID,
		rcmgr.BaseLimit{StreamsInbound: 64, StreamsOutbound: 64, Streams: 128, Memory: 16 << 20},
		rcmgr.BaseLimitIncrease{})
	// Keyword search (issue 15): a STORE or FIND is one short stream.
	limits.AddProtocolLimit(dht.SearchProtocolID,
		rcmgr.BaseLimit{StreamsInbound: 256, StreamsOutbound: 256, Streams: 512, Memory: 32 << 20},
		rcmgr.BaseLimitIncrease{StreamsInbound: 64, StreamsOutbound: 64, Streams: 128, Memory: 8 << 20})
	limits.AddProtocolPeerLimit(dht.SearchProtocolID,
		rcmgr.BaseLimit{StreamsInbound: 8, StreamsOutbound: 16, Streams: 24, Memory: 4 << 20},
		rcmgr.BaseLimitIncrease{})
	// Bitswap (IPFS interop): explicit per-peer limits too, beside the
	// rate limit on wants that share.Bitswap applies (issue 11).
	for _, p := range bitswapProtocols {
		limits.AddProtocolLimit(p,
			rcmgr.BaseLimit{StreamsInbound: 256, StreamsOutbound: 256, Streams: 512, Memory: 64 << 20},
			rcmgr.BaseLimitIncrease{StreamsInbound: 64, StreamsOutbound: 64, Streams: 128, Memory: 16 << 20})
		limits.AddProtocolPeerLimit(p,
			rcmgr.BaseLimit{StreamsInbound: 16, StreamsOutbound: 16, Streams: 32, Memory: 16 << 20},
			rcmgr.BaseLimitIncrease{})
	}
	mem := int64(rc.MaxMemoryMiB) << 20
	if mem == 0 {
		mem = int64(memory.TotalMemory() / 8)
	}
	fds := rc.MaxFileDescriptors
	if fds == 0 {
		fds = defaultFileDescriptors()
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.Scale(mem, fds)))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	return rm, nil
}

// bitswapProtocols are the Bitswap protocol IDs boxo speaks.
var bitswapProtocols = []protocol.ID{"/ipfs/bitswap", "/ipfs/bitswap/1.0.0", "/ipfs/bitswap/1.1.0", share.BitswapProtocol}

func readSwarmKey(home, path string) (pnet.PSK, error) {
	if !filepath.IsAbs(path) && home != "" {
		path = filepath.Join(home, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("swarm key: %w", err)
	}
	defer f.Close()
	psk, err := pnet.DecodeV1PSK(f)
	if err != nil {
		return nil, fmt.Errorf("swarm key %s: %w", path, err)
	}
	return psk, nil
}

// dropQUIC removes UDP listen addresses: libp2p's private networks work over
// TCP only.
func dropQUIC(addrs []string) []string {
	var out []string
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		if _, err := m.ValueForProtocol(ma.P_UDP); err == nil {
			continue
		}
		out = append(out, s)
	}
	return out
}
