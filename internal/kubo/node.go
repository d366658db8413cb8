package kubo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config configures a daemon started by Start. A zero field means its
// default.
type Config struct {
	// Binary is the ipfs executable, usually from Binary. Required.
	Binary string
	// Dir is a directory the node owns for its lifetime: the repository
	// (IPFS_PATH) is Dir/repo and the daemon's stdout and stderr go to
	// Dir/daemon.log. Required; created if missing; Dir/repo must not exist.
	Dir string
	// Settings are Kubo config values applied on top of DefaultSettings,
	// keyed by dotted path ("Routing.Type") with JSON-encodable values; a
	// nil value writes JSON null, which Kubo reads as its built-in default.
	// Keys are applied in lexical order, so "Swarm" is written before
	// "Swarm.ConnMgr.Type".
	Settings map[string]any
	// LogLevel is GOLOG_LOG_LEVEL for the daemon and the command line.
	// Default "error".
	LogLevel string
	// StartTimeout bounds repository creation plus daemon start-up.
	// Default 60s.
	StartTimeout time.Duration
	// StopTimeout is how long Stop waits for the daemon to exit after
	// SIGINT before it kills it. Default 15s.
	StopTimeout time.Duration
}

// DefaultSettings returns the Kubo config values Start applies on top of
// `ipfs init --profile=test` (which already puts the API, gateway and swarm
// on 127.0.0.1 port 0 and turns off mDNS, AutoConf and AutoTLS). They keep a
// node private to the machine and quiet: no bootstrap peers, no content
// routing (Routing.Type "none": no DHT, no delegated HTTP routers), no
// announcements, no relay, hole punching, AutoNAT service or telemetry.
//
// Bitswap still fetches from directly connected peers: with no router a
// Bitswap session finds providers only by broadcasting its wants to the peers
// it is connected to, and Internal.Bitswap.BroadcastControl is disabled so it
// broadcasts to every connected peer, not only to those on private or
// loopback addresses or that sent it blocks before. Connect peers with
// SwarmConnect before fetching.
//
// The swarm listens on TCP and QUIC (quic-v1), both on 127.0.0.1 port 0.
// The returned map is a fresh copy.
func DefaultSettings() map[string]any {
	return map[string]any{
		"Addresses.API":                            "/ip4/127.0.0.1/tcp/0",
		"Addresses.Gateway":                        "/ip4/127.0.0.1/tcp/0",
		"Addresses.Swarm":                          []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"},
		"AutoConf.Enabled":                         false,
		"AutoNAT.ServiceMode":                      "disabled",
		"AutoTLS.Enabled":                          false,
		"Bootstrap":                                []string{},
		"Discovery.MDNS.Enabled":                   false,
		"HTTPRetrieval.Enabled":                    false,
		"Internal.Bitswap.BroadcastControl.Enable": false,
		"Plugins.Plugins.telemetry.Config.Mode":    "off",
		"Provide.Enabled":                          false,
		"Routing.Type":                             "none",
		"Swarm.DisableNatPortMap":                  true,
		"Swarm.EnableHolePunching":                 false,
		"Swarm.RelayClient.Enabled":                false,
		"Swarm.RelayService.Enabled":               false,
		"Swarm.Transports.Network.Relay":           false,
	}
}

// Node is a running Kubo daemon. Its methods are safe for concurrent use;
// each command-line method runs one `ipfs` process against the daemon's RPC
// API. Stop must be called to end the daemon and the goroutine that waits
// for it.
type Node struct {
	bin     string
	dir     string
	repo    string
	logPath string
	env     []string
	stopDur time.Duration

	cmd  *exec.Cmd
	done chan struct{} // closed once the daemon has exited
	// waitErr is the daemon's exit status; written before done is closed.
	waitErr error

	api     string // RPC API multiaddr, e.g. /ip4/127.0.0.1/tcp/5001
	apiURL  string // http://127.0.0.1:5001
	gateway string // http://127.0.0.1:8080, or "" when none

	stopOnce sync.Once
	stopErr  error
}

