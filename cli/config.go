package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/enxame/enxame/node"
	"github.com/spf13/cobra"
)

// configLong is the help of `enxame config`.
func configLong() string {
	var b strings.Builder
	b.WriteString(`config inspects and edits the home's config.yaml. Keys are dotted paths
('gateway.listen', 'compute.sched.max_attempts'); 'config show' prints them
all with their effective values and 'enxame init' writes them with their
documentation.

These environment variables override a key (after the file, before flags):
`)
	for _, e := range node.EnvOverrides {
		fmt.Fprintf(&b, "  %-18s %s\n", e.Var, e.Key)
	}
	b.WriteString("A list takes a comma-separated value.")
	return b.String()
}

func newConfigSetCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Set a key in config.yaml (checked first; a bad key or value leaves the file as it was)",
		Long: `set writes VALUE under KEY in the home's config.yaml, keeping its comments,
after checking that the whole file is still valid. VALUE is YAML: 30s, 10GiB,
true, a string; a list is [a, b] or a,b. A running daemon reads the file when
it starts.`,
		Args: exactArgs(2, "KEY VALUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			home, err := e.homeDir()
			if err != nil {
				return err
			}
			if err := node.SetConfig(home, args[0], args[1]); err != nil {
				return configErr(err)
			}
			return nil
		},
	}
}

func newConfigGetCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "get KEY",
		Short: "Print the effective value of a key (file, defaults and environment)",
		Args:  exactArgs(1, "KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			v, err := cfg.ConfigValue(args[0])
			if err != nil {
				return configErr(err)
			}
			fmt.Fprintln(e.stdout, v)
			return nil
		},
	}
}

// loadConfig loads the home's config with the environment's overrides.
func (e *env) loadConfig() (node.Config, error) {
	home, err := e.homeDir()
	if err != nil {
		return node.Config{}, err
	}
	cfg, err := node.LoadConfig(home)
	if err != nil {
		return node.Config{}, err
	}
	if err := cfg.ApplyEnv(e.getenv); err != nil {
		return node.Config{}, usageError{err}
	}
	if err := cfg.Validate(); err != nil {
		return node.Config{}, usageError{fmt.Errorf("environment: %w", err)}
	}
	return cfg, nil
}

// configErr makes an unknown key or a bad value a usage error.
func configErr(err error) error {
	var ce *node.ConfigError
	if errors.Is(err, node.ErrUnknownKey) || errors.As(err, &ce) {
		return usageError{err}
	}
	return err
}
