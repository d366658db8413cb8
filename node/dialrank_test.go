package node

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

func TestDialRanker(t *testing.T) {
	tests := []struct {
		name  string
		addrs []string
		first string // the address dialled first (smallest delay)
		same  bool   // the ranking equals go-libp2p's default
	}{
		{
			name:  "loopback prefers tcp",
			addrs: []string{"/ip4/127.0.0.1/udp/4001/quic-v1", "/ip4/127.0.0.1/tcp/4001"},
			first: "/ip4/127.0.0.1/tcp/4001",
		},
		{
			name:  "private network prefers tcp",
			addrs: []string{"/ip4/192.168.1.7/udp/4001/quic-v1", "/ip4/192.168.1.7/tcp/4001"},
			first: "/ip4/192.168.1.7/tcp/4001",
		},
		{
			name:  "public keeps the default",
			addrs: []string{"/ip4/1.2.3.4/udp/4001/quic-v1", "/ip4/1.2.3.4/tcp/4001"},
			same:  true,
		},
		{
			name:  "quic only keeps the default",
			addrs: []string{"/ip4/127.0.0.1/udp/4001/quic-v1", "/ip4/127.0.0.1/udp/4002/quic-v1"},
			same:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var addrs []ma.Multiaddr
			for _, s := range tt.addrs {
				addrs = append(addrs, ma.StringCast(s))
			}
			got := dialRanker(addrs)
			if len(got) != len(addrs) {
				t.Fatalf("ranked %d addresses, want %d", len(got), len(addrs))
			}
			if tt.same {
				want := swarm.DefaultDialRanker(addrs)
				for i := range got {
					if !got[i].Addr.Equal(want[i].Addr) || got[i].Delay != want[i].Delay {
						t.Fatalf("ranked %v, want the default %v", got, want)
					}
				}
				return
			}
			best, bestDelay := "", time.Duration(1<<62)
			for _, ad := range got {
				if ad.Delay < bestDelay {
					best, bestDelay = ad.Addr.String(), ad.Delay
				}
			}
			if best != tt.first || bestDelay != 0 {
				t.Errorf("first dial %s at %v, want %s at 0 (ranking %v)", best, bestDelay, tt.first, got)
			}
		})
	}
}
