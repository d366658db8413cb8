package node

import (
	"errors"
	"strings"
	"testing"

	"github.com/enxame/enxame/share"
	"go.yaml.in/yaml/v3"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
	}{
		{"0", 0},
		{"1234", 1234},
		{"10GiB", 10 << 30},
		{"10 GiB", 10 << 30},
		{"10gib", 10 << 30},
		{"500MB", 500e6},
		{"500M", 500e6},
		{"1.5KiB", 1536},
		{"1.5 TB", 1.5e12},
		{"64B", 64},
		{"8EiB", 0}, // unknown unit: error below
	}
	for _, tt := range tests[:len(tests)-1] {
		got, err := ParseByteSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "GiB", "-1", "1.5", "0.3B", "10 parsecs", "8EiB", "99999999999999999999", "9000PiB", "1e3", "1..5MB"} {
		if got, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{0, "0"},
		{10 << 30, "10GiB"},
		{500e6, "500MB"},
		{1536, "1536"},
		{1 << 20, "1MiB"},
		{1001, "1001"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}

func TestStorageMaxConfig(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ByteSize
	}{
		{"default", "", share.DefaultMaxBytes},
		{"binary unit", "storage:\n  max: 500MiB\n", 500 << 20},
		{"decimal unit", "storage:\n  max: 2GB\n", 2e9},
		{"plain bytes", "storage:\n  max: 1048576\n", 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig("c.yaml", []byte(tt.in))
			if err != nil {
				t.Fatalf("ParseConfig(%q): %v", tt.in, err)
			}
			if cfg.Storage.Max != tt.want {
				t.Errorf("ParseConfig(%q).Storage.Max = %d, want %d", tt.in, cfg.Storage.Max, tt.want)
			}
			// config show prints it back in a form that parses to the same.
			out, err := yaml.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseConfig("shown.yaml", out)
			if err != nil || again.Storage.Max != tt.want {
				t.Errorf("config show output parses to %d, %v; want %d", again.Storage.Max, err, tt.want)
			}
		})
	}
}

func TestStorageMaxConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		text string
	}{
		{"unknown unit", "log_level: info\nstorage:\n  max: 10 parsecs\n", 3, "unknown unit"},
		{"negative", "storage:\n  max: -5\n", 2, "max"},
		{"not a scalar", "storage:\n  max: [1]\n", 2, "size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("c.yaml", []byte(tt.in))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseConfig(%q) = %v, want a *ConfigError", tt.in, err)
			}
			if ce.Line != tt.line || !strings.HasPrefix(ce.Field, "storage.max") || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("ParseConfig(%q) = %v (line %d, field %q); want line %d, field storage.max, text %q", tt.in, err, ce.Line, ce.Field, tt.line, tt.text)
			}
		})
	}
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"10GiB", "500MB", "1.5 TB", "0", "", "-1", "9223372036854775807", "8PiB", "1.0000001KB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseByteSize(s)
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("ParseByteSize(%q) = %d, negative", s, v)
		}
		again, err := ParseByteSize(v.String())
		if err != nil || again != v {
			t.Fatalf("ParseByteSize(%q) = %d, whose String %q parses to %d, %v", s, v, v.String(), again, err)
		}
	})
}
