package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/enxame/enxame/node"
)

// loopNodes starts real nodes on loopback for the benchmarks that need a
// swarm (speedup, throughput) and stops them all in close.
type loopNodes struct {
	o             options
	dir, cacheDir string
	logf          func(string, ...any)
	logger        *slog.Logger
	runCtx        context.Context
	cancel        context.CancelFunc
	wg            sync.WaitGroup
	all           []*node.Node
}

func newLoopNodes(ctx context.Context, o options, dir, cacheDir string, logf func(string, ...any)) *loopNodes {
	logger := slog.New(slog.DiscardHandler)
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &loopNodes{o: o, dir: dir, cacheDir: cacheDir, logf: logf, logger: logger, runCtx: runCtx, cancel: cancel}
}

// start starts node name (a worker with one slot when compute is set),
// joined through bootstrap when not nil.
func (l *loopNodes) start(name string, compute bool, bootstrap *node.Node) (*node.Node, error) {
	cfg := node.DefaultConfig()
	cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.DisableMDNS = true
	cfg.DHT.DisableDiversityFilter = true
	cfg.Compute.Disabled = !compute
	cfg.Compute.Slots = 1
	cfg.Compute.UnitTimeout = unitTimeout
	if bootstrap != nil {
		cfg.Bootstrap = bootstrap.Addrs()[:1]
	}
	n, err := node.New(cfg, node.Deps{Logger: l.logger.With("node", name), DataDir: filepath.Join(l.dir, name),
		SandboxCommand: l.o.child, WasmCacheDir: l.cacheDir})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	l.all = append(l.all, n)
	l.wg.Go(func() {
		if err := n.Run(l.runCtx); err != nil && !errors.Is(err, context.Canceled) {
			l.logf("%s: %v", name, err)
		}
	})
	return n, nil
}

// close stops every node started and waits for them.
func (l *loopNodes) close() error {
	l.cancel()
	l.wg.Wait()
	var err error
	for _, n := range l.all {
		if cerr := n.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close node: %w", cerr)
		}
	}
	return err
}
