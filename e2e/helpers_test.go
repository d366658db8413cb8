package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin is the enxame binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "enxame-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "enxame")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/enxame/enxame")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build enxame:", err)
		return 1
	}
	return m.Run()
}

// result is what one command printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

// enxame runs the binary with args and returns its output. HOME points into
// the test's temp dir so nothing touches the real ~/.enxame.
func enxame(t *testing.T, args ...string) result {
	t.Helper()
	return enxameWithin(t, 60*time.Second, args...)
}

// enxameWithin is enxame for a command that may run longer than a minute
// on a loaded machine: it is killed after limit.
func enxameWithin(t *testing.T, limit time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = testEnv(t)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run enxame %v: %v", args, err)
		}
		res.code = ee.ExitCode()
	}
	return res
}

// mustJSON runs a command with --json, fails the test unless it exits 0, and
// decodes its output into v.
func mustJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	res := enxame(t, append(args, "--json")...)
	if res.code != 0 {
		t.Fatalf("enxame %v: exit %d: %s", args, res.code, res.stderr)
	}
	if err := json.Unmarshal([]byte(res.stdout), v); err != nil {
		t.Fatalf("enxame %v --json: decode %q: %v", args, res.stdout, err)
	}
}

// testEnv is the environment of every command: no ENXAME_HOME, HOME in the
// temp dir.
func testEnv(t *testing.T) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	if v := os.Getenv("GOCOVERDIR"); v != "" {
		env = append(env, "GOCOVERDIR="+v)
	}
	return env
}

// daemon is one running `enxame daemon`.
type daemon struct {
	t      *testing.T
	home   string
	cmd    *exec.Cmd
	id     string
	addrs  []string
	socket string
	ready  time.Duration // as the daemon printed it

	gateway string // http://HOST:PORT when --gateway was given

	mu     sync.Mutex
	out    bytes.Buffer // stdout after the banner
	logs   bytes.Buffer // stderr
	exited chan struct{}
	err    error
}

// startDaemon starts a daemon on home with loopback listen addresses, mDNS
// off and the LAN DHT profile, plus extra args, and waits until it prints
// "ready". The daemon is killed at cleanup if still running.
func startDaemon(t *testing.T, home string, extra ...string) *daemon {
	t.Helper()
	args := append([]string{"daemon", "--home", home, "--no-mdns", "--lan",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1"}, extra...)
	d := &daemon{t: t, home: home, exited: make(chan struct{})}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Env = testEnv(t)
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	d.cmd.Stderr = lockedWriter{&d.mu, &d.logs}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.exited
		if t.Failed() {
			t.Logf("daemon %s log:\n%s", home, d.logText())
		}
	})
	banner := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		inBanner := true
		for sc.Scan() {
			line := sc.Text()
			if !inBanner {
				d.mu.Lock()
				d.out.WriteString(line + "\n")
				d.mu.Unlock()
				continue
			}
			switch {
			case strings.HasPrefix(line, "peer ID: "):
				d.id = strings.TrimPrefix(line, "peer ID: ")
			case strings.HasPrefix(line, "  /"):
				d.addrs = append(d.addrs, strings.TrimSpace(line))
			case strings.HasPrefix(line, "API socket: "):
				d.socket = strings.TrimPrefix(line, "API socket: ")
			case strings.HasPrefix(line, "gateway: "):
				d.gateway = strings.TrimPrefix(line, "gateway: ")
			case strings.HasPrefix(line, "ready in "):
				d.ready, _ = time.ParseDuration(strings.TrimPrefix(line, "ready in "))
				inBanner = false
				banner <- nil
			}
		}
		if inBanner {
			banner <- fmt.Errorf("daemon output ended before ready")
		}
		d.err = d.cmd.Wait()
		close(d.exited)
	}()
	select {
	case err := <-banner:
		if err != nil {
			<-d.exited
			t.Fatalf("daemon %s: %v (%v)\nlog:\n%s", home, err, d.err, d.logText())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon %s not ready after 30s\nlog:\n%s", home, d.logText())
	}
	return d
}

// tcpAddr is the daemon's first TCP address, ending in /p2p/ID.
func (d *daemon) tcpAddr() string {
	for _, a := range d.addrs {
		if strings.Contains(a, "/tcp/") {
			return a
		}
	}
	d.t.Fatalf("daemon %s printed no TCP address: %v", d.home, d.addrs)
	return ""
}

func (d *daemon) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// stop sends sig and waits up to limit for the daemon to exit; it returns
// the exit code.
func (d *daemon) stop(sig syscall.Signal, limit time.Duration) int {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("signal daemon: %v", err)
	}
	select {
	case <-d.exited:
	case <-time.After(limit):
		d.t.Fatalf("daemon %s still running %v after %v", d.home, limit, sig)
	}
	return d.cmd.ProcessState.ExitCode()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// oneLine fails the test unless s is exactly one non-empty line with no
// stack trace.
func oneLine(t *testing.T, what, s string) {
	t.Helper()
	s = strings.TrimSuffix(s, "\n")
	if s == "" || strings.Contains(s, "\n") || strings.Contains(s, "goroutine ") || strings.Contains(s, "panic") {
		t.Errorf("%s: want one error line, got %q", what, s)
	}
}
