package compute_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/compute/sandbox"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/host"
	"golang.org/x/sync/errgroup"
)

// This is how node wires a worker and a submitter into one peer: the
// worker serves other peers' units in the sandbox pool, the submitter
// schedules this peer's jobs. content is backed by share, disc by the DHT
// router, store is the node's datastore.
func Example() {
	var (
		ctx     context.Context
		h       host.Host
		content compute.Content
		disc    compute.Discovery
		store   datastore.Batching
		home    string
		log     *slog.Logger
	)
	if ctx == nil { // a sketch: the collaborators come from node
		return
	}
	exe, _ := os.Executable()
	pool, err := sandbox.New(sandbox.Config{Command: []string{exe, "sandbox-child"}, CacheDir: filepath.Join(home, "wazero")}, log)
	if err != nil {
		return
	}
	defer pool.Close()
	worker, err := compute.NewWorker(compute.WorkerConfig{Dir: filepath.Join(home, "compute"), Slots: pool.Config().Slots},
		compute.WorkerDeps{Host: h, Content: content, Discovery: disc, Runner: pool, Logger: log})
	if err != nil {
		return
	}
	sub, err := compute.NewSubmitter(compute.DefaultSubmitterConfig(),
		compute.SubmitterDeps{Host: h, Content: content, Discovery: disc, Datastore: store, Logger: log})
	if err != nil {
		return
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return worker.Run(ctx) })
	g.Go(func() error { return sub.Run(ctx) })

	// `enxame compute run wordcount.wasm --input CID --split-lines 16 --reduce merge.wasm`:
	var module, input, merge cid.Cid
	id, err := sub.Submit(ctx, compute.JobSpec{
		Module: module, Inputs: []cid.Cid{input},
		Split:  compute.Split{Kind: compute.SplitLines, N: 16},
		Reduce: merge,
	})
	if err != nil {
		return
	}
	events, _ := sub.Watch(ctx, id)
	for ev := range events {
		fmt.Println(ev.Unit, ev.Kind, ev.Worker) // the CLI prints NDJSON
	}
	info, err := sub.Result(ctx, id)
	if err == nil {
		fmt.Println(info.Output()) // read it with content.Get
	}
	g.Wait()
}
