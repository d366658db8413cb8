package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// modTrap is a tiny valid WebAssembly module (its _start traps).
var modTrap = []byte("\x00asm\x01\x00\x00\x00" +
	"\x01\x04\x01\x60\x00\x00" + "\x03\x02\x01\x00" +
	"\x07\x0a\x01\x06_start\x00\x00" + "\x0a\x05\x01\x03\x00\x00\x0b")

func TestTrustReplicas(t *testing.T) {
	tests := []struct {
		name     string
		f        jobFlags
		want     int
		usageErr bool
	}{
		{"neither: the daemon's default", jobFlags{}, 0, false},
		{"replicas", jobFlags{replicas: 3}, 3, false},
		{"trust one", jobFlags{trust: "one"}, 1, false},
		{"trust pair", jobFlags{trust: "pair"}, 2, false},
		{"trust majority", jobFlags{trust: "majority"}, 3, false},
		{"both agreeing", jobFlags{trust: "majority", replicas: 3}, 3, false},
		{"both disagreeing", jobFlags{trust: "pair", replicas: 3}, 0, true},
		{"unknown level", jobFlags{trust: "all"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.f.trustReplicas()
			var ue usageError
			if isUsage := errors.As(err, &ue); isUsage != tt.usageErr || (err != nil && !isUsage) {
				t.Fatalf("trustReplicas(%+v) error = %v, want usage error %v", tt.f, err, tt.usageErr)
			}
			if got != tt.want {
				t.Errorf("trustReplicas(%+v) = %d, want %d", tt.f, got, tt.want)
			}
		})
	}
}

// TestComputeSubmitTrustNotice pins issue 11 finding 6: a job submitted
// without a trust setting, so with one replica, gets a one-line note on
// stderr; choosing the trust (--trust, --replicas) silences it.
func TestComputeSubmitTrustNotice(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	d := runTestDaemon(t, daemonArgs(home)...)
	for !strings.HasPrefix(d.next(t), "ready in ") {
	}
	t.Cleanup(func() { d.stop(t) })
	mod := filepath.Join(t.TempDir(), "trap.wasm")
	if err := os.WriteFile(mod, modTrap, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		flags []string
		note  bool
	}{
		{"default", nil, true},
		{"trust one", []string{"--trust", "one"}, false},
		{"replicas 1", []string{"--replicas", "1"}, false},
		{"trust majority", []string{"--trust", "majority"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"compute", "submit", "--home", home, mod}, tt.flags...)
			if code := Run(t.Context(), args, nil, &out, &errb, func(string) string { return "" }); code != 0 {
				t.Fatalf("compute submit %v: exit %d, stderr %q", tt.flags, code, errb.String())
			}
			got := strings.Contains(errb.String(), "accepted unchecked")
			if got != tt.note {
				t.Errorf("compute submit %v: stderr %q; want the trust note %v", tt.flags, errb.String(), tt.note)
			}
			if n := strings.Count(errb.String(), "\n"); tt.note && n != 1 {
				t.Errorf("compute submit %v: stderr has %d lines, want the one-line note", tt.flags, n)
			}
		})
	}
}
