package dht

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testPeer = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"

func TestBackoff(t *testing.T) {
	tests := []struct {
		name     string
		attempt  int
		min, max time.Duration
		u        float64
		want     time.Duration
	}{
		{"first retry, no jitter", 1, time.Second, time.Minute, 0.5, time.Second},
		{"second doubles", 2, time.Second, time.Minute, 0.5, 2 * time.Second},
		{"fifth", 5, time.Second, time.Minute, 0.5, 16 * time.Second},
		{"capped", 20, time.Second, time.Minute, 0.5, time.Minute},
		{"capped after jitter", 7, time.Second, time.Minute, 0.99, time.Minute},
		{"low jitter", 1, time.Second, time.Minute, 0, 800 * time.Millisecond},
		{"high jitter", 1, time.Second, time.Minute, 0.999, 1199 * time.Millisecond},
		{"attempt zero acts as first", 0, time.Second, time.Minute, 0.5, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Backoff(tt.attempt, tt.min, tt.max, tt.u)
			if got.Truncate(time.Millisecond) != tt.want {
				t.Errorf("Backoff(%d, %v, %v, %v) = %v, want %v", tt.attempt, tt.min, tt.max, tt.u, got, tt.want)
			}
		})
	}
}

// TestBackoffMonotonic pins that, without jitter, delays never shrink and
// never pass max, whatever the attempt count.
func TestBackoffMonotonic(t *testing.T) {
	prev := time.Duration(0)
	for a := 1; a < 100; a++ {
		d := Backoff(a, 100*time.Millisecond, 3*time.Second, 0.5)
		if d < prev || d > 3*time.Second {
			t.Fatalf("Backoff(%d) = %v after %v, want monotonic and ≤ 3s", a, d, prev)
		}
		prev = d
	}
}

func TestParsePeerAddr(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; empty means success
	}{
		{"tcp", "/ip4/127.0.0.1/tcp/4100/p2p/" + testPeer, ""},
		{"quic", "/ip4/127.0.0.1/udp/4100/quic-v1/p2p/" + testPeer, ""},
		{"dns", "/dns4/example.com/tcp/4100/p2p/" + testPeer, ""},
		{"no p2p", "/ip4/127.0.0.1/tcp/4100", "no /p2p/PEERID"},
		{"malformed", "/ip4/999.0.0.1/tcp/4100", "malformed multiaddr"},
		{"not a multiaddr", "127.0.0.1:4100", "malformed multiaddr"},
		{"empty", "", "malformed multiaddr"},
		{"bad peer id", "/ip4/127.0.0.1/tcp/4100/p2p/notapeer", "malformed multiaddr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ai, err := ParsePeerAddr(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParsePeerAddr(%q) error = %v", tt.in, err)
				}
				if ai.ID.String() != testPeer || len(ai.Addrs) != 1 {
					t.Errorf("ParsePeerAddr(%q) = %v, want peer %s with one address", tt.in, ai, testPeer)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePeerAddr(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("ParsePeerAddr(%q) error spans lines: %q", tt.in, err)
			}
		})
	}
}

func TestParseBootstrapMergesAddrs(t *testing.T) {
	got, err := ParseBootstrap([]string{
		"/ip4/127.0.0.1/tcp/1/p2p/" + testPeer,
		"/ip4/127.0.0.1/udp/1/quic-v1/p2p/" + testPeer,
	})
	if err != nil {
		t.Fatalf("ParseBootstrap: %v", err)
	}
	if len(got) != 1 || len(got[0].Addrs) != 2 {
		t.Fatalf("ParseBootstrap() = %v, want one peer with two addresses", got)
	}
	if _, err := ParseBootstrap([]string{"/ip4/127.0.0.1/tcp/1/p2p/" + testPeer, "/ip4/1.2.3.4"}); err == nil ||
		!strings.Contains(err.Error(), "bootstrap[1]") {
		t.Errorf("ParseBootstrap(bad second) error = %v, want one naming bootstrap[1]", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		mod       func(*Config)
		wantField string // empty: valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"zero is default", func(c *Config) { *c = Config{} }, ""},
		{"bad mode", func(c *Config) { c.Mode = "peer" }, "mode"},
		{"prefix without slash", func(c *Config) { c.ProtocolPrefix = "enxame" }, "protocol_prefix"},
		{"negative bucket", func(c *Config) { c.BucketSize = -1 }, "bucket_size"},
		{"negative concurrency", func(c *Config) { c.Concurrency = -3 }, "concurrency"},
		{"negative refresh", func(c *Config) { c.RefreshInterval = -time.Second }, "refresh_interval"},
		{"retry max below min", func(c *Config) { c.RetryMin, c.RetryMax = time.Minute, time.Second }, "retry_max"},
		{"negative request timeout", func(c *Config) { c.RequestTimeout = -time.Second }, "request_timeout"},
		{"negative lookup timeout", func(c *Config) { c.LookupTimeout = -time.Second }, "lookup_timeout"},
		{"mute max below min", func(c *Config) { c.MuteMin, c.MuteMax = time.Hour, time.Minute }, "mute_max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want *FieldError", err)
			}
			if fe.Field != tt.wantField {
				t.Errorf("Validate() field = %q, want %q", fe.Field, tt.wantField)
			}
		})
	}
	c := DefaultConfig()
	c.Bootstrap = []string{"/ip4/127.0.0.1/tcp/1"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "/p2p/") {
		t.Errorf("Validate(bootstrap without /p2p/) = %v, want an error about /p2p/", err)
	}
}

func TestWithDefaults(t *testing.T) {
	if diff := cmp.Diff(DefaultConfig(), Config{}.WithDefaults()); diff != "" {
		t.Errorf("Config{}.WithDefaults() mismatch (-want +got):\n%s", diff)
	}
	c := Config{BucketSize: 7, DisableDiversityFilter: true}.WithDefaults()
	if c.BucketSize != 7 || !c.DisableDiversityFilter || c.Concurrency != 10 {
		t.Errorf("WithDefaults kept %+v, want BucketSize 7, filter off, Concurrency 10", c)
	}
}
