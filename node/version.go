package node

import (
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/enxame/enxame/node/control"
)

// Version is enxame's version, Build().Version: the module version the go
// command stamped into the binary, or "devel".
var Version = Build().Version

// Build returns the version of this binary, read once from the build
// information the go command embeds (runtime/debug.ReadBuildInfo): the main
// module's version and the VCS revision, commit time and modified flag. A
// binary without that information (go test, -buildvcs=false, a build
// outside a checkout) reports version "devel" and no revision. Safe for
// concurrent use.
func Build() control.Version { return build() }

var build = sync.OnceValue(func() control.Version {
	bi, _ := debug.ReadBuildInfo() // nil when the binary has none
	return versionOf(bi)
})

// versionOf extracts the version from bi, which may be nil.
func versionOf(bi *debug.BuildInfo) control.Version {
	v := control.Version{Version: "devel", GoVersion: runtime.Version()}
	if bi == nil {
		return v
	}
	if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
		v.Version = mv
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}
