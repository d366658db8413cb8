package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInput checks that every kind of bad input ends in one error line
// and a non-zero exit, never a stack trace.
func TestBadInput(t *testing.T) {
	running := t.TempDir()
	startDaemon(t, running)

	idle := t.TempDir() // initialised, no daemon
	if res := enxame(t, "init", "--home", idle); res.code != 0 {
		t.Fatalf("init: %s", res.stderr)
	}
	badConf := t.TempDir()
	if res := enxame(t, "init", "--home", badConf); res.code != 0 {
		t.Fatalf("init: %s", res.stderr)
	}
	if err := os.WriteFile(filepath.Join(badConf, "config.yaml"), []byte("listen:\n  - /ip4/127.0.0.1/tcp/0\nconnections:\n  low: many\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unknownConf := t.TempDir()
	if res := enxame(t, "init", "--home", unknownConf); res.code != 0 {
		t.Fatalf("init: %s", res.stderr)
	}
	if err := os.WriteFile(filepath.Join(unknownConf, "config.yaml"), []byte("listen: []\nbootstrapp: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string // substring of stderr
	}{
		{"malformed bootstrap", []string{"daemon", "--home", t.TempDir(), "--bootstrap", "not-a-multiaddr"}, 2, "malformed multiaddr"},
		{"bootstrap without p2p", []string{"daemon", "--home", t.TempDir(), "--bootstrap", "/ip4/127.0.0.1/tcp/4100"}, 2, "/p2p/"},
		{"malformed listen", []string{"daemon", "--home", t.TempDir(), "--listen", "/ip4/localhost/tcp/1"}, 2, "listen"},
		{"unknown flag", []string{"peers", "--home", running, "--bogus"}, 2, "unknown flag"},
		{"missing argument", []string{"connect", "--home", running}, 2, "one multiaddr"},
		{"connect malformed", []string{"connect", "--home", running, "/ip4/1.2.3"}, 1, "multiaddr"},
		{"connect without p2p", []string{"connect", "--home", running, "/ip4/127.0.0.1/tcp/1"}, 1, "/p2p/"},
		{"find bad peer ID", []string{"dht", "find-peer", "--home", running, "not-a-peer"}, 1, "peer ID"},
		{"no daemon", []string{"peers", "--home", idle}, 1, "no daemon running"},
		{"no daemon status", []string{"status", "--home", idle}, 1, "enxame daemon"},
		{"no home", []string{"peers", "--home", filepath.Join(t.TempDir(), "none")}, 1, "enxame daemon"},
		{"bad config value", []string{"config", "show", "--home", badConf}, 1, "config.yaml:4: connections.low"},
		{"bad config field", []string{"daemon", "--home", unknownConf}, 1, "bootstrapp"},
		{"unwritable home", []string{"init", "--home", filepath.Join(file, "home")}, 1, "home"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := enxame(t, tt.args...)
			if res.code != tt.wantCode {
				t.Errorf("enxame %v: exit %d, want %d (stderr %q)", tt.args, res.code, tt.wantCode, res.stderr)
			}
			oneLine(t, strings.Join(tt.args, " "), res.stderr)
			if !strings.Contains(res.stderr, tt.want) {
				t.Errorf("enxame %v: stderr %q, want it to contain %q", tt.args, res.stderr, tt.want)
			}
		})
	}
}
