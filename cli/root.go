// Package cli is the enxame command: cobra commands that parse flags and
// files into node.Config, start a daemon, or talk to a running one through
// its control API client, and print tables, progress or --json.
//
// cli imports node (and node/control); nothing imports cli but main.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/control"
	"github.com/spf13/cobra"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	// exitCancelled: the job the command waited for was cancelled.
	exitCancelled = 3
)

// codeError is an error with its own exit status.
type codeError struct {
	code int
	err  error
}

func (e codeError) Error() string { return e.err.Error() }
func (e codeError) Unwrap() error { return e.err }

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// env carries what every command needs: output streams and global flags.
type env struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	home           string
	apiAddr        string
	json           bool
	getenv         func(string) string
}

// Main runs the enxame command with args (without the program name) and
// returns the process exit status. Errors are printed as one line on
// stderr.
//
// The hidden first argument "sandbox-child" turns the process into a
// sandbox child of a worker's pool (see node.SandboxChildMain).
func Main(args []string) int {
	if len(args) == 1 && args[0] == node.SandboxChildCommand {
		return node.SandboxChildMain(os.Stdin, os.Stdout)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, os.Stdin, os.Stdout, os.Stderr, os.Getenv)
}

// Run is Main with explicit streams and environment, for tests.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdout: stdout, stderr: stderr, stdin: stdin, getenv: getenv}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetIn(stdin)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "enxame: %s\n", oneLine(err))
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var ce codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitError
}

func oneLine(err error) string {
	msg := err.Error()
	for i, r := range msg {
		if r == '\n' {
			return msg[:i]
		}
	}
	return msg
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "enxame",
		Short: "enxame: a peer-to-peer compute and file-sharing swarm",
		Long: `enxame runs a peer of a swarm: it finds other peers through a Kademlia DHT,
shares content-addressed files and runs WebAssembly work units for the swarm.

Start a peer with 'enxame daemon'; the other commands talk to it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// --version prints this binary's version; `enxame version` adds the
	// daemon's. `enxame completion bash|zsh|fish|powershell` is cobra's.
	root.Version = versionText(node.Build())
	root.SetVersionTemplate("enxame {{.Version}}\n")
	root.PersistentFlags().StringVar(&e.home, "home", "", "enxame home directory (default $ENXAME_HOME or ~/.enxame)")
	root.PersistentFlags().BoolVar(&e.json, "json", false, "print JSON instead of text")
	root.PersistentFlags().StringVar(&e.apiAddr, "api-addr", "", "talk to the daemon's HTTP API at this multiaddr (like /ip4/127.0.0.1/tcp/5001) instead of the home's socket (default $ENXAME_API); the token is $ENXAME_API_TOKEN, else the home's")
	_ = root.MarkPersistentFlagDirname("home") // fails only if the flag is missing
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(
		newInitCmd(e),
		newConfigCmd(e),
		newDaemonCmd(e),
		newIDCmd(e),
		newPeersCmd(e),
		newDoctorCmd(e),
		newConnectCmd(e),
		newDHTCmd(e),
		newStatusCmd(e),
		newVersionCmd(e),
		newAPICmd(e),
	)
	root.AddCommand(shareCommands(e)...)
	root.AddCommand(searchCommands(e)...)
	root.AddCommand(newComputeCmd(e), newDemoCmd(e), newSimnetCmd(e))
	root.AddCommand(newRepoCmd(e))
	return root
}

// homeDir resolves the home: --home, then $ENXAME_HOME, then ~/.enxame.
func (e *env) homeDir() (string, error) {
	if e.home != "" {
		return filepath.Abs(e.home)
	}
	if h := e.getenv("ENXAME_HOME"); h != "" {
		return filepath.Abs(h)
	}
	u := e.getenv("HOME")
	if u == "" {
		var err error
		if u, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("find home directory: %w (set --home or ENXAME_HOME)", err)
		}
	}
	return filepath.Join(u, ".enxame"), nil
}

// client returns a control API client: over TCP to --api-addr (or
// $ENXAME_API) with the token of $ENXAME_API_TOKEN or the home, else over
// the unix socket of the home's daemon.
func (e *env) client() (*control.Client, error) {
	if addr := e.apiTarget(); addr != "" {
		return e.tcpClient(addr)
	}
	home, err := e.homeDir()
	if err != nil {
		return nil, err
	}
	cfg, err := node.LoadConfig(home)
	if err != nil {
		return nil, err
	}
	sock := cfg.APISocket
	if !filepath.IsAbs(sock) {
		sock = filepath.Join(home, sock)
	}
	return control.NewClient(sock), nil
}

// apiErr rewrites "no daemon" into one actionable line.
func (e *env) apiErr(err error) error {
	if errors.Is(err, control.ErrNoDaemon) {
		if addr := e.apiTarget(); addr != "" {
			return fmt.Errorf("no daemon answers at %s (start one with 'enxame daemon --api %s')", addr, addr)
		}
		home, _ := e.homeDir()
		return fmt.Errorf("no daemon running for %s (start one with 'enxame daemon --home %s')", home, home)
	}
	return err
}

// printJSON writes v as indented JSON.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %s (see '%s --help')", cmd.CommandPath(), names, cmd.CommandPath())}
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) != 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q (see '%s --help')", cmd.CommandPath(), args[0], cmd.CommandPath())}
	}
	return nil
}
