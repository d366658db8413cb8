package cli

import (
	"fmt"
	"strings"

	"github.com/enxame/enxame/node"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func newInitCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create the home: identity, config file and datastore",
		Long: `init creates the enxame home (--home, $ENXAME_HOME or ~/.enxame): an Ed25519
identity (mode 0600), a commented config.yaml and the datastore. Running it
again never overwrites the identity or the config.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			home, err := e.homeDir()
			if err != nil {
				return err
			}
			res, err := node.Init(home)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"home": res.Home, "peer_id": res.PeerID.String(), "created": res.Created})
			}
			if len(res.Created) == 0 {
				fmt.Fprintf(e.stdout, "home %s already initialised\npeer ID %s\n", res.Home, res.PeerID)
				return nil
			}
			fmt.Fprintf(e.stdout, "initialised %s (created %s)\npeer ID %s\n", res.Home, strings.Join(res.Created, ", "), res.PeerID)
			return nil
		},
	}
}

func newConfigCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Inspect and edit the configuration", Long: configLong()}
	c.AddCommand(newConfigSetCmd(e), newConfigGetCmd(e))
	c.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the effective config, defaults filled in",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(cfg)
			}
			fmt.Fprintf(e.stdout, "# home: %s\n", cfg.Home)
			enc := yaml.NewEncoder(e.stdout)
			enc.SetIndent(2)
			if err := enc.Encode(cfg); err != nil {
				return fmt.Errorf("print config: %w", err)
			}
			return enc.Close()
		},
	})
	return c
}
