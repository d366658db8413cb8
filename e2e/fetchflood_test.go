package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/compute/wire"
	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// TestHostileFetchFlood floods a worker, from one peer on 32 streams
// without pause, with run requests naming modules nobody has, while a good
// submitter runs a job there. The flooder's units wait on fetches that
// find no provider; they used to count in the worker's bids as queued
// units, so the good submitter saw a full worker and its job stayed active
// for as long as the flood went on (issue 11). The good job must complete.
func TestHostileFetchFlood(t *testing.T) {
	sum := examplestest.Build(t, "sum")
	root := t.TempDir()
	worker := startDaemon(t, filepath.Join(root, "worker"), "--compute-slots", "2")
	sub := startDaemon(t, filepath.Join(root, "submitter"), "--bootstrap", worker.tcpAddr(), "--no-compute")
	h, wid := attacker(t, worker)
	input := filepath.Join(root, "n.txt")
	if err := os.WriteFile(input, []byte("n\t1\nn\t2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A first job makes the worker known to the submitter.
	if res := enxame(t, "compute", "run", "--home", sub.home, sum, "-q", "--input", input); res.code != 0 {
		t.Fatalf("first job: exit %d: %s", res.code, res.stderr)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		outcomes = map[string]int{}
	)
	defer func() { cancel(); wg.Wait() }()
	for i := range 32 {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				d, _ := mh.Sum(fmt.Appendf(nil, "nobody has %d/%d", i, n), mh.SHA2_256, -1)
				out := floodOnce(ctx, h, wid, &wire.RunUnit{Job: "flood", Unit: uint32(n), Module: cid.NewCidV1(cid.Raw, d), Limits: wire.Limits{WallTime: time.Second}})
				mu.Lock()
				outcomes[out]++
				mu.Unlock()
			}
		})
	}
	waittest.For(t, "the flooder to fill its share", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return outcomes["rejected busy"] > 10
	})
	start := time.Now()
	// enxame gives the job 60 s: it takes about a second, so only a
	// worker that looks full for the whole flood misses it.
	res := enxame(t, "compute", "run", "--home", sub.home, sum, "-q", "--input", input)
	took := time.Since(start)
	mu.Lock()
	t.Logf("good job beside a fetch flood: exit %d in %v; flood outcomes %v", res.code, took.Round(time.Millisecond), outcomes)
	mu.Unlock()
	if res.code != 0 || strings.TrimSpace(res.stdout) != "n\t3" {
		t.Fatalf("good job: exit %d, stdout %q, stderr %s", res.code, res.stdout, res.stderr)
	}
	worker.alive(t)
}
