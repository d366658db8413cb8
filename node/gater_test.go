package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/internal/nodetest/hosttest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share"
	"github.com/enxame/enxame/share/wire"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// hostileProvider starts a host that speaks the share exchange and answers
// every block request with bytes that do not match the key (and says it has
// whatever it is asked about).
func hostileProvider(t testing.TB) host.Host {
	t.Helper()
	h := hosttest.New(t)
	h.SetStreamHandler(share.ProtocolID, func(s network.Stream) {
		r, w := wire.NewReader(s), wire.NewWriter(s)
		for {
			m, err := r.Read()
			if err != nil {
				s.Reset()
				return
			}
			req, ok := m.(*wire.Request)
			if !ok {
				continue
			}
			for _, k := range req.Keys {
				var out wire.Msg = &wire.Block{ID: req.ID, Key: k, Data: []byte("not the block you asked for")}
				if req.Flags&wire.FlagHaveOnly != 0 {
					out = &wire.Have{ID: req.ID, Key: k}
				}
				if err := w.Write(out); err != nil {
					s.Reset()
					return
				}
			}
			if err := w.Flush(); err != nil {
				s.Reset()
				return
			}
		}
	})
	return h
}

// TestGatedProviderIsDisconnectedAndRefused: a provider that sends blocks
// that fail verification is disconnected after GateAfter offences, and its
// connections are refused both ways (node/gater.go) while the gate lasts.
// Issue 3: such a provider is "scored down, then disconnected and gated
// for a while".
func TestGatedProviderIsDisconnectedAndRefused(t *testing.T) {
	ctx := t.Context()
	cfg := nodetest.Config(t)
	n, _ := nodetest.Start(t, cfg, node.Deps{})
	gateAfter := share.DefaultExchangeConfig().GateAfter
	h := hostileProvider(t)
	hai := peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
	root, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.SHA2_256, MhLength: -1}.Sum([]byte("the hostile provider claims this"))
	if err != nil {
		t.Fatal(err)
	}

	// Each fetch drops the provider at its first bad block: one offence.
	fetches := 0
	for !n.Exchange().Gated(h.ID()) {
		if fetches == gateAfter {
			t.Fatalf("the provider is not gated after %d fetches that each got a bad block from it", fetches)
		}
		fetches++
		if n.Host().Network().Connectedness(h.ID()) != network.Connected && fetches > 1 {
			t.Fatalf("the provider was disconnected before it was gated (fetch %d)", fetches)
		}
		fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := n.Fetch(fctx, root, share.FetchOptions{Providers: []peer.AddrInfo{hai}, NoProvidersTimeout: 300 * time.Millisecond})
		cancel()
		if err == nil {
			t.Fatalf("fetch %d of %s from the hostile provider succeeded", fetches, root)
		}
		if ok, _ := n.Blocks().Has(ctx, root); ok {
			t.Fatalf("a bad block of %s landed in the store", root)
		}
	}
	t.Logf("gated after %d fetches", fetches)

	waittest.For(t, "the gated provider to be disconnected", func() bool {
		return n.Host().Network().Connectedness(h.ID()) != network.Connected &&
			h.Network().Connectedness(n.Host().ID()) != network.Connected
	})
	// Redial from the node: refused before any connection is made.
	if err := n.Host().Connect(ctx, hai); err == nil {
		t.Error("the node redialed the gated provider, want the dial refused")
	}
	// Redial from the provider: the node refuses it once it is secured.
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.Connect(dctx, peer.AddrInfo{ID: n.Host().ID(), Addrs: n.Host().Addrs()}); err == nil {
		// With early muxer negotiation the dialer may see the connection
		// complete before the node closes it.
		waittest.For(t, "the node to close the gated provider's connection", func() bool {
			return h.Network().Connectedness(n.Host().ID()) != network.Connected
		})
	}
	if c := n.Host().Network().ConnsToPeer(h.ID()); len(c) > 0 {
		t.Errorf("the node has %d connections to the gated provider, want none", len(c))
	}
}
