// Package nodetest builds hermetic enxame nodes for tests: loopback
// addresses on port 0, a home in t.TempDir(), no mDNS, short timeouts.
// Production code never imports it.
package nodetest

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

	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node"
)

// Config returns a hermetic node config: an initialised home in
// t.TempDir(), TCP and QUIC on 127.0.0.1 port 0, mDNS off, the DHT
// diversity filter off (every loopback peer shares one IP group), and
// short retry and check intervals, and no compute worker.
func Config(t testing.TB) node.Config {
	t.Helper()
	home := t.TempDir()
	if _, err := node.Init(home); err != nil {
		t.Fatalf("nodetest: init home: %v", err)
	}
	cfg := node.DefaultConfig()
	cfg.Home = home
	cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	cfg.DisableMDNS = true
	cfg.Resources.MaxMemoryMiB = 256
	cfg.Resources.MaxFileDescriptors = 1024
	cfg.DHT.DisableDiversityFilter = true
	cfg.DHT.RetryMin = 100 * time.Millisecond
	cfg.DHT.RetryMax = time.Second
	cfg.DHT.CheckInterval = time.Second
	cfg.DHT.DialTimeout = 5 * time.Second
	// Compute workers start sandbox child processes; tests that run units
	// turn it back on.
	cfg.Compute.Disabled = true
	return cfg
}

// Logger returns a logger that writes to the test log at level (or to
// nowhere when ENXAME_TEST_LOG is unset, to keep output readable).
func Logger(t testing.TB) *slog.Logger {
	if os.Getenv("ENXAME_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// Start builds and runs a node from cfg. It returns the node and a stop
// function that stops it, waits for Run to return and closes it (failing the
// test if either reports an error); stop is idempotent and also runs at
// cleanup.
func Start(t testing.TB, cfg node.Config, deps node.Deps) (*node.Node, func()) {
	t.Helper()
	if deps.Logger == nil {
		deps.Logger = Logger(t)
	}
	n, err := node.New(cfg, deps)
	if err != nil {
		t.Fatalf("nodetest: new node: %v", err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("nodetest: run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("nodetest: node %s did not stop within 10s", n.Host().ID())
			}
			if err := n.Close(); err != nil {
				t.Errorf("nodetest: close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return n, stop
}

// WaitFor is waittest.For; timeout is ignored, waittest.Timeout applies.
//
// Deprecated: use waittest.For.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	waittest.For(t, what, cond)
}

var child struct {
	once sync.Once
	path string
	err  error
}

// SandboxCommand returns the argv of a sandbox child built without the race
// detector (compute/sandbox/testdata/child), once per test process, so that
// work units in tests run at full speed even under -race.
func SandboxCommand(t testing.TB) []string {
	t.Helper()
	child.once.Do(func() {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			child.err = errors.New("cannot locate nodetest's source")
			return
		}
		dir, err := os.MkdirTemp("", "enxame-nodetest-child-")
		if err != nil {
			child.err = err
			return
		}
		child.path = filepath.Join(dir, "sandbox-child")
		cmd := exec.Command("go", "build", "-o", child.path, ".")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..", "compute", "sandbox", "testdata", "child")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GOFLAGS=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			child.err = fmt.Errorf("build sandbox child: %v\n%s", err, out)
		}
	})
	if child.err != nil {
		t.Fatalf("nodetest: %v", child.err)
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
