package cli

import (
	"fmt"

	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/control"
	"github.com/spf13/cobra"
)

// apiTarget is the daemon's TCP API address the commands talk to:
// --api-addr, else $ENXAME_API; "" means the home's unix socket.
func (e *env) apiTarget() string {
	if e.apiAddr != "" {
		return e.apiAddr
	}
	return e.getenv("ENXAME_API")
}

// tcpClient is a client for the TCP API at addr (a multiaddr, or
// host:port), with the token of $ENXAME_API_TOKEN, else the home's.
func (e *env) tcpClient(addr string) (*control.Client, error) {
	hostport, err := node.APIDialAddr(addr)
	if err != nil {
		return nil, usageError{fmt.Errorf("--api-addr: %w", err)}
	}
	tok := e.getenv("ENXAME_API_TOKEN")
	if tok == "" {
		home, err := e.homeDir()
		if err != nil {
			return nil, err
		}
		if tok, err = node.ReadAPIToken(home); err != nil {
			return nil, fmt.Errorf("%w (set ENXAME_API_TOKEN to the daemon's 'enxame api token')", err)
		}
	}
	return control.NewTCPClient(hostport, tok), nil
}

func newAPICmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "api",
		Short: "The HTTP API on TCP (daemon --api)",
	}
	c.AddCommand(&cobra.Command{
		Use:   "token",
		Short: "Print the token the HTTP API asks for on TCP",
		Long: `token prints the home's API token (the file api.token, mode 0600), creating
it if the home has none yet. Programs send it as "Authorization: Bearer TOKEN"
to the daemon's --api address; the unix socket needs none.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			home, err := e.homeDir()
			if err != nil {
				return err
			}
			tok, err := node.APIToken(home)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]string{"token": tok})
			}
			fmt.Fprintln(e.stdout, tok)
			return nil
		},
	})
	return c
}
