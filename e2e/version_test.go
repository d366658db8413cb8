package e2e

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// buildVersion is the "client" or "daemon" object of `enxame version --json`.
type buildVersion struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	Revision  string `json:"revision"`
	Time      string `json:"time"`
	Modified  bool   `json:"modified"`
}

// TestVersionFromBuild checks that `enxame version` and `enxame --version`
// report what the go command stamped into the binary, as `go version -m`
// reads it (issue 16): the module version ("devel" for "(devel)") and the
// VCS revision, time and modified flag when the build recorded them.
func TestVersionFromBuild(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m %s: %v", bin, err)
	}
	// The first line is "PATH: goVERSION", then tab-separated rows:
	// "mod PATH VERSION", "build KEY=VALUE", ...
	var want buildVersion
	sc := bufio.NewScanner(bytes.NewReader(out))
	if sc.Scan() {
		_, want.GoVersion, _ = strings.Cut(sc.Text(), ": ")
	}
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), "\t")
		switch {
		case len(f) >= 3 && f[0] == "mod":
			want.Version = f[2]
			if want.Version == "(devel)" {
				want.Version = "devel"
			}
		case len(f) == 2 && f[0] == "build":
			k, v, _ := strings.Cut(f[1], "=")
			switch k {
			case "vcs.revision":
				want.Revision = v
			case "vcs.time":
				want.Time = v
			case "vcs.modified":
				want.Modified = v == "true"
			}
		}
	}
	if want.Version == "" || want.GoVersion == "" {
		t.Fatalf("go version -m %s: no module version or Go version in:\n%s", bin, out)
	}

	var got struct {
		Client buildVersion `json:"client"`
	}
	mustJSON(t, &got, "version")
	if diff := cmp.Diff(want, got.Client); diff != "" {
		t.Errorf("version --json client mismatch with go version -m (-want +got):\n%s", diff)
	}

	text := enxame(t, "version")
	flag := enxame(t, "--version")
	first, _, _ := strings.Cut(text.stdout, "\n")
	if text.code != 0 || flag.code != 0 || !strings.HasPrefix(first, "enxame "+want.Version+" (") ||
		!strings.Contains(first, want.GoVersion) || flag.stdout != first+"\n" {
		t.Errorf("enxame version: exit %d, first line %q; enxame --version: exit %d, %q; want both \"enxame %s (…%s)\"",
			text.code, first, flag.code, flag.stdout, want.Version, want.GoVersion)
	}
}