// Start creates a repository in cfg.Dir/repo with `ipfs init --profile=test
// --empty-repo` and `ipfs bootstrap rm --all`, writes DefaultSettings and
// cfg.Settings into its config, runs `ipfs daemon`, and returns once the
// daemon has printed "Daemon is ready" and its RPC API answers. On failure
// the daemon is stopped and the error carries the tail of its log.
//
// The daemon gets SIGKILL if the calling process dies (on Linux), so a test
// binary killed by a timeout leaves no daemon behind.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Binary == "" {
		return nil, errors.New("kubo: config: Binary must be set")
	}
	if cfg.Dir == "" {
		return nil, errors.New("kubo: config: Dir must be set")
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "error"
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 15 * time.Second
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("kubo: config: Dir: %w", err)
	}
	n := &Node{
		bin:     cfg.Binary,
		dir:     dir,
		repo:    filepath.Join(dir, "repo"),
		logPath: filepath.Join(dir, "daemon.log"),
		stopDur: cfg.StopTimeout,
		done:    make(chan struct{}),
	}
	n.env = append(os.Environ(),
		"IPFS_PATH="+n.repo,
		"GOLOG_LOG_LEVEL="+cfg.LogLevel,
		"IPFS_TELEMETRY=off",
	)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("kubo: start: %w", err)
	}
	if _, err := os.Stat(n.repo); err == nil {
		return nil, fmt.Errorf("kubo: start: repository %s already exists", n.repo)
	}
	logFile, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kubo: start: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if err := n.initRepo(ctx, logFile, cfg.Settings); err != nil {
		logFile.Close()
		return nil, err
	}
	if err := n.startDaemon(ctx, logFile); err != nil {
		return nil, err
	}
	return n, nil
}

// initRepo creates and configures the repository, logging the commands'
// output to logFile.
func (n *Node) initRepo(ctx context.Context, logFile *os.File, settings map[string]any) error {
	for _, args := range [][]string{
		{"init", "--profile=test", "--empty-repo"},
		{"bootstrap", "rm", "--all"},
	} {
		cmd := exec.CommandContext(ctx, n.bin, args...)
		cmd.Env = n.env
		out, err := cmd.CombinedOutput()
		fmt.Fprintf(logFile, "$ ipfs %s\n%s", strings.Join(args, " "), out)
		if err != nil {
			return fmt.Errorf("kubo: ipfs %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	all := DefaultSettings()
	maps.Copy(all, settings)
	if err := editConfig(filepath.Join(n.repo, "config"), all); err != nil {
		return fmt.Errorf("kubo: configure %s: %w", n.repo, err)
	}
	return nil
}

// startDaemon runs `ipfs daemon` and waits until it is ready. logFile is
// owned by the daemon from here on and closed once it exits.
func (n *Node) startDaemon(ctx context.Context, logFile *os.File) error {
	ready := make(chan struct{})
	var (
		mu       sync.Mutex
		api, gw  string
		gotReady bool
	)
	watch := &lineWriter{w: logFile, line: func(line string) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case strings.HasPrefix(line, "RPC API server listening on "):
			api = strings.TrimSpace(strings.TrimPrefix(line, "RPC API server listening on "))
		case strings.HasPrefix(line, "Gateway server listening on "):
			gw = strings.TrimSpace(strings.TrimPrefix(line, "Gateway server listening on "))
		case strings.TrimSpace(line) == "Daemon is ready" && !gotReady:
			gotReady = true
			close(ready)
		}
	}}
	fmt.Fprintf(logFile, "$ ipfs daemon\n")
	n.cmd = exec.Command(n.bin, "daemon")
	n.cmd.Env = n.env
	n.cmd.Stdout = watch
	n.cmd.Stderr = logFile
	n.cmd.SysProcAttr = daemonSysProcAttr()

	started := make(chan error, 1)
	// The goroutine is owned by n: it ends when the daemon exits, and Stop
	// waits for that. It stays locked to its OS thread because the parent-death
	// signal fires when the thread that started the child exits.
	go func() {
		defer close(n.done)
		runtime.LockOSThread()
		if err := n.cmd.Start(); err != nil {
			logFile.Close()
			started <- err
			return
		}
		started <- nil
		n.waitErr = n.cmd.Wait()
		logFile.Close()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("kubo: start daemon: %w", err)
	}

	fail := func(err error) error {
		n.stopOnce.Do(n.kill) // a later Stop has nothing left to do
		return fmt.Errorf("kubo: start daemon in %s: %w\n%s", n.repo, err, n.LogTail(4<<10))
	}
	select {
	case <-ready:
	case <-n.done:
		return fail(fmt.Errorf("daemon exited before it was ready: %v", n.waitErr))
	case <-ctx.Done():
		return fail(fmt.Errorf("waiting for \"Daemon is ready\": %w", ctx.Err()))
	}

	mu.Lock()
	apiAddr, gwAddr := api, gw
	mu.Unlock()
	if apiAddr == "" { // fall back to the file Kubo writes for its own command line
		b, err := os.ReadFile(filepath.Join(n.repo, "api"))
		if err != nil {
			return fail(fmt.Errorf("find the RPC API address: %w", err))
		}
		apiAddr = strings.TrimSpace(string(b))
	}
	hostPort, err := tcpHostPort(apiAddr)
	if err != nil {
		return fail(fmt.Errorf("RPC API address: %w", err))
	}
	n.api = apiAddr
	n.apiURL = "http://" + hostPort
	if gwAddr != "" {
		if hp, err := tcpHostPort(gwAddr); err == nil {
			n.gateway = "http://" + hp
		}
	}
	if err := n.ping(ctx); err != nil {
		return fail(err)
	}
	return nil
}

// ping checks that the RPC API answers.
func (n *Node) ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.apiURL+"/api/v0/version", nil)
	if err != nil {
		return err
	}
	req.Close = true // leave no idle connection (and its goroutines) behind
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("RPC API %s: %w", n.apiURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("RPC API %s: %s: %s", n.apiURL, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// Stop interrupts the daemon (SIGINT), waits up to Config.StopTimeout for it
// to exit, kills it if it has not, and waits for it to be gone. It returns
// an error if the daemon had to be killed or had exited before Stop with a
// failure. Calling Stop again returns the first result.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() {
		select {
		case <-n.done:
			if n.waitErr != nil {
				n.stopErr = fmt.Errorf("kubo: daemon in %s exited before Stop: %v", n.repo, n.waitErr)
			}
			return
		default:
		}
		if err := n.cmd.Process.Signal(os.Interrupt); err != nil {
			n.kill()
			return
		}
		timer := time.NewTimer(n.stopDur)
		defer timer.Stop()
		select {
		case <-n.done:
		case <-timer.C:
			n.kill()
			n.stopErr = fmt.Errorf("kubo: daemon in %s did not exit %v after SIGINT; killed it", n.repo, n.stopDur)
		}
	})
	return n.stopErr
}

