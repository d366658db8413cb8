package dht

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/waittest"
	"github.com/libp2p/go-libp2p/core/network"
)

// TestSearchDisconnectsMalformedPeer: a peer that sends invalid data on the
// search protocol is disconnected and dropped from the routing table, as
// the wire rules say, and the router keeps serving the others; a peer
// whose stream merely ends is kept.
func TestSearchDisconnectsMalformedPeer(t *testing.T) {
	body := func(b ...byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }
	var answer bytes.Buffer
	if err := WriteSearchMsg(&answer, &SearchMsg{Type: msgFindResp}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		send []byte
		bad  bool
	}{
		{"garbage body", body(0xff, 0x00, 0x13, 0x37), true},
		{"length overflows", bytes.Repeat([]byte{0xff}, 11), true},
		{"frame over the cap", binary.AppendUvarint(nil, MaxSearchMessage+1), true},
		{"empty frame", []byte{0}, true},
		{"an answer as a request", answer.Bytes(), true},
		{"nothing", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, evil, good := newSearchPeer(t), newSearchPeer(t), newSearchPeer(t)
			connect(t, evil.h, target.h)
			connect(t, good.h, target.h)
			waittest.For(t, "the target's table to hold the evil peer", func() bool {
				return target.r.kad.RoutingTable().Find(evil.h.ID()) != ""
			})
			gone := make(chan struct{})
			var once sync.Once
			target.h.Network().Notify(&network.NotifyBundle{DisconnectedF: func(_ network.Network, c network.Conn) {
				if c.RemotePeer() == evil.h.ID() {
					once.Do(func() { close(gone) })
				}
			}})
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			st, err := evil.h.NewStream(ctx, target.h.ID(), SearchProtocolID)
			if err != nil {
				t.Fatalf("open search stream: %v", err)
			}
			if _, err := st.Write(tt.send); err != nil {
				t.Fatalf("write: %v", err)
			}
			_ = st.CloseWrite()
			// The target ends the stream: reset, or closed after no answer.
			_, _ = io.Copy(io.Discard, st)
			st.Close()
			if tt.bad {
				waittest.For(t, "the target to disconnect the evil peer", func() bool {
					select {
					case <-gone:
						return true
					default:
						return false
					}
				})
				if target.r.kad.RoutingTable().Find(evil.h.ID()) != "" {
					t.Error("the evil peer is still in the target's routing table")
				}
			} else {
				if target.h.Network().Connectedness(evil.h.ID()) != network.Connected {
					t.Error("a peer whose stream ended without data was disconnected")
				}
				if target.r.kad.RoutingTable().Find(evil.h.ID()) == "" {
					t.Error("a peer whose stream ended without data left the routing table")
				}
			}
			// The others are still served.
			resp, err := good.s.sendStream(ctx, target.h.ID(), FindMsg("acores", 10))
			if err != nil || resp.Type != msgFindResp {
				t.Fatalf("FIND from a good peer after: %v, %+v", err, resp)
			}
		})
	}
}

// TestReadSearchMsgStreamErrors: a frame length cut short by the stream
// is an I/O error, not the peer's malformed data (which would disconnect
// it).
func TestReadSearchMsgStreamErrors(t *testing.T) {
	_, err := ReadSearchMsg(bufio.NewReader(bytes.NewReader([]byte{0x80})))
	if err == nil || errors.Is(err, ErrMalformed) {
		t.Errorf("length cut short: err %v, want an I/O error not wrapping ErrMalformed", err)
	}
	_, err = ReadSearchMsg(bufio.NewReader(bytes.NewReader(bytes.Repeat([]byte{0xff}, 11))))
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("overflowing length: err %v, want ErrMalformed", err)
	}
}
