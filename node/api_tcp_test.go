package node_test

import (
	"errors"
	"testing"

	"github.com/enxame/enxame/node"
)

// TestAPIListenConfig: api.listen takes a TCP multiaddr and rejects others
// with a ConfigError naming the field.
func TestAPIListenConfig(t *testing.T) {
	tests := []struct {
		listen string
		ok     bool
	}{
		{"", true},
		{"/ip4/127.0.0.1/tcp/5001", true},
		{"/ip6/::1/tcp/0", true},
		{"/ip4/127.0.0.1/udp/5001/quic-v1", false},
		{"/ip4/127.0.0.1/udp/5001", false},
		{"127.0.0.1:5001", false},
		{"/ip4/999.0.0.1/tcp/1", false},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			cfg := node.DefaultConfig()
			cfg.API.Listen = tt.listen
			err := cfg.Validate()
			var ce *node.ConfigError
			switch {
			case tt.ok && err != nil:
				t.Errorf("Validate(api.listen %q) = %v, want nil", tt.listen, err)
			case !tt.ok && (!errors.As(err, &ce) || ce.Field != "api.listen"):
				t.Errorf("Validate(api.listen %q) = %v, want a ConfigError on api.listen", tt.listen, err)
			}
		})
	}
}

func TestAPIDialAddr(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"/ip4/127.0.0.1/tcp/5001", "127.0.0.1:5001", true},
		{"/ip6/::1/tcp/5001", "[::1]:5001", true},
		{"127.0.0.1:5001", "127.0.0.1:5001", true},
		{"localhost:80", "localhost:80", true},
		{"/ip4/127.0.0.1/udp/1", "", false},
		{"5001", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := node.APIDialAddr(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("APIDialAddr(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
