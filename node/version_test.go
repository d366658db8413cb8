package node

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/enxame/enxame/node/control"
	"github.com/google/go-cmp/cmp"
)

func TestVersionOf(t *testing.T) {
	vcs := func(rev, tm, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "-compiler", Value: "gc"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: tm},
			{Key: "vcs.modified", Value: modified},
		}
	}
	const rev = "0d59e59a1b2c3d4e5f60718293a4b5c6d7e8f901"
	gov := runtime.Version()
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want control.Version
	}{
		{"no build info", nil, control.Version{Version: "devel", GoVersion: gov}},
		{"go test binary", &debug.BuildInfo{Main: debug.Module{Path: "github.com/enxame/enxame", Version: "(devel)"}},
			control.Version{Version: "devel", GoVersion: gov}},
		{"empty main version", &debug.BuildInfo{}, control.Version{Version: "devel", GoVersion: gov}},
		{"tagged release", &debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}, Settings: vcs(rev, "2026-12-06T20:13:52Z", "false")},
			control.Version{Version: "v0.2.0", GoVersion: gov, Revision: rev, Time: "2026-12-06T20:13:52Z"}},
		{"dirty checkout", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261206201352-0d59e59a1b2c+dirty"}, Settings: vcs(rev, "2026-12-06T20:13:52Z", "true")},
			control.Version{Version: "v0.0.0-20261206201352-0d59e59a1b2c+dirty", GoVersion: gov, Revision: rev, Time: "2026-12-06T20:13:52Z", Modified: true}},
		{"devel with vcs", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "", "false")},
			control.Version{Version: "devel", GoVersion: gov, Revision: rev}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, versionOf(tt.bi)); diff != "" {
				t.Errorf("versionOf() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBuildIsVersion checks that Version and the control API's version
// (what `enxame version` shows for the daemon) come from Build.
func TestBuildIsVersion(t *testing.T) {
	if Version != Build().Version || Version == "" {
		t.Errorf("Version = %q, Build().Version = %q; want the same, non-empty", Version, Build().Version)
	}
	if got, want := (backend{}).Version(), Build(); got != want {
		t.Errorf("backend.Version() = %+v, want Build() %+v", got, want)
	}
}
