// Package hosttest is the part of internal/nodetest that does not depend on
// package node: real libp2p hosts on loopback, the tests' logger, and the
// sandbox child built without the race detector. The tests of the packages
// node is built from (dht, share, compute, compute/sandbox) use it directly,
// since importing nodetest from them would be an import cycle; nodetest
// builds on it. Production code never imports it.
package hosttest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// New starts a real libp2p host listening on 127.0.0.1 TCP port 0, with
// only the TCP transport and no relay, and closes it at cleanup. opts come
// after those and override them (a resource manager, a relay, other
// listen addresses).
func New(t testing.TB, opts ...libp2p.Option) host.Host {
	t.Helper()
	base := []libp2p.Option{
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.DisableRelay(),
		libp2p.NoTransports, libp2p.Transport(tcp.NewTCPTransport),
	}
	h, err := libp2p.New(append(base, opts...)...)
	if err != nil {
		t.Fatalf("hosttest: new host: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// Info is h's ID and listen addresses.
func Info(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

// Connect connects a to b, failing the test if it cannot.
func Connect(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := a.Connect(ctx, Info(b)); err != nil {
		t.Fatalf("hosttest: connect %s to %s: %v", a.ID(), b.ID(), err)
	}
}

// Logger returns a logger that writes to the test log at debug level when
// ENXAME_TEST_LOG is set, and to nowhere otherwise (to keep output
// readable).
func Logger(t testing.TB) *slog.Logger {
	if os.Getenv("ENXAME_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// BuildSandboxChild builds the sandbox's test child
// (compute/sandbox/testdata/child) into dir without the race detector (an
// instrumented wazero compiles a Go-built module 15 to 30 times slower) and
// returns its path.
func BuildSandboxChild(dir string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate hosttest's source")
	}
	bin := filepath.Join(dir, "sandbox-child")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "compute", "sandbox", "testdata", "child")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOFLAGS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build sandbox child: %v\n%s", err, out)
	}
	return bin, nil
}

var child struct {
	once sync.Once
	path string
	err  error
}

// SandboxCommand returns the argv of a sandbox child built by
// BuildSandboxChild, once per test process, so that work units in tests run
// at full speed even under -race.
func SandboxCommand(t testing.TB) []string {
	t.Helper()
	child.once.Do(func() {
		dir, err := os.MkdirTemp("", "enxame-nodetest-child-")
		if err != nil {
			child.err = err
			return
		}
		child.path, child.err = BuildSandboxChild(dir)
	})
	if child.err != nil {
		t.Fatalf("hosttest: %v", child.err)
	}
	return []string{child.path}
}

// WasmCacheDir is a wazero compilation cache shared by tests across runs.
func WasmCacheDir(t testing.TB) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return t.TempDir()
	}
	return filepath.Join(dir, "enxame", "wazero-test")
}
