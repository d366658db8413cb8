package node

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestConfigDocsCurrent: configdoc.go is what `go generate ./node` writes
// from the config structs' comments today (issue 16: the template comes from
// the struct's doc comments).
func TestConfigDocsCurrent(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "run", "./internal/configgen", "-check").CombinedOutput()
	if err != nil {
		t.Fatalf("configdoc.go is stale (run go generate ./node): %v\n%s", err, out)
	}
}

// TestConfigKeysDocumented: every key of the config file has a doc
// comment, so the template `enxame init` writes explains it; a new key
// needs nothing else.
func TestConfigKeysDocumented(t *testing.T) {
	var walk func(tp reflect.Type, prefix string)
	walk = func(tp reflect.Type, prefix string) {
		for i := range tp.NumField() {
			f := tp.Field(i)
			key, _ := yamlKey(f)
			if key == "" {
				continue
			}
			// A field documented together with the one before it
			// ("RetryMin ... up to RetryMax") needs no comment of its own.
			shared := i > 0 && strings.Contains(fieldDoc(tp, tp.Field(i-1), ""), f.Name)
			if fieldDoc(tp, f, key) == "" && !shared {
				t.Errorf("config key %s%s (%s.%s) has no doc comment", prefix, key, tp, f.Name)
			}
			if isSection(f.Type) {
				walk(f.Type, prefix+key+".")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	tpl := ConfigTemplate()
	for _, k := range ConfigKeys() {
		if k == "nat_port_map" { // Deprecated: not in the template
			continue
		}
		last := k[strings.LastIndexByte(k, '.')+1:]
		if !strings.Contains(tpl, last+":") {
			t.Errorf("template has no key %s", k)
		}
	}
}

func TestSetConfig(t *testing.T) {
	tests := []struct {
		name, key, value string
		check            func(Config) bool
	}{
		{"duration", "gateway.fetch_timeout", "3s", func(c Config) bool { return c.Gateway.FetchTimeout == 3*time.Second }},
		{"nested sched key", "compute.sched.max_attempts", "7", func(c Config) bool { return c.Compute.Sched.MaxAttempts == 7 }},
		{"size", "storage.max", "2GiB", func(c Config) bool { return c.Storage.Max == 2<<30 }},
		{"bool", "share.disable_bitswap", "true", func(c Config) bool { return c.Share.DisableBitswap }},
		{"comma list", "listen", "/ip4/127.0.0.1/tcp/1,/ip4/127.0.0.1/tcp/2", func(c Config) bool {
			return reflect.DeepEqual(c.Listen, []string{"/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/2"})
		}},
		{"flow list", "nat.static_relays", "[]", func(c Config) bool { return len(c.NAT.StaticRelays) == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			if _, err := Init(home); err != nil {
				t.Fatal(err)
			}
			if err := SetConfig(home, tt.key, tt.value); err != nil {
				t.Fatalf("SetConfig(%s, %s) error: %v", tt.key, tt.value, err)
			}
			cfg, err := LoadConfig(home)
			if err != nil {
				t.Fatalf("LoadConfig after set: %v", err)
			}
			if !tt.check(cfg) {
				t.Errorf("SetConfig(%s, %s): the loaded config does not have it", tt.key, tt.value)
			}
			data, _ := os.ReadFile(filepath.Join(home, ConfigFile))
			if !strings.Contains(string(data), "# enxame configuration.") || !strings.Contains(string(data), "# listen lists the multiaddrs") {
				t.Error("SetConfig dropped the file's comments")
			}
		})
	}
}

func TestSetConfigRejects(t *testing.T) {
	tests := []struct {
		name, key, value string
		unknown          bool // error wraps ErrUnknownKey, else is a *ConfigError
	}{
		{"unknown key", "gateway.nope", "1", true},
		{"unknown section", "nope.listen", "1", true},
		{"empty key", "", "1", true},
		{"wrong type", "gateway.fetch_timeout", "banana", false},
		{"invalid value", "dht.mode", "sideways", false},
		{"negative", "compute.sched_nope", "1", true},
		{"invalid multiaddr", "gateway.listen", "127.0.0.1:8080", false},
		{"negative count", "compute.queue_len", "-1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			if _, err := Init(home); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(home, ConfigFile)
			before, _ := os.ReadFile(path)
			err := SetConfig(home, tt.key, tt.value)
			var ce *ConfigError
			switch {
			case err == nil:
				t.Fatalf("SetConfig(%q, %q) = nil, want an error", tt.key, tt.value)
			case tt.unknown && !errors.Is(err, ErrUnknownKey):
				t.Errorf("SetConfig(%q, %q) = %v, want ErrUnknownKey", tt.key, tt.value, err)
			case !tt.unknown && !errors.As(err, &ce):
				t.Errorf("SetConfig(%q, %q) = %v, want a *ConfigError", tt.key, tt.value, err)
			}
			after, _ := os.ReadFile(path)
			if string(after) != string(before) {
				t.Errorf("SetConfig(%q, %q) failed but changed the file", tt.key, tt.value)
			}
		})
	}
}

func TestApplyEnv(t *testing.T) {
	env := map[string]string{
		"ENXAME_LISTEN":    "/ip4/127.0.0.1/tcp/5000, /ip4/127.0.0.1/udp/5000/quic-v1",
		"ENXAME_GATEWAY":   "/ip4/127.0.0.1/tcp/8080",
		"ENXAME_BOOTSTRAP": "",
	}
	cfg := DefaultConfig()
	if err := cfg.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatalf("ApplyEnv: %v", err)
	}
	if want := []string{"/ip4/127.0.0.1/tcp/5000", "/ip4/127.0.0.1/udp/5000/quic-v1"}; !reflect.DeepEqual(cfg.Listen, want) {
		t.Errorf("ApplyEnv: Listen = %v, want %v", cfg.Listen, want)
	}
	if cfg.Gateway.Listen != "/ip4/127.0.0.1/tcp/8080" {
		t.Errorf("ApplyEnv: Gateway.Listen = %q", cfg.Gateway.Listen)
	}
	if len(cfg.Bootstrap) != 0 {
		t.Errorf("ApplyEnv: an empty ENXAME_BOOTSTRAP set Bootstrap to %v", cfg.Bootstrap)
	}
}

// TestWithDefaultsFillsEveryZero: a zero Config takes every default, and a
// set value is kept (defaults live in DefaultConfig alone).
func TestWithDefaultsFillsEveryZero(t *testing.T) {
	got := Config{}.WithDefaults()
	want := DefaultConfig().WithDefaults()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Config{}.WithDefaults() differs from DefaultConfig()")
	}
	c := Config{Compute: ComputeConfig{MemoryMiB: 512}}
	if got := c.WithDefaults().Compute; got.MemoryMiB != 512 || got.UnitTimeout != DefaultConfig().Compute.UnitTimeout {
		t.Errorf("WithDefaults: MemoryMiB %d UnitTimeout %s, want 512 and the default", got.MemoryMiB, got.UnitTimeout)
	}
}