// kill kills the daemon and waits until it has exited.
func (n *Node) kill() {
	_ = n.cmd.Process.Kill()
	<-n.done
}

// Exited returns a channel that is closed once the daemon process has exited
// and its output has been flushed to the log.
func (n *Node) Exited() <-chan struct{} { return n.done }

// Repo returns the repository directory (IPFS_PATH).
func (n *Node) Repo() string { return n.repo }

// LogPath returns the file that holds the daemon's stdout and stderr.
func (n *Node) LogPath() string { return n.logPath }

// APIAddr returns the RPC API's multiaddr, as passed to `ipfs --api`.
func (n *Node) APIAddr() string { return n.api }

// APIURL returns the RPC API's base URL, such as http://127.0.0.1:5001.
func (n *Node) APIURL() string { return n.apiURL }

// GatewayURL returns the HTTP gateway's base URL, or "" if the daemon did not
// report one.
func (n *Node) GatewayURL() string { return n.gateway }

// LogTail returns at most max bytes from the end of the daemon's log.
func (n *Node) LogTail(max int) string {
	f, err := os.Open(n.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	off := max64(st.Size()-int64(max), 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// editConfig sets dotted keys in Kubo's JSON config file.
func editConfig(path string, settings map[string]any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var cfg map[string]any
	if err := dec.Decode(&cfg); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	for _, key := range slices.Sorted(maps.Keys(settings)) {
		if err := setPath(cfg, key, settings[key]); err != nil {
			return err
		}
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	return os.WriteFile(path, append(out, '\n'), 0o600)
}

// setPath sets m[a][b][c] = v for key "a.b.c", creating objects as needed.
func setPath(m map[string]any, key string, v any) error {
	parts := strings.Split(key, ".")
	for i, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			if m[p] != nil {
				return fmt.Errorf("setting %s: %s is not an object", key, strings.Join(parts[:i+1], "."))
			}
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
	return nil
}

// tcpHostPort turns /ip4/H/tcp/P or /ip6/H/tcp/P into a host:port.
func tcpHostPort(maddr string) (string, error) {
	f := strings.Split(maddr, "/")
	if len(f) < 5 || f[0] != "" || f[3] != "tcp" {
		return "", fmt.Errorf("unsupported multiaddr %q", maddr)
	}
	switch f[1] {
	case "ip4", "dns", "dns4":
		return f[2] + ":" + f[4], nil
	case "ip6", "dns6":
		return "[" + f[2] + "]:" + f[4], nil
	}
	return "", fmt.Errorf("unsupported multiaddr %q", maddr)
}

// lineWriter copies everything to w and calls line for each complete line.
// Write never fails, so the daemon never blocks on a full stdout pipe.
type lineWriter struct {
	w    io.Writer
	line func(string)
	mu   sync.Mutex
	buf  []byte
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	_, _ = lw.w.Write(p)
	lw.buf = append(lw.buf, p...)
	for {
		i := bytes.IndexByte(lw.buf, '\n')
		if i < 0 {
			break
		}
		lw.line(string(lw.buf[:i]))
		lw.buf = lw.buf[i+1:]
	}
	if len(lw.buf) > 64<<10 { // a line this long is not one we look for
		lw.buf = lw.buf[:0]
	}
	return len(p), nil
}

// tail is an io.Writer that keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
	cut bool
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if t.cut {
		s = "…" + s
	}
	return s
}
