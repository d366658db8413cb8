package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/enxame/enxame/internal/benchutil"
	"github.com/enxame/enxame/node"
)

// loopNodes starts real nodes on loopback for the benchmarks that need a
// swarm (speedup, throughput) and stops them all in close.
type loopNodes struct {
	o             options
	dir, cacheDir string
	logger        *slog.Logger
	nodes         *benchutil.Nodes
}

func newLoopNodes(ctx context.Context, o options, dir, cacheDir string, logf func(string, ...any)) *loopNodes {
	logger := slog.New(slog.DiscardHandler)
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return &loopNodes{o: o, dir: dir, cacheDir: cacheDir, logger: logger, nodes: benchutil.NewNodes(ctx, logf)}
}

// start starts node name (a worker with one slot when compute is set),
// joined through bootstrap when not nil.
func (l *loopNodes) start(name string, compute bool, bootstrap *node.Node) (*node.Node, error) {
	cfg := benchutil.LoopbackConfig()
	cfg.Compute.Disabled = !compute
	cfg.Compute.Slots = 1
	cfg.Compute.UnitTimeout = unitTimeout
	if bootstrap != nil {
		cfg.Bootstrap = bootstrap.Addrs()[:1]
	}
	return l.nodes.Start(name, cfg, node.Deps{Logger: l.logger.With("node", name), DataDir: filepath.Join(l.dir, name),
		SandboxCommand: l.o.child, WasmCacheDir: l.cacheDir})
}

// close stops every node started and waits for them.
func (l *loopNodes) close() error { return l.nodes.Close() }
