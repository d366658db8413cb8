package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/enxame/enxame/node"
	"github.com/libp2p/go-libp2p/gologshim"
	"github.com/spf13/cobra"
)

// shutdownBudget is how long the daemon waits for a clean stop after a
// signal before it exits anyway.
const shutdownBudget = 4500 * time.Millisecond

type daemonFlags struct {
	bootstrap []string
	listen    []string
	noMDNS    bool
	swarmKey  string
	logLevel  string
	lanDHT    bool
	noCompute bool
	slots     int
	storage   string
	noPortMap bool
	gateway   string
	api       string
}

func newDaemonCmd(e *env) *cobra.Command {
	var f daemonFlags
	c := &cobra.Command{
		Use:   "daemon",
		Short: "Run a peer: join the swarm and serve the control API",
		Long: `daemon runs this peer until SIGINT or SIGTERM. It initialises the home if
needed, listens on TCP and QUIC, joins the swarm through the bootstrap peers
(config plus --bootstrap), serves the DHT, discovers LAN peers by mDNS, and
serves the control API the other commands use. It prints its peer ID and the
addresses other peers can pass to --bootstrap.

With --json it prints one JSON object a line instead: {"event":"ready",
"peer_id", "addrs", "api_socket", "api_addr" (with --api), "home", "initialised", "ready_ms", ...}
once ready, then {"event":"stopping"} and {"event":"stopped"} on a clean
shutdown. Logs go to stderr either way.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDaemon(cmd.Context(), e, f)
		},
	}
	fl := c.Flags()
	fl.StringArrayVar(&f.bootstrap, "bootstrap", nil, "multiaddr of a peer to join through, ending in /p2p/PEERID (repeatable; added to the config's)")
	fl.StringArrayVar(&f.listen, "listen", nil, "multiaddr to listen on (repeatable; replaces the config's)")
	fl.BoolVar(&f.noMDNS, "no-mdns", false, "turn off mDNS LAN discovery")
	fl.StringVar(&f.swarmKey, "swarm-key", "", "private swarm key file (libp2p pnet PSK)")
	fl.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default from config: info)")
	fl.BoolVar(&f.lanDHT, "lan", false, "LAN/loopback swarm: turn off the DHT's per-subnet diversity filter")
	fl.BoolVar(&f.noCompute, "no-compute", false, "run no work units for other peers")
	fl.IntVar(&f.slots, "compute-slots", 0, "work units run at once (default: config, else one per core)")
	fl.BoolVar(&f.noPortMap, "no-port-map", false, "do not ask the LAN router for a port mapping (UPnP, NAT-PMP)")
	fl.StringVar(&f.gateway, "gateway", "", "serve the IPFS HTTP gateway (read-only) on this multiaddr, like /ip4/127.0.0.1/tcp/8080 (default: config gateway.listen, else off)")
	fl.StringVar(&f.api, "api", "", "also serve the HTTP API on TCP at this multiaddr, like /ip4/127.0.0.1/tcp/5001; every request needs the token of 'enxame api token' (default: config api.listen, else the unix socket only)")
	fl.StringVar(&f.storage, "storage-max", "", "block store quota, like 500MB or 10GiB (default: config storage.max, else 10GiB)")
	return c
}

func runDaemon(ctx context.Context, e *env, f daemonFlags) error {
	home, err := e.homeDir()
	if err != nil {
		return err
	}
	initialised := false
	if _, err := os.Stat(filepath.Join(home, node.IdentityFile)); errors.Is(err, os.ErrNotExist) {
		res, err := node.Init(home)
		if err != nil {
			return err
		}
		initialised = true
		if !e.json {
			fmt.Fprintf(e.stdout, "initialised %s\n", res.Home)
		}
	}
	cfg, err := node.LoadConfig(home)
	if err != nil {
		return err
	}
	if err := cfg.ApplyEnv(e.getenv); err != nil {
		return usageError{err}
	}
	cfg.Bootstrap = append(cfg.Bootstrap, f.bootstrap...)
	if len(f.listen) > 0 {
		cfg.Listen = f.listen
	}
	if f.noMDNS {
		cfg.DisableMDNS = true
	}
	if f.swarmKey != "" {
		cfg.SwarmKey = f.swarmKey
	}
	if f.logLevel != "" {
		cfg.LogLevel = f.logLevel
	}
	if f.lanDHT {
		cfg.DHT.DisableDiversityFilter = true
	}
	if f.noCompute {
		cfg.Compute.Disabled = true
	}
	if f.noPortMap {
		cfg.NAT.DisablePortMap = true
	}
	if f.gateway != "" {
		cfg.Gateway.Listen = f.gateway
	}
	if f.api != "" {
		cfg.API.Listen = f.api
	}
	if f.slots < 0 {
		return usageError{fmt.Errorf("--compute-slots %d: want > 0", f.slots)}
	}
	if f.slots > 0 {
		cfg.Compute.Slots = f.slots
	}
	if f.storage != "" {
		max, err := node.ParseByteSize(f.storage)
		if err != nil {
			return usageError{fmt.Errorf("--storage-max: %w", err)}
		}
		if max == 0 {
			return usageError{fmt.Errorf("--storage-max %q: want a size > 0", f.storage)}
		}
		cfg.Storage.Max = max
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	start := time.Now()
	n, err := node.New(cfg, node.Deps{Logger: log})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()

	took := time.Since(start)
	out := daemonOutput{w: e.stdout, json: e.json}
	out.ready(readyEvent{
		Event:       "ready",
		Version:     node.Version,
		PeerID:      n.Host().ID().String(),
		Addrs:       n.Addrs(),
		APISocket:   n.APISocket(),
		Gateway:     n.GatewayURL(),
		APIAddr:     n.APIAddr(),
		Home:        home,
		Initialised: initialised,
		ReadyMS:     took.Milliseconds(),
		ready:       took,
	})

	select {
	case err := <-done:
		// Run ended on its own: a fatal error in one of its parts.
		n.Close()
		if err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
		return nil
	case <-ctx.Done():
	}
	out.event("shutting down", "stopping")
	cancel()
	timer := time.NewTimer(shutdownBudget)
	defer timer.Stop()
	select {
	case err = <-done:
	case <-timer.C:
		log.Error("shutdown took too long; exiting anyway", "budget", shutdownBudget)
		return errors.New("daemon: shutdown timed out")
	}
	if cerr := n.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	out.event("stopped", "stopped")
	return nil
}

// readyEvent is the line `daemon --json` prints once the peer is ready.
type readyEvent struct {
	Event       string   `json:"event"` // "ready"
	Version     string   `json:"version"`
	PeerID      string   `json:"peer_id"`
	Addrs       []string `json:"addrs"` // dialable, each ending in /p2p/PEERID
	APISocket   string   `json:"api_socket"`
	Gateway     string   `json:"gateway,omitempty"`  // http://HOST:PORT when the gateway is on
	APIAddr     string   `json:"api_addr,omitempty"` // the TCP API (--api), port resolved
	Home        string   `json:"home"`
	Initialised bool     `json:"initialised"` // the home was created by this run
	ReadyMS     int64    `json:"ready_ms"`    // from start to ready

	ready time.Duration // for the text banner
}

// daemonOutput prints the daemon's lifecycle on stdout: a text banner and
// lines, or with --json one JSON object a line (NDJSON) with an "event"
// field: "ready", then "stopping" and "stopped" on a clean shutdown. Logs go
// to stderr either way.
type daemonOutput struct {
	w    io.Writer
	json bool
}

func (o daemonOutput) ready(ev readyEvent) {
	if o.json {
		o.line(ev)
		return
	}
	fmt.Fprintf(o.w, "enxame %s\npeer ID: %s\n", ev.Version, ev.PeerID)
	fmt.Fprintf(o.w, "addresses (pass one to another peer's --bootstrap):\n")
	for _, a := range ev.Addrs {
		fmt.Fprintf(o.w, "  %s\n", a)
	}
	fmt.Fprintf(o.w, "API socket: %s\n", ev.APISocket)
	if ev.Gateway != "" {
		fmt.Fprintf(o.w, "gateway: %s\n", ev.Gateway)
	}
	if ev.APIAddr != "" {
		fmt.Fprintf(o.w, "API: %s (token: 'enxame api token')\n", ev.APIAddr)
	}
	fmt.Fprintf(o.w, "ready in %s\n", ev.ready.Round(time.Millisecond))
}

// event prints text, or with --json {"event": name}.
func (o daemonOutput) event(text, name string) {
	if o.json {
		o.line(map[string]string{"event": name})
		return
	}
	fmt.Fprintln(o.w, text)
}

// line writes v as one line of JSON. A write error (stdout closed) is not
// the daemon's concern: it keeps running and logs on stderr.
func (o daemonOutput) line(v any) {
	_ = json.NewEncoder(o.w).Encode(v)
}

// newLogger builds the daemon's logger and routes libp2p's logs into it
// (libp2p at warn and above: its info level is chatty).
func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv})
	libLevel := max(lv, slog.LevelWarn)
	// ENXAME_LIBP2P_LOG_LEVEL lowers it, for debugging (the network lab).
	_ = libLevel.UnmarshalText([]byte(os.Getenv("ENXAME_LIBP2P_LOG_LEVEL")))
	gologshim.SetDefaultHandler(slog.NewTextHandler(w, &slog.HandlerOptions{Level: libLevel}))
	return slog.New(h)
}
