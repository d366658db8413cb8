package node_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
)

// TestComputeNamedInputsAndResultDir: over share, named inputs reach a
// remote worker as /input/NAME, the reduce reads the units' outputs as one
// directory fetched from the submitter, and the job's result directory is
// pinned on the submitter with one entry per unit (issue 14).
func TestComputeNamedInputsAndResultDir(t *testing.T) {
	sub, _ := computePair(t, nil)
	ctx := t.Context()
	mod, err := sub.AddReader(ctx, bytes.NewReader(readFile(t, examplestest.Build(t, "sha256"))), "", share.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ins []cid.Cid
	for _, s := range []string{"alpha\n", "beta\n"} {
		r, err := sub.AddReader(ctx, strings.NewReader(s), "", share.AddOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, r.Root)
	}
	id, err := sub.Submitter().Submit(ctx, compute.JobSpec{Module: mod.Root, Inputs: ins, InputNames: []string{"a.txt", "b.txt"},
		Split: compute.Split{Kind: compute.SplitEachInput}, Reduce: mod.Root, Replicas: 1})
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	info, err := sub.Submitter().Wait(ctx, id)
	if err != nil || info.State != compute.JobDone {
		t.Fatalf("Wait = %s %s, %v; want done", info.State, info.Error, err)
	}
	// Each map unit hashed /input/NAME; the reduce hashed their outputs,
	// /input/a.txt and /input/b.txt of the result directory.
	for i, name := range []string{"a.txt", "b.txt"} {
		if got := readCID(t, sub, info.Units[i].Output); !strings.HasSuffix(got, "  "+name+"\n") {
			t.Errorf("unit %d output = %q, want the digest of /input/%s", i, got, name)
		}
	}
	red := readCID(t, sub, info.Output())
	if lines := strings.Split(strings.TrimSpace(red), "\n"); len(lines) != 2 || !strings.HasSuffix(lines[0], "  a.txt") || !strings.HasSuffix(lines[1], "  b.txt") {
		t.Errorf("reduce output = %q, want the digests of /input/a.txt and /input/b.txt", red)
	}
	ents, err := sub.Blocks().List(ctx, info.ResultDir)
	if err != nil {
		t.Fatalf("List(result directory %s): %v", info.ResultDir, err)
	}
	if len(ents) != 2 || ents[0].Name != "a.txt" || !ents[0].CID.Equals(info.Units[0].Output) || ents[1].Name != "b.txt" {
		t.Errorf("result directory = %+v, want a.txt and b.txt, the units' outputs", ents)
	}
	if ok, err := sub.Blocks().IsPinned(ctx, info.ResultDir); err != nil || !ok {
		t.Errorf("IsPinned(result directory) = %v, %v; want pinned", ok, err)
	}
}

func readCID(t *testing.T, n interface {
	Open(ctx context.Context, c cid.Cid) (io.ReadSeekCloser, error)
}, c cid.Cid) string {
	t.Helper()
	r, err := n.Open(t.Context(), c)
	if err != nil {
		t.Fatalf("open %s: %v", c, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", c, err)
	}
	return string(b)
}
