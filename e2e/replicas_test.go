package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/examples/examplestest"
)

// TestComputeReplicasHeld runs a job with two replicas on real daemons: the
// submitter holds each replica's output unpinned until the vote (fetched
// with Content.Get, stored with PutTemp under the same CID as the worker's)
// and pins the winner, so the job completes and its result stays readable.
func TestComputeReplicasHeld(t *testing.T) {
	sum := examplestest.Build(t, "sum")
	root := t.TempDir()
	w1 := startDaemon(t, filepath.Join(root, "w1"), "--compute-slots", "1")
	w2 := startDaemon(t, filepath.Join(root, "w2"), "--bootstrap", w1.tcpAddr(), "--compute-slots", "1")
	sub := startDaemon(t, filepath.Join(root, "sub"), "--bootstrap", w1.tcpAddr(), "--no-compute")
	input := filepath.Join(root, "n.txt")
	if err := os.WriteFile(input, []byte("n\t40\nn\t2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := enxame(t, "compute", "run", "--home", sub.home, sum, "--input", input, "--replicas", "2")
	t.Logf("two-replica job: exit %d in %v", res.code, time.Since(start).Round(time.Millisecond))
	if res.code != 0 || strings.TrimSpace(res.stdout) != "n\t42" {
		t.Fatalf("two-replica job: exit %d, stdout %q, stderr %s", res.code, res.stdout, res.stderr)
	}
	var jobs []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	mustJSON(t, &jobs, "compute", "list", "--home", sub.home)
	if len(jobs) != 1 || jobs[0].State != "done" {
		t.Fatalf("compute list = %+v, want one done job", jobs)
	}
	// The result is read from the submitter's own store after a gc on
	// every peer (the workers dropped their copies once delivered): the
	// accepted output is pinned, not only held.
	for _, d := range []*daemon{sub, w1, w2} {
		if r := enxame(t, "gc", "--home", d.home); r.code != 0 {
			t.Fatalf("gc %s: exit %d: %s", d.home, r.code, r.stderr)
		}
	}
	if r := enxame(t, "compute", "result", "--home", sub.home, jobs[0].ID); r.code != 0 || r.stdout != res.stdout {
		t.Errorf("compute result after gc: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
