// Package nodetest builds hermetic enxame nodes for tests: loopback
// addresses on port 0, a home in t.TempDir(), no mDNS, short timeouts.
// Production code never imports it.
package nodetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/nodetest/hosttest"
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

// Logger is hosttest.Logger: the test log when ENXAME_TEST_LOG is set,
// nowhere otherwise.
func Logger(t testing.TB) *slog.Logger { return hosttest.Logger(t) }

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

// Swarm starts n nodes with Start and deps, each from Config(t) changed by
// tweak (when not nil; it sees the index and the nodes started before) and,
// unless tweak set cfg.Bootstrap, joined through the first node. It returns
// them once every node but the first has a peer in its routing table.
func Swarm(t testing.TB, n int, deps node.Deps, tweak func(i int, cfg *node.Config, started []*node.Node)) []*node.Node {
	t.Helper()
	nodes := make([]*node.Node, 0, n)
	for i := range n {
		cfg := Config(t)
		if tweak != nil {
			tweak(i, &cfg, nodes)
		}
		if i > 0 && len(cfg.Bootstrap) == 0 {
			cfg.Bootstrap = nodes[0].Addrs()[:1]
		}
		nd, _ := Start(t, cfg, deps)
		nodes = append(nodes, nd)
	}
	for i, nd := range nodes[1:] {
		waittest.For(t, fmt.Sprintf("node %d of the swarm to join", i+1), func() bool { return nd.Router().TableSize() > 0 })
	}
	return nodes
}

// SandboxCommand is hosttest.SandboxCommand: a sandbox child built without
// the race detector, once per test process.
func SandboxCommand(t testing.TB) []string { return hosttest.SandboxCommand(t) }

// WasmCacheDir is hosttest.WasmCacheDir: a wazero compilation cache shared
// by tests across runs.
func WasmCacheDir(t testing.TB) string { return hosttest.WasmCacheDir(t) }
