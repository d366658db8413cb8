package node

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

func TestConfigTemplateIsDefault(t *testing.T) {
	got, err := ParseConfig("config.yaml", []byte(ConfigTemplate()))
	if err != nil {
		t.Fatalf("ParseConfig(template) error: %v", err)
	}
	if diff := cmp.Diff(DefaultConfig().WithDefaults(), got); diff != "" {
		t.Errorf("ParseConfig(template) mismatch (-want +got):\n%s", diff)
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want func(*Config)
	}{
		{"empty file is all defaults", "", func(*Config) {}},
		{"comments only", "# nothing\n", func(*Config) {}},
		{"bootstrap and durations", `
bootstrap:
  - /ip4/1.2.3.4/tcp/4100/p2p/12D3KooWSwTZYjXYjgoTQhGTQK4uFcTmcmEcWCbbBP8w4jNaqmWc
dht:
  retry_min: 250ms
  mode: client
`, func(c *Config) {
			c.Bootstrap = []string{"/ip4/1.2.3.4/tcp/4100/p2p/12D3KooWSwTZYjXYjgoTQhGTQK4uFcTmcmEcWCbbBP8w4jNaqmWc"}
			c.DHT.RetryMin = 250 * time.Millisecond
			c.DHT.Mode = "client"
		}},
		{"listen replaces the default list", "listen: [/ip4/127.0.0.1/tcp/0]\n", func(c *Config) {
			c.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := DefaultConfig()
			tt.want(&want)
			want = want.WithDefaults()
			got, err := ParseConfig("c.yaml", []byte(tt.in))
			if err != nil {
				t.Fatalf("ParseConfig(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParseConfig(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantLine  int
		wantField string
		wantText  string
	}{
		{"unknown top-level field", "log_level: info\nlisten_addrs: []\n", 2, "listen_addrs", "not found"},
		{"unknown nested field", "dht:\n  mode: server\n  buckets: 3\n", 3, "dht.buckets", "not found"},
		{"wrong type", "dht:\n  bucket_size: many\n", 2, "dht.bucket_size", "cannot unmarshal"},
		{"bad duration", "connections:\n  grace: soon\n", 2, "connections.grace", ""},
		{"syntax error", "listen: [\n", 0, "", ""},
		{"bad mode", "\ndht:\n  mode: sometimes\n", 3, "dht.mode", "want server"},
		{"bootstrap without peer ID", "bootstrap:\n  - /ip4/1.2.3.4/tcp/1\n", 2, "bootstrap[0]", "/p2p/"},
		{"malformed listen addr", "listen:\n  - /ip4/1.2.3.4/tcp/1\n  - /ip9/x\n", 3, "listen[1]", "malformed multiaddr"},
		{"bad log level", "log_level: loud\n", 1, "log_level", "want debug"},
		{"low above high", "connections:\n  low: 10\n  high: 5\n", 3, "connections.high", "low"},
		{"two documents", "log_level: info\n---\nlog_level: warn\n", 0, "", "more than one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("c.yaml", []byte(tt.in))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseConfig(%q) error = %v, want a *ConfigError", tt.in, err)
			}
			if tt.wantLine != 0 && ce.Line != tt.wantLine {
				t.Errorf("ParseConfig(%q) line = %d, want %d (%v)", tt.in, ce.Line, tt.wantLine, err)
			}
			if ce.Field != tt.wantField {
				t.Errorf("ParseConfig(%q) field = %q, want %q (%v)", tt.in, ce.Field, tt.wantField, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("ParseConfig(%q) error = %q, want it to contain %q", tt.in, err, tt.wantText)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseConfig(%q) error spans lines: %q", tt.in, err)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(ConfigTemplate()))
	f.Add([]byte(""))
	f.Add([]byte("dht:\n  mode: client\nbootstrap: [/ip4/1.2.3.4/tcp/1/p2p/12D3KooWSwTZYjXYjgoTQhGTQK4uFcTmcmEcWCbbBP8w4jNaqmWc]\n"))
	f.Add([]byte("listen: [\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("connections: {low: -1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("fuzz.yaml", data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseConfig error %v is not a *ConfigError", err)
			}
			return
		}
		// What parses must validate, and must survive a round trip.
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config that fails Validate: %v", err)
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("yaml.Marshal(parsed config): %v", err)
		}
		again, err := ParseConfig("again.yaml", out)
		if err != nil {
			t.Fatalf("ParseConfig(Marshal(cfg)) error: %v\n%s", err, out)
		}
		if diff := cmp.Diff(cfg, again); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}
