package compute

import (
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/compute/sched"
)

// TestSwarmSpinOneWorker: a unit that spins forever on a swarm of one
// worker ends its job, failed with the worker's timeout, and the worker
// takes the next job at once. The submitter's deadline used to be exactly
// start + wall time: it cut the run just before the worker's own timeout
// came, counted that as the worker's fault, backed the worker off for
// sched.DefaultBackoffFor and waited for another worker forever (issue 11).
func TestSwarmSpinOneWorker(t *testing.T) {
	sw := newSwarm()
	sw.startWorker(t, WorkerConfig{Slots: 1}, nil)
	cfg := SubmitterConfig{Sched: testSchedConfig()}
	cfg.Sched.BackoffFor = sched.DefaultBackoffFor
	cfg.Sched.StallTimeout = sched.DefaultStallTimeout
	sub := sw.startSubmitter(t, nil, "", cfg)
	mod := sw.hostileModule(t)

	start := time.Now()
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Args: []string{"spin"}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Generous: the job ends about 2s after its unit starts; only a hang
	// (the old backoff of 5 minutes) misses it.
	info := sub.wait(t, id, 90*time.Second)
	t.Logf("spinning unit (2s wall time) on one worker: job %s in %v: %s", info.State, time.Since(start).Round(time.Millisecond), info.Error)
	if info.State != JobFailed {
		t.Fatalf("spinning job ended %s, want failed", info.State)
	}
	if !strings.Contains(info.Error, "timeout") {
		t.Errorf("spinning job failed with %q, want the reason timeout", info.Error)
	}

	start = time.Now()
	id, err = sub.s.Submit(t.Context(), JobSpec{Module: mod, Args: []string{"ok"}})
	if err != nil {
		t.Fatal(err)
	}
	info = sub.wait(t, id, 90*time.Second)
	t.Logf("good job after it: %s in %v", info.State, time.Since(start).Round(time.Millisecond))
	if info.State != JobDone {
		t.Fatalf("good job after the spinning one: %s %s", info.State, info.Error)
	}
	if got := string(sw.content.bytes(t, info.Output())); got != "ok\n" {
		t.Errorf("good job output %q, want %q", got, "ok\n")
	}
}
