package compute

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enxame/enxame/compute/sched"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/ipfs/go-datastore"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// countingDS counts the writes of job records.
type countingDS struct {
	datastore.Batching
	puts atomic.Int64
}

func (d *countingDS) Put(ctx context.Context, k datastore.Key, v []byte) error {
	if k.IsDescendantOf(datastore.NewKey(jobsPrefix)) {
		d.puts.Add(1)
	}
	return d.Batching.Put(ctx, k, v)
}

// TestSubmitterSavesJobOncePerInterval: accepting a unit does not rewrite
// the whole job record each time (quadratic in the job's units); with a
// SaveInterval longer than the job, a job of 20 units is written twice,
// when submitted and when it ends, and the final record holds every unit.
func TestSubmitterSavesJobOncePerInterval(t *testing.T) {
	sw := newSwarm()
	sw.startWorker(t, WorkerConfig{Slots: 2}, nil)
	pds, err := pebbleds.NewDatastore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ds := &countingDS{Batching: pds}
	h := newHost(t)
	s, err := NewSubmitter(SubmitterConfig{Sched: testSchedConfig(), Seed: 1, SaveInterval: time.Hour},
		SubmitterDeps{Host: h, Content: sw.content, Discovery: discovery{sw.reg, h}, Datastore: ds, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
		if err := pds.Close(); err != nil {
			t.Error(err)
		}
	}()
	const units = 20
	id, err := s.Submit(t.Context(), JobSpec{Module: sw.hostileModule(t), Args: []string{"ok"}, Split: Split{Kind: SplitRange, From: 0, To: units, N: units}})
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer wcancel()
	info, err := s.Wait(wctx, id)
	if err != nil || info.State != JobDone {
		t.Fatalf("Wait() = %v, %v %s", err, info.State, info.Error)
	}
	if n := ds.puts.Load(); n != 2 {
		t.Errorf("job record written %d times for %d units, want 2 (submitted, ended)", n, units)
	}
	b, err := pds.Get(t.Context(), jobKey(id))
	if err != nil {
		t.Fatal(err)
	}
	saved, err := decodeJob(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range saved.Units {
		if u.Status != sched.UnitDone || !u.Output.Defined() || len(u.Receipts) != 1 {
			t.Errorf("saved unit %d: %s, output %s, %d receipts", u.Index, u.Status, u.Output, len(u.Receipts))
		}
	}
}

// TestSubmitterSavesStaleJobOnStop: the units accepted since the last write
// of an active job's record are written when Run ends, so a restart does
// not run them again.
func TestSubmitterSavesStaleJobOnStop(t *testing.T) {
	sw := newSwarm()
	sw.startWorker(t, WorkerConfig{Slots: 1}, nil)
	dsDir := t.TempDir()
	sub := sw.startSubmitter(t, nil, dsDir, SubmitterConfig{SaveInterval: time.Hour})
	hostile := sw.hostileModule(t)
	// The map units end at once; the reduce spins until cancelled.
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: hostile, Args: []string{"ok"}, Split: Split{Kind: SplitRange, From: 0, To: 3, N: 3},
		Reduce: hostile, ReduceArgs: []string{"spin"}})
	if err != nil {
		t.Fatal(err)
	}
	waittest.For(t, "the map units to be accepted", func() bool {
		info, err := sub.s.Status(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range info.Units[:3] {
			if !u.Output.Defined() {
				return false
			}
		}
		return true
	})
	sub.stop()
	pds, err := pebbleds.NewDatastore(dsDir)
	if err != nil {
		t.Fatal(err)
	}
	defer pds.Close()
	b, err := pds.Get(t.Context(), jobKey(id))
	if err != nil {
		t.Fatal(err)
	}
	saved, err := decodeJob(b)
	if err != nil {
		t.Fatal(err)
	}
	if saved.State != JobActive {
		t.Errorf("saved job %s, want active", saved.State)
	}
	for _, u := range saved.Units[:3] {
		if u.Status != sched.UnitDone || !u.Output.Defined() {
			t.Errorf("saved map unit %d: %s, output %s; want done with its output", u.Index, u.Status, u.Output)
		}
	}
}
