package benchutil

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/enxame/enxame/node"
)

// LoopbackConfig is the base config of an in-process benchmark node: TCP
// on 127.0.0.1 port 0, no mDNS, and no DHT diversity filter (every loopback
// peer is in one IP group).
func LoopbackConfig() node.Config {
	cfg := node.DefaultConfig()
	cfg.Listen = []string{TCP}
	cfg.DisableMDNS = true
	cfg.DHT.DisableDiversityFilter = true
	return cfg
}

// Nodes runs in-process nodes until Close, which stops them all.
type Nodes struct {
	logf   func(string, ...any)
	runCtx context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	all    []*node.Node
}

// NewNodes returns an empty set of nodes that run until Close, even after
// ctx ends; logf, if not nil, reports a node whose Run fails.
func NewNodes(ctx context.Context, logf func(string, ...any)) *Nodes {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &Nodes{logf: logf, runCtx: runCtx, cancel: cancel}
}

// Start builds node name from cfg and deps and runs it.
func (ns *Nodes) Start(name string, cfg node.Config, deps node.Deps) (*node.Node, error) {
	n, err := node.New(cfg, deps)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ns.all = append(ns.all, n)
	ns.wg.Go(func() {
		if err := n.Run(ns.runCtx); err != nil && !errors.Is(err, context.Canceled) && ns.logf != nil {
			ns.logf("%s: %v", name, err)
		}
	})
	return n, nil
}

// All returns the nodes started, in order.
func (ns *Nodes) All() []*node.Node { return ns.all }

// Close stops every node started, waits for them and closes them.
func (ns *Nodes) Close() error {
	ns.cancel()
	ns.wg.Wait()
	var err error
	for _, n := range ns.all {
		if cerr := n.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close node: %w", cerr)
		}
	}
	return err
}
