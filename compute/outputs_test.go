package compute

import (
	"testing"
	"time"

	"github.com/enxame/enxame/compute/wire"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/ipfs/go-cid"
)

// TestWorkerDropsDeliveredOutputs pins issue 11 finding 2 (outputs kept
// forever): once the submitter has its output, the worker keeps none of
// it, and the submitter keeps (pins) it, local worker or remote.
func TestWorkerDropsDeliveredOutputs(t *testing.T) {
	for _, local := range []bool{false, true} {
		name := map[bool]string{false: "remote", true: "local"}[local]
		t.Run(name, func(t *testing.T) {
			sw := newSwarm()
			w := sw.startWorker(t, WorkerConfig{Slots: 1}, nil)
			mod := sw.module(t, "wordcount")
			in := sw.content.putBytes(t, []byte("one two two\n"))
			var sub *testSubmitter
			if local {
				sub = sw.startSubmitterLocal(t, w.h, "", SubmitterConfig{Sched: testSchedConfig()}, w.w)
			} else {
				sub = sw.startSubmitter(t, nil, "", SubmitterConfig{Sched: testSchedConfig()})
			}
			id, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Inputs: []cid.Cid{in}})
			if err != nil {
				t.Fatal(err)
			}
			info := sub.wait(t, id, 30*time.Second)
			if info.State != JobDone {
				t.Fatalf("job: %s %s", info.State, info.Error)
			}
			out := info.Output()
			waittest.For(t, "the worker to drop the delivered output", func() bool {
				temp, _ := sw.content.state(out)
				return temp == 0 && len(w.w.keptOutputs()) == 0
			})
			if _, kept := sw.content.state(out); !kept {
				t.Errorf("output %s not kept by the submitter", out)
			}
			if got := string(sw.content.bytes(t, out)); got != "one\t1\ntwo\t2\n" {
				t.Errorf("output %q", got)
			}
		})
	}
}

// TestLocalWorkerDropsOutputKeptAfterJobEnd: a single-replica job ends as
// its unit completes, before the submitter has kept the output; the local
// worker must still hear that the output was delivered and drop its copy
// (it was kept until its TTL when the job's end closed the local pipe).
func TestLocalWorkerDropsOutputKeptAfterJobEnd(t *testing.T) {
	sw := newSwarm()
	sw.content.keepGate = make(chan struct{})
	w := sw.startWorker(t, WorkerConfig{Slots: 1}, nil)
	mod := sw.module(t, "wordcount")
	in := sw.content.putBytes(t, []byte("one two two\n"))
	sub := sw.startSubmitterLocal(t, w.h, "", SubmitterConfig{Sched: testSchedConfig()}, w.w)
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Inputs: []cid.Cid{in}})
	if err != nil {
		t.Fatal(err)
	}
	info := sub.wait(t, id, 30*time.Second)
	if info.State != JobDone {
		t.Fatalf("job: %s %s", info.State, info.Error)
	}
	close(sw.content.keepGate) // the output's keep ends after the job did
	out := info.Output()
	waittest.For(t, "the worker to drop the delivered output", func() bool {
		temp, _ := sw.content.state(out)
		return temp == 0 && len(w.w.keptOutputs()) == 0
	})
	if _, kept := sw.content.state(out); !kept {
		t.Errorf("output %s not kept by the submitter", out)
	}
}

// TestWorkerOutputTTL: an output whose submitter never says it has it is
// kept until OutputTTL, then dropped; and a worker that stops drops the
// outputs it kept, so a restart leaks none.
func TestWorkerOutputTTL(t *testing.T) {
	sw := newSwarm()
	const ttl = time.Hour
	w := sw.startWorker(t, WorkerConfig{Slots: 1, OutputTTL: ttl}, nil)
	c := client{h: newHost(t)}
	connect(t, c, w)
	mod := sw.hostileModule(t)
	run := func(unit uint32) cid.Cid {
		t.Helper()
		msgs := c.runUnit(t, w.h.ID(), &wire.RunUnit{Job: "ttl", Unit: unit, Module: mod, Args: []string{"ok"}})
		r, ok := final(msgs).(*wire.Result)
		if !ok {
			t.Fatalf("run: final message %#v, want Result", final(msgs))
		}
		return r.Receipt.Output
	}
	out := run(0)
	start := time.Now()
	// The client closed without a word of delivery: the output stays.
	waittest.For(t, "the run's end", func() bool { return w.w.Stats().Queued == 0 && w.w.Stats().Running == 0 })
	if temp, _ := sw.content.state(out); temp != 1 {
		t.Fatalf("undelivered output %s held %d times, want 1", out, temp)
	}
	w.w.sweepOutputs(start.Add(ttl / 2))
	if temp, _ := sw.content.state(out); temp != 1 {
		t.Errorf("after half the TTL: output held %d times, want 1", temp)
	}
	w.w.sweepOutputs(time.Now().Add(ttl))
	if temp, _ := sw.content.state(out); temp != 0 || len(w.w.keptOutputs()) != 0 {
		t.Errorf("after the TTL: output held %d times, worker keeps %v; want none", temp, w.w.keptOutputs())
	}

	// Another undelivered output, then the worker stops.
	out = run(1)
	waittest.For(t, "the run's end", func() bool { return w.w.Stats().Queued == 0 && w.w.Stats().Running == 0 })
	if temp, _ := sw.content.state(out); temp != 1 {
		t.Fatalf("second undelivered output held %d times, want 1", temp)
	}
	w.stop()
	if temp, _ := sw.content.state(out); temp != 0 {
		t.Errorf("after the worker stopped: output held %d times, want 0", temp)
	}
}
