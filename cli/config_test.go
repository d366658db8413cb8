package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command line with env as the environment and returns
// its exit code, stdout and stderr.
func runConfigCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(t.Context(), args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

// TestConfigSetGet: `config set` writes a key that `config get` then
// reads; a bad key or value is a usage error (exit 2) naming the key and
// leaves the file as it was; ENXAME_GATEWAY overrides gateway.listen
// (issue 16: config set, ENXAME_* overrides).
func TestConfigSetGet(t *testing.T) {
	home := t.TempDir()
	if code, _, stderr := runConfigCLI(t, nil, "init", "--home", home); code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runConfigCLI(t, nil, "config", "set", "--home", home, "compute.sched.max_attempts", "5"); code != 0 {
		t.Fatalf("config set: exit %d: %s", code, stderr)
	}
	if code, out, _ := runConfigCLI(t, nil, "config", "get", "--home", home, "compute.sched.max_attempts"); code != 0 || strings.TrimSpace(out) != "5" {
		t.Errorf("config get after set: exit %d, %q; want 5", code, out)
	}
	path := filepath.Join(home, "config.yaml")
	before, _ := os.ReadFile(path)
	tests := []struct {
		name, key, value, want string
	}{
		{"unknown key", "compute.sched.nope", "1", "unknown config key"},
		{"wrong type", "compute.sched.max_attempts", "many", "compute.sched.max_attempts"},
		{"invalid value", "log_level", "loud", "log_level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runConfigCLI(t, nil, "config", "set", "--home", home, tt.key, tt.value)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("config set %s %s: exit %d, stderr %q; want 2 naming %q", tt.key, tt.value, code, stderr, tt.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Errorf("config set %s %s failed but changed the file", tt.key, tt.value)
			}
		})
	}
	env := map[string]string{"ENXAME_GATEWAY": "/ip4/127.0.0.1/tcp/8080"}
	if code, out, stderr := runConfigCLI(t, env, "config", "get", "--home", home, "gateway.listen"); code != 0 || strings.TrimSpace(out) != "/ip4/127.0.0.1/tcp/8080" {
		t.Errorf("config get gateway.listen with ENXAME_GATEWAY: exit %d, %q, %s", code, out, stderr)
	}
	env = map[string]string{"ENXAME_GATEWAY": "localhost:8080"}
	if code, _, stderr := runConfigCLI(t, env, "config", "get", "--home", home, "gateway.listen"); code != 2 || !strings.Contains(stderr, "gateway.listen") {
		t.Errorf("a bad ENXAME_GATEWAY: exit %d, stderr %q; want 2 naming gateway.listen", code, stderr)
	}
}
