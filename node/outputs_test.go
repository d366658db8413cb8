package node_test

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/compute/wire"
	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// computePair starts a submitter-only peer and a worker peer connected to
// it; edit changes the worker's config.
func computePair(t *testing.T, edit func(*node.Config)) (sub, worker *node.Node) {
	t.Helper()
	deps := node.Deps{SandboxCommand: nodetest.SandboxCommand(t), WasmCacheDir: nodetest.WasmCacheDir(t)}
	scfg := nodetest.Config(t)
	scfg.Compute.Disabled = true
	sub, _ = nodetest.Start(t, scfg, deps)
	wcfg := nodetest.Config(t)
	wcfg.Compute.Disabled = false
	wcfg.Compute.Slots = 1
	wcfg.Bootstrap = sub.Addrs()[:1]
	if edit != nil {
		edit(&wcfg)
	}
	worker, _ = nodetest.Start(t, wcfg, deps)
	if err := sub.Host().Connect(t.Context(), peer.AddrInfo{ID: worker.Host().ID(), Addrs: worker.Host().Addrs()}); err != nil {
		t.Fatalf("connect: %v", err)
	}
	return sub, worker
}

// TestComputeOutputLeavesWorker pins issue 11 finding 2 (outputs pinned
// and announced forever on the worker): after a job, the worker pins
// nothing of its output and a GC removes it, while the submitter pins it
// and reads it.
func TestComputeOutputLeavesWorker(t *testing.T) {
	sub, worker := computePair(t, nil)
	ctx := t.Context()
	mod, err := sub.AddReader(ctx, bytes.NewReader(readFile(t, examplestest.Build(t, "wordcount"))), "", share.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := sub.AddReader(ctx, bytes.NewReader([]byte("one two two\n")), "", share.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := sub.Submitter().Submit(ctx, compute.JobSpec{Module: mod.Root, Inputs: []cid.Cid{in.Root}, Replicas: 1})
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	info, err := sub.Submitter().Wait(ctx, id)
	if err != nil || info.State != compute.JobDone {
		t.Fatalf("Wait = %+v, %v; want done", info.State, err)
	}
	out := info.Output()
	if pins, err := worker.Blocks().Pins(ctx); err != nil || slices.ContainsFunc(pins, out.Equals) {
		t.Errorf("worker pins %v (%v); want no output %s among them", pins, err, out)
	}
	waittest.For(t, "the worker's GC to remove the delivered output", func() bool {
		if _, err := worker.Blocks().GC(ctx); err != nil {
			t.Fatalf("worker GC: %v", err)
		}
		has, err := worker.Blocks().Has(ctx, out)
		return err == nil && !has
	})
	if ok, err := sub.Blocks().IsPinned(ctx, out); err != nil || !ok {
		t.Errorf("submitter IsPinned(%s) = %v, %v; want pinned", out, ok, err)
	}
	if _, err := sub.Blocks().GC(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := sub.Open(ctx, out)
	if err != nil {
		t.Fatalf("open result: %v", err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "one\t1\ntwo\t2\n" {
		t.Errorf("result = %q", got)
	}
}

// TestComputeInputCapStopsFetch pins issue 11 finding 2 (caps checked
// only after the whole DAG is fetched): a unit naming a 64 MiB input on a
// worker capped at 1 MiB of input fails with input-too-large, and the
// worker's store grows by far less than the input. It depends on share's
// fetch honouring FetchOptions.MaxBytes.
func TestComputeInputCapStopsFetch(t *testing.T) {
	sub, worker := computePair(t, func(c *node.Config) { c.Compute.MaxInputMiB = 1 })
	ctx := t.Context()
	mod, err := sub.AddReader(ctx, bytes.NewReader(readFile(t, examplestest.Build(t, "wordcount"))), "", share.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	rng := rand.NewChaCha8([32]byte{1})
	big, err := sub.AddReader(ctx, io.LimitReader(rng, size), "", share.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := worker.Blocks().Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sub.Host().NewStream(ctx, worker.Host().ID(), compute.ProtocolID)
	if err != nil {
		t.Fatalf("open compute stream: %v", err)
	}
	defer s.Close()
	if err := wire.WriteMsg(s, &wire.RunUnit{Job: "cap", Module: mod.Root, Inputs: []cid.Cid{big.Root}}); err != nil {
		t.Fatal(err)
	}
	s.SetReadDeadline(time.Now().Add(2 * time.Minute))
	r := bufio.NewReader(s)
	var failed *wire.Failed
	for failed == nil {
		m, err := wire.ReadMsg(r)
		if err != nil {
			t.Fatalf("read the worker's answer: %v", err)
		}
		switch m := m.(type) {
		case *wire.Failed:
			failed = m
		case *wire.Accepted, *wire.Progress:
		default:
			t.Fatalf("worker answered %#v, want Failed", m)
		}
	}
	if failed.Reason != "input-too-large" {
		t.Errorf("Failed{%q, %q}, want input-too-large", failed.Reason, failed.Detail)
	}
	after, err := worker.Blocks().Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	grew := after.Bytes - before.Bytes
	t.Logf("worker store grew by %d bytes for a %d-byte input over a 1 MiB cap", grew, size)
	if grew > 8<<20 {
		t.Errorf("worker store grew by %d bytes, want far less than the %d-byte input", grew, size)
	}
}
