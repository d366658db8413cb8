package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/control"
	"github.com/google/go-cmp/cmp"
)

// runCLI runs the command in-process and returns its exit status and
// stdout.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := Run(t.Context(), args, strings.NewReader(""), &out, io.Discard, func(string) string { return "" })
	return code, out.String()
}

func TestVersionText(t *testing.T) {
	const rev = "0d59e59a1b2c3d4e5f60718293a4b5c6d7e8f901"
	tests := []struct {
		name string
		v    control.Version
		want string
	}{
		{"devel", control.Version{Version: "devel", GoVersion: "go1.26.8"}, "devel (go1.26.8)"},
		{"release", control.Version{Version: "v0.2.0", GoVersion: "go1.26.8", Revision: rev, Time: "2026-12-06T20:13:52Z"},
			"v0.2.0 (0d59e59a1b2c, 2026-12-06T20:13:52Z; go1.26.8)"},
		{"modified", control.Version{Version: "v0.0.0-20261206201352-0d59e59a1b2c+dirty", GoVersion: "go1.26.8", Revision: rev, Time: "2026-12-06T20:13:52Z", Modified: true},
			"v0.0.0-20261206201352-0d59e59a1b2c+dirty (0d59e59a1b2c, 2026-12-06T20:13:52Z, modified; go1.26.8)"},
		{"short revision", control.Version{Version: "devel", GoVersion: "go1.26.8", Revision: "abc"}, "devel (abc; go1.26.8)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionText(tt.v); got != tt.want {
				t.Errorf("versionText(%+v) = %q, want %q", tt.v, got, tt.want)
			}
		})
	}
}

// TestVersionCommand checks `enxame version` and `enxame --version` without
// a daemon: both print this binary's version from its build information.
func TestVersionCommand(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	want := "enxame " + versionText(node.Build()) + "\n"
	if code, out := runCLI(t, "version", "--home", home); code != 0 || out != want+"daemon not running\n" {
		t.Errorf("version = exit %d, %q; want 0, %q", code, out, want+"daemon not running\n")
	}
	for _, flag := range []string{"--version", "-v"} {
		if code, out := runCLI(t, flag); code != 0 || out != want {
			t.Errorf("%s = exit %d, %q; want 0, %q", flag, code, out, want)
		}
	}
}

// TestVersionReportsDaemon checks that `enxame version --json` shows the
// running daemon's build information next to the client's.
func TestVersionReportsDaemon(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	d := runTestDaemon(t, daemonArgs(home, "--json")...)
	d.next(t) // the ready event
	code, out := runCLI(t, "version", "--json", "--home", home)
	if code != 0 {
		t.Fatalf("version --json: exit %d: %s", code, out)
	}
	var got struct {
		Client control.Version  `json:"client"`
		Daemon *control.Version `json:"daemon"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("version --json: %q: %v", out, err)
	}
	if got.Daemon == nil {
		t.Fatalf("version --json = %s, want a daemon version", out)
	}
	want := node.Build()
	if diff := cmp.Diff(want, got.Client); diff != "" {
		t.Errorf("version --json client mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, *got.Daemon); diff != "" {
		t.Errorf("version --json daemon mismatch (-want +got):\n%s", diff)
	}
	if code, _ := d.stop(t); code != 0 {
		t.Errorf("daemon: exit %d after cancel, want 0", code)
	}
}

// TestCompletion checks that `enxame completion SHELL` prints a script for
// each shell cobra supports, and that the completion it drives works: the
// hidden __complete command completes "vers" to "version".
func TestCompletion(t *testing.T) {
	tests := []struct {
		shell, want string
	}{
		{"bash", "# bash completion V2 for enxame"},
		{"zsh", "#compdef enxame"},
		{"fish", "# fish completion for enxame"},
		{"powershell", "# powershell completion for enxame"},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			code, out := runCLI(t, "completion", tt.shell)
			if code != 0 || !strings.HasPrefix(out, tt.want) {
				first, _, _ := strings.Cut(out, "\n")
				t.Errorf("completion %s = exit %d, first line %q; want 0, %q", tt.shell, code, first, tt.want)
			}
		})
	}
	code, out := runCLI(t, "__complete", "vers")
	if code != 0 || !strings.HasPrefix(out, "version\t") {
		t.Errorf("__complete vers = exit %d, %q; want 0 and version first", code, out)
	}
}
