package kubo

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestVersionMatchesToolsModule pins Version to the Kubo that
// tools/kubo/go.mod (and so scripts/build-kubo.sh) builds.
func TestVersionMatchesToolsModule(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "tools", "kubo", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/ipfs/kubo v(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("tools/kubo/go.mod does not require github.com/ipfs/kubo")
	}
	if got := string(m[1]); got != Version {
		t.Errorf("tools/kubo/go.mod requires kubo v%s, Version = %s", got, Version)
	}
}

func TestBuildScriptFound(t *testing.T) {
	p, err := buildScript()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(filepath.ToSlash(p), "scripts/build-kubo.sh") {
		t.Errorf("buildScript() = %s, want …/scripts/build-kubo.sh", p)
	}
}

func TestAddArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "defaults", args: nil, want: []string{"add", "--quieter", "--cid-version=1", "--raw-leaves"}},
		{name: "recursive", args: []string{"-r"}, want: []string{"add", "--quieter", "--cid-version=1", "--raw-leaves", "-r"}},
		{name: "override version", args: []string{"--cid-version=0"}, want: []string{"add", "--quieter", "--raw-leaves", "--cid-version=0"}},
		{name: "override both", args: []string{"--raw-leaves=false", "--cid-version", "0"}, want: []string{"add", "--quieter", "--raw-leaves=false", "--cid-version", "0"}},
		{name: "similar prefix kept", args: []string{"--raw-leavesx"}, want: []string{"add", "--quieter", "--cid-version=1", "--raw-leaves", "--raw-leavesx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, addArgs(tt.args)); diff != "" {
				t.Errorf("addArgs(%q) mismatch (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestEditConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	orig := `{"Routing":{"Type":null,"Keep":1},"Big":18446744073709551615,"Swarm":"flat"}`
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	err := editConfig(path, map[string]any{
		"Routing.Type":            "none",
		"Internal.Bitswap.Enable": false,
		"Bootstrap":               []string{},
	})
	if err != nil {
		t.Fatalf("editConfig() = %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var want any
	_ = json.Unmarshal([]byte(`{"Routing":{"Type":"none","Keep":1},"Big":18446744073709551615,"Swarm":"flat",
		"Internal":{"Bitswap":{"Enable":false}},"Bootstrap":[]}`), &want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("editConfig() mismatch (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(b), "18446744073709551615") {
		t.Errorf("editConfig() lost integer precision:\n%s", b)
	}

	if err := editConfig(path, map[string]any{"Swarm.ConnMgr.Type": "none"}); err == nil {
		t.Error("editConfig(Swarm.ConnMgr.Type) on a non-object Swarm = nil, want an error")
	}
}

func TestTCPHostPort(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "/ip4/127.0.0.1/tcp/5001", want: "127.0.0.1:5001"},
		{in: "/ip6/::1/tcp/5001", want: "[::1]:5001"},
		{in: "/ip4/127.0.0.1/udp/5001/quic-v1", wantErr: true},
		{in: "/unix/tmp/sock", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := tcpHostPort(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("tcpHostPort(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestLineWriter(t *testing.T) {
	var sink strings.Builder
	var lines []string
	lw := &lineWriter{w: &sink, line: func(s string) { lines = append(lines, s) }}
	for _, chunk := range []string{"Init", "ializing\nDaemon is", " ready\n", "partial"} {
		if n, err := lw.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	if want := []string{"Initializing", "Daemon is ready"}; !slices.Equal(lines, want) {
		t.Errorf("lines = %q, want %q", lines, want)
	}
	if got, want := sink.String(), "Initializing\nDaemon is ready\npartial"; got != want {
		t.Errorf("copied %q, want %q", got, want)
	}
}

func TestTail(t *testing.T) {
	tl := newTail(8)
	_, _ = tl.Write([]byte("0123"))
	if got := tl.String(); got != "0123" {
		t.Errorf("String() = %q, want %q", got, "0123")
	}
	_, _ = tl.Write([]byte("456789ab"))
	if got, want := tl.String(), "…456789ab"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
