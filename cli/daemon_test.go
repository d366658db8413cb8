package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// daemonRun is one in-process `enxame daemon`: its stdout lines as they
// come, and its exit status once its context is cancelled.
type daemonRun struct {
	lines  chan string // closed when stdout closes
	code   chan int
	cancel context.CancelFunc
}

func runTestDaemon(t *testing.T, args ...string) *daemonRun {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	d := &daemonRun{lines: make(chan string, 64), code: make(chan int, 1), cancel: cancel}
	// The daemon's two loggers (its own and libp2p's, a process-wide
	// handler that outlives Run) write stderr from many goroutines.
	stderr := new(lockedBuffer)
	go func() {
		code := Run(ctx, args, strings.NewReader(""), pw, stderr, func(string) string { return "" })
		pw.Close()
		if code != 0 {
			t.Logf("daemon exit %d, stderr:\n%s", code, stderr.String())
		}
		d.code <- code
	}()
	go func() {
		defer close(d.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		for range d.lines {
		}
	})
	return d
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// next returns the next stdout line; it fails the test if stdout ends or
// nothing comes within 30 s.
func (d *daemonRun) next(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-d.lines:
		if !ok {
			t.Fatalf("daemon stdout ended")
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon printed nothing for 30 s")
	}
	return ""
}

// stop cancels the daemon's context (SIGINT in the binary) and returns its
// exit status and the lines it printed meanwhile.
func (d *daemonRun) stop(t *testing.T) (int, []string) {
	t.Helper()
	d.cancel()
	var rest []string
	for l := range d.lines {
		rest = append(rest, l)
	}
	select {
	case code := <-d.code:
		return code, rest
	case <-time.After(time.Minute): // a hang, not a loaded machine
		t.Fatalf("daemon still running a minute after cancel")
	}
	return 0, nil
}

func daemonArgs(home string, extra ...string) []string {
	return append([]string{"daemon", "--home", home, "--no-mdns", "--lan", "--no-compute",
		"--listen", "/ip4/127.0.0.1/tcp/0"}, extra...)
}

// TestDaemonJSON checks that `daemon --json` prints NDJSON: a ready object
// with the peer ID, addresses and API socket, and stopping/stopped on a
// clean shutdown, and nothing else on stdout.
func TestDaemonJSON(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	d := runTestDaemon(t, daemonArgs(home, "--json")...)
	first := d.next(t)
	var ready struct {
		Event       string   `json:"event"`
		Version     string   `json:"version"`
		PeerID      string   `json:"peer_id"`
		Addrs       []string `json:"addrs"`
		APISocket   string   `json:"api_socket"`
		Home        string   `json:"home"`
		Initialised bool     `json:"initialised"`
		ReadyMS     *int64   `json:"ready_ms"`
	}
	if err := json.Unmarshal([]byte(first), &ready); err != nil {
		t.Fatalf("daemon --json: first line %q: %v", first, err)
	}
	if ready.Event != "ready" || ready.Version == "" || ready.PeerID == "" || len(ready.Addrs) == 0 ||
		ready.APISocket != filepath.Join(home, "api.sock") || ready.Home != home || !ready.Initialised ||
		ready.ReadyMS == nil || *ready.ReadyMS < 0 {
		t.Errorf("daemon --json: ready line = %s, want event ready with version, peer_id, addrs, api_socket %s, home %s, initialised, ready_ms",
			first, filepath.Join(home, "api.sock"), home)
	}
	for _, a := range ready.Addrs {
		if !strings.HasSuffix(a, "/p2p/"+ready.PeerID) {
			t.Errorf("daemon --json: address %q does not end in /p2p/%s", a, ready.PeerID)
		}
	}

	var out bytes.Buffer
	if code := Run(t.Context(), []string{"id", "--json", "--home", home}, nil, &out, io.Discard, func(string) string { return "" }); code != 0 {
		t.Fatalf("id --json: exit %d", code)
	}
	var id struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out.Bytes(), &id); err != nil || id.ID != ready.PeerID {
		t.Errorf("id --json = %q (%v), want id %s", out.String(), err, ready.PeerID)
	}

	code, rest := d.stop(t)
	if code != 0 {
		t.Errorf("daemon --json: exit %d after cancel, want 0", code)
	}
	var events []string
	for _, l := range rest {
		var ev struct {
			Event string `json:"event"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Event == "" {
			t.Errorf("daemon --json: line %q is not a JSON event (%v)", l, err)
		}
		events = append(events, ev.Event)
	}
	if got := strings.Join(events, ","); got != "stopping,stopped" {
		t.Errorf("daemon --json: events after ready = %s, want stopping,stopped", got)
	}
}

// TestDaemonText checks that without --json the daemon prints the text
// banner that e2e/helpers_test.go parses.
func TestDaemonText(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	d := runTestDaemon(t, daemonArgs(home)...)
	var banner []string
	for {
		l := d.next(t)
		banner = append(banner, l)
		if strings.HasPrefix(l, "ready in ") {
			break
		}
	}
	text := strings.Join(banner, "\n")
	for _, want := range []string{"initialised " + home, "\npeer ID: 12D3KooW", "\n  /ip4/127.0.0.1/tcp/", "\nAPI socket: " + filepath.Join(home, "api.sock"), "\nready in "} {
		if !strings.Contains(text, want) {
			t.Errorf("daemon banner lacks %q:\n%s", want, text)
		}
	}
	code, rest := d.stop(t)
	if code != 0 || strings.Join(rest, "\n") != "shutting down\nstopped" {
		t.Errorf("daemon after cancel: exit %d, printed %q; want 0 and shutting down, stopped", code, rest)
	}
}
