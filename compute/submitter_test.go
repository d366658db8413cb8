package compute

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/compute/sched"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/ipfs/go-cid"
)

func TestSubmitterSingleUnit(t *testing.T) {
	sw := newSwarm()
	sw.startWorker(t, WorkerConfig{Slots: 1}, nil)
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	mod := sw.module(t, "wordcount")
	in := sw.content.putBytes(t, []byte("b a b\n"))
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Inputs: []cid.Cid{in}})
	if err != nil {
		t.Fatal(err)
	}
	info := sub.wait(t, id, 60*time.Second)
	if info.State != JobDone {
		t.Fatalf("job %s: %s %s", id, info.State, info.Error)
	}
	got := sw.content.bytes(t, info.Output())
	if want := []byte("a\t1\nb\t2\n"); !bytes.Equal(got, want) {
		t.Errorf("output = %q, want %q", got, want)
	}
}

// TestSubmitterJobFails: a unit that traps everywhere fails the job with
// each worker's reason: after sched.Config.MaxAttempts (3) workers, or at
// once when every worker there is (2, fewer than MaxAttempts) has trapped
// on it, instead of waiting forever for a third; Why says which.
func TestSubmitterJobFails(t *testing.T) {
	tests := []struct {
		name    string
		workers int
		why     []string // substrings of Why
	}{
		{"after MaxAttempts workers", 3, []string{"trap"}},
		{"on every worker there is", 2, []string{"deterministically on every worker", "trap"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sw := newSwarm()
			for range tt.workers {
				sw.startWorker(t, WorkerConfig{Slots: 1}, nil)
			}
			sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
			id, err := sub.s.Submit(t.Context(), JobSpec{Module: sw.content.putBytes(t, modTrap)})
			if err != nil {
				t.Fatal(err)
			}
			info := sub.wait(t, id, 30*time.Second)
			if info.State != JobFailed {
				t.Fatalf("job: %s, want failed", info.State)
			}
			if n := len(info.Units[0].Failures); n != tt.workers {
				t.Errorf("unit 0 has %d failures, want %d: %v", n, tt.workers, info.Units[0].Failures)
			}
			for _, f := range info.Units[0].Failures {
				if !strings.Contains(f, "trap") {
					t.Errorf("failure %q does not name the trap", f)
				}
			}
			if !strings.Contains(info.Error, "unit 0") {
				t.Errorf("job error %q does not name the unit", info.Error)
			}
			if _, err := sub.s.Result(t.Context(), id); !errors.Is(err, ErrJobNotDone) {
				t.Errorf("Result() of a failed job = %v, want ErrJobNotDone", err)
			}
			why, err := sub.s.Why(t.Context(), id)
			if err != nil {
				t.Fatalf("Why() = %v", err)
			}
			for _, w := range tt.why {
				if !strings.Contains(why, w) {
					t.Errorf("Why() = %q, want it to say %q", why, w)
				}
			}
			jw, err := sub.s.Explain(t.Context(), id)
			if err != nil || jw.Job != id || jw.State != JobFailed || jw.Error == "" || len(jw.Units) != 1 || len(jw.Units[0].Failures) != tt.workers {
				t.Errorf("Explain() = %+v, %v; want job %s failed with its error and unit 0's %d failures", jw, err, id, tt.workers)
			}
			if jw.String() != why {
				t.Errorf("Explain().String() = %q, Why() = %q: want the same text", jw.String(), why)
			}
		})
	}
}

// TestSubmitterCancel: cancelling a job stops its running unit on the
// worker.
func TestSubmitterCancel(t *testing.T) {
	sw := newSwarm()
	w := sw.startWorker(t, WorkerConfig{Slots: 1}, nil)
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: sw.hostileModule(t), Args: []string{"spin"}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	waittest.For(t, "the spinning unit to run", func() bool { return w.w.Stats().Running == 1 })
	if err := sub.s.Cancel(t.Context(), id); err != nil {
		t.Fatalf("Cancel() = %v", err)
	}
	waittest.For(t, "the worker to drop the unit", func() bool {
		st := w.w.Stats()
		return st.Running == 0 && st.Queued == 0
	})
	info := sub.wait(t, id, time.Second)
	if info.State != JobCancelled {
		t.Errorf("job state %s, want cancelled", info.State)
	}
	if err := sub.s.Cancel(t.Context(), "nope"); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("Cancel(unknown) = %v, want ErrUnknownJob", err)
	}
}

