package share

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/enxame/enxame/internal/nodetest/hosttest"
	"github.com/enxame/enxame/share/wire"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
)

// exServiceMemory returns the memory the resource manager of h has
// reserved for the exchange's streams (its service scope: without the
// muxer's buffers, which the peer scope counts too).
func exServiceMemory(t *testing.T, h host.Host) int64 {
	t.Helper()
	var mem int64
	err := h.Network().ResourceManager().ViewService(ExchangeServiceName, func(s network.ServiceScope) error {
		mem = s.Stat().Memory
		return nil
	})
	if err != nil {
		t.Fatalf("view service %s: %v", ExchangeServiceName, err)
	}
	return mem
}

// TestServeStalledFramesBoundedByResourceManager pins issue 11, finding 5:
// a peer that opens streams each announcing a maximal request and sending
// 5 bytes of it makes the server reserve (in the resource manager, which
// bounds it per peer) a small buffer per stream, never the size announced;
// a frame announcing more than a request may be is refused at once.
func TestServeStalledFramesBoundedByResourceManager(t *testing.T) {
	exVerifyNoLeaks(t)
	// The share protocol may hold 160 KiB per peer on this server: five
	// stalled frames' first buffers (32 KiB each), not six.
	const peerMem = 160 << 10
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	limits.AddProtocolPeerLimit(ProtocolID,
		rcmgr.BaseLimit{StreamsInbound: 64, StreamsOutbound: 64, Streams: 128, Memory: peerMem},
		rcmgr.BaseLimitIncrease{})
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()))
	if err != nil {
		t.Fatal(err)
	}
	h := hosttest.New(t, libp2p.ResourceManager(rm))
	cfg := exTestConfig()
	cfg.MaxStreamsPerPeer = 64
	ex, err := NewExchange(cfg, ExchangeDeps{Host: h, Blockstore: exNewBlockstore(t), Logger: exLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ex.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	srv := &exPeer{h: h, ex: ex}

	hostile := exNewHost(t)
	if err := hostile.Connect(t.Context(), srv.info()); err != nil {
		t.Fatal(err)
	}
	stalled := binary.AppendUvarint(nil, wire.MaxRequestFrame)
	stalled = append(stalled, byte(wire.TypeRequest), 1, 0, 0x80, 0x08, 5)
	const streams = 8
	var open []network.Stream
	for range streams {
		s, err := hostile.NewStream(t.Context(), h.ID(), ProtocolID)
		if err != nil {
			t.Fatalf("NewStream: %v", err)
		}
		defer s.Reset()
		if _, err := s.Write(stalled); err != nil {
			t.Fatalf("write: %v", err)
		}
		open = append(open, s)
	}
	// Five streams hold 32 KiB each; the sixth to eighth are refused.
	exWaitFor(t, "stalled frames reserved in the resource manager", func() bool {
		return exServiceMemory(t, h) >= 5*32<<10
	})
	if got := exServiceMemory(t, h); got > peerMem {
		t.Errorf("server reserved %d bytes for the peer's stalled frames, more than the limit %d", got, peerMem)
	}
	for _, s := range open {
		s.Reset()
	}
	// A frame that announces more than a request may be is an offence,
	// refused at once.
	s, err := hostile.NewStream(t.Context(), h.ID(), ProtocolID)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	s.Write(append(binary.AppendUvarint(nil, wire.MaxFrameSize), byte(wire.TypeRequest), 1, 0, 1))
	exWaitFor(t, "offence for an oversized request frame", func() bool { return ex.scores.offences(hostile.ID()) == 1 })
	exWaitFor(t, "stalled streams released", func() bool { return exServiceMemory(t, h) == 0 })
}
