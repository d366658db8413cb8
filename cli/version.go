package cli

import (
	"fmt"
	"strings"

	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/control"
	"github.com/spf13/cobra"
)

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary and of the running daemon",
		Long: `Print the version of this binary and of the running daemon: the module
version and the commit the go command stamped into each (version "devel"
when a build carries none), and the Go version.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			local := node.Build()
			var daemon *control.Version
			if c, err := e.client(); err == nil {
				if v, err := c.Version(cmd.Context()); err == nil {
					daemon = &v
				}
			}
			if e.json {
				return e.printJSON(map[string]any{"client": local, "daemon": daemon})
			}
			fmt.Fprintf(e.stdout, "enxame %s\n", versionText(local))
			if daemon != nil {
				fmt.Fprintf(e.stdout, "daemon %s\n", versionText(*daemon))
			} else {
				fmt.Fprintln(e.stdout, "daemon not running")
			}
			return nil
		},
	}
}

// versionText is v on one line: "v0.2.0 (0d59e59a1b2c, 2026-12-06T20:13:52Z,
// modified; go1.26.8)", leaving out what the build did not record.
func versionText(v control.Version) string {
	var vcs []string
	if v.Revision != "" {
		vcs = append(vcs, v.Revision[:min(len(v.Revision), 12)])
	}
	if v.Time != "" {
		vcs = append(vcs, v.Time)
	}
	if v.Modified {
		vcs = append(vcs, "modified")
	}
	if len(vcs) == 0 {
		return fmt.Sprintf("%s (%s)", v.Version, v.GoVersion)
	}
	return fmt.Sprintf("%s (%s; %s)", v.Version, strings.Join(vcs, ", "), v.GoVersion)
}