// TestSubmitterLocalWorker: a submitter whose peer is also a worker runs
// units there too, over the in-process pipe, alongside a remote worker.
func TestSubmitterLocalWorker(t *testing.T) {
	sw := newSwarm()
	const delay = 200 * time.Millisecond
	self := sw.startWorker(t, WorkerConfig{Slots: 2}, &delayRunner{next: newPool(t, 2), delay: delay})
	other := sw.startWorker(t, WorkerConfig{Slots: 2}, &delayRunner{next: newPool(t, 2), delay: delay})
	sub := sw.startSubmitterLocal(t, self.h, "", SubmitterConfig{}, self.w)
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: sw.hostileModule(t), Args: []string{"ok"}, Split: Split{Kind: SplitRange, From: 0, To: 8, N: 8}})
	if err != nil {
		t.Fatal(err)
	}
	info := sub.wait(t, id, 30*time.Second)
	if info.State != JobDone {
		t.Fatalf("job: %s %s", info.State, info.Error)
	}
	checkReceipts(t, info)
	per := unitsPerWorker(info)
	t.Logf("units: local %d, remote %d", per[self.h.ID()], per[other.h.ID()])
	if per[self.h.ID()] == 0 || per[other.h.ID()] == 0 {
		t.Errorf("units per worker %v, want both the local and the remote worker used", per)
	}
}

// TestSubmitterHammer: P goroutines submit jobs and read every snapshot
// while the jobs run; every job completes and its watchers see its end.
func TestSubmitterHammer(t *testing.T) {
	P, N := 6, 5
	if testing.Short() {
		P, N = 3, 3
	}
	sw := newSwarm()
	for range 3 {
		sw.startWorker(t, WorkerConfig{Slots: 4, QueueLen: 4, PeerShare: 8}, &delayRunner{delay: 5 * time.Millisecond})
	}
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	mod := sw.content.putBytes(t, modTrap) // never run: delayRunner answers
	var wg sync.WaitGroup
	for g := range P {
		wg.Go(func() {
			for i := range N {
				id, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Args: []string{fmt.Sprint(g, i)}, Split: Split{Kind: SplitRange, From: 0, To: 3, N: 3}})
				if err != nil {
					t.Error(err)
					return
				}
				events, err := sub.s.Watch(t.Context(), id)
				if err != nil {
					t.Error(err)
					return
				}
				var last Event
				for ev := range events {
					last = ev
					if _, err := sub.s.Status(t.Context(), id); err != nil {
						t.Error(err)
					}
				}
				if last.Kind != EventJobDone {
					t.Errorf("job %s: last event %+v", id, last)
				}
				if _, err := sub.s.List(t.Context()); err != nil {
					t.Error(err)
				}
				if _, err := sub.s.Why(t.Context(), id); err != nil {
					t.Error(err)
				}
				if _, err := sub.s.Workers(t.Context()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	list, err := sub.s.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != P*N {
		t.Errorf("List() has %d jobs, want %d", len(list), P*N)
	}
	for _, j := range list {
		if j.State != JobDone {
			t.Errorf("job %s: %s %s", j.ID, j.State, j.Error)
		}
	}
}

// TestSubmitterLearnsLinkRate pins that the fetch a worker reports with
// its Result reaches the scheduler: after a unit whose 2 MiB input the
// worker had to fetch, the scheduler has measured that worker's link rate.
func TestSubmitterLearnsLinkRate(t *testing.T) {
	sw := newSwarm()
	w := sw.startWorker(t, WorkerConfig{Slots: 1}, nil)
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	mod := sw.module(t, "wordcount")
	in := sw.content.putBytes(t, bytes.Repeat([]byte("a b\n"), 1<<19))
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Inputs: []cid.Cid{in}})
	if err != nil {
		t.Fatal(err)
	}
	if info := sub.wait(t, id, 60*time.Second); info.State != JobDone {
		t.Fatalf("job %s: %s %s", id, info.State, info.Error)
	}
	ws, err := sub.s.Workers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range ws {
		if x.ID == w.h.ID() {
			found = true
			if !x.LinkMeasured || x.LinkRate < sched.MinLinkRate {
				t.Errorf("worker's link rate %v, measured %v; want one measured", x.LinkRate, x.LinkMeasured)
			}
		}
	}
	if !found {
		t.Errorf("Workers() = %+v, without the worker", ws)
	}
}
