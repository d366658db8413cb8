package node

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/compute/sched"
	"github.com/enxame/enxame/compute/wire"
	"github.com/enxame/enxame/node/control"
)

var update = flag.Bool("update", false, "rewrite testdata/compute_api.golden.json")

func testCID(t *testing.T, s string) cid.Cid {
	t.Helper()
	c, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: -1}.Sum([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fullJob is a compute.JobInfo with every field set, so that no field is
// left out of the JSON by omitempty.
func fullJob(t *testing.T) compute.JobInfo {
	at := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	w := peer.ID("worker")
	return compute.JobInfo{
		ID:    "job1",
		State: compute.JobFailed,
		Spec: compute.JobSpec{
			Module: testCID(t, "module"), Inputs: []cid.Cid{testCID(t, "in")}, InputNames: []string{"a.txt"},
			Split: compute.Split{Kind: compute.SplitRange, N: 2, From: 1, To: 9}, Args: []string{"-x"}, Replicas: 2,
			Timeout: time.Minute, MemoryMiB: 64, MaxOutputBytes: 1 << 20, Reduce: testCID(t, "reduce"), ReduceArgs: []string{"-r"},
		},
		Units: []compute.UnitInfo{{
			Index: 0, Reduce: true, Status: sched.UnitVerified, Inputs: []cid.Cid{testCID(t, "in")}, Bytes: 42, Args: []string{"-x"},
			Output: testCID(t, "out"),
			Receipts: []wire.Receipt{{Worker: w, Job: "job1", Unit: 0, Module: testCID(t, "module"), Inputs: []cid.Cid{testCID(t, "in")},
				Args: []string{"-x"}, Output: testCID(t, "out"), Took: 1500 * time.Millisecond, PeakMemory: 1 << 16, Finished: at.UnixNano(),
				Signature: []byte{1, 2, 3}}},
			Faulty: []peer.ID{w}, Failures: []string{"w: trap"}, Stderr: "oops", File: "a.txt",
		}},
		Submitted: at, Ended: at.Add(time.Second), Error: "unit 0: trap", ResultDir: testCID(t, "dir"),
	}
}

// TestComputeAPIJSON pins the JSON of the compute API's answers (Job,
// Event, WhyResult) in testdata/compute_api.golden.json: a field renamed
// inside compute cannot change the API (go test -run TestComputeAPIJSON
// -update ./node rewrites it after a deliberate change).
func TestComputeAPIJSON(t *testing.T) {
	info := fullJob(t)
	ev := compute.Event{Job: "job1", Unit: 0, Kind: compute.EventDone, Worker: peer.ID("worker"), Output: testCID(t, "out"),
		Detail: "1.5s", At: info.Submitted}
	jw := compute.JobWhy{Job: "job1", State: compute.JobFailed, Error: "unit 0: trap",
		Units: []compute.UnitWhy{{Unit: 0, Reduce: true, Status: sched.UnitAbandoned, Why: "abandoned", Failures: []string{"w: trap"}, Stderr: "oops"}}}
	got, err := json.MarshalIndent(map[string]any{"job": apiJob(info), "event": apiEvent(ev), "why": apiWhy(jw)}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "compute_api.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("compute API JSON changed (run with -update if deliberate):\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// TestComputeAPIKeepsWireNames checks that the API types answer the same
// JSON field names compute's types did before they were separated: the
// only change is the receipts', which had no JSON tags (Go field names)
// and now have snake_case ones.
func TestComputeAPIKeepsWireNames(t *testing.T) {
	info := fullJob(t)
	keys := func(v any) map[string][]string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{"job": slices.Sorted(maps.Keys(m))}
		spec := m["spec"].(map[string]any)
		out["spec"] = slices.Sorted(maps.Keys(spec))
		out["split"] = slices.Sorted(maps.Keys(spec["split"].(map[string]any)))
		u := m["units"].([]any)[0].(map[string]any)
		out["unit"] = slices.Sorted(maps.Keys(u))
		out["receipt"] = slices.Sorted(maps.Keys(u["receipts"].([]any)[0].(map[string]any)))
		return out
	}
	old, now := keys(info), keys(apiJob(info))
	for _, k := range []string{"job", "spec", "split", "unit"} {
		if !slices.Equal(old[k], now[k]) {
			t.Errorf("%s fields: compute had %v, the API has %v", k, old[k], now[k])
		}
	}
	wantReceipt := []string{"args", "finished_ns", "inputs", "job", "module", "output", "peak_memory", "signature", "took_ns", "unit", "worker"}
	if !slices.Equal(now["receipt"], wantReceipt) {
		t.Errorf("receipt fields = %v, want %v", now["receipt"], wantReceipt)
	}

	// Values survive too: the same JSON as compute's, receipts aside.
	info.Units[0].Receipts = nil
	a, _ := json.Marshal(info)
	b, _ := json.Marshal(apiJob(info))
	if !bytes.Equal(a, b) {
		t.Errorf("API job JSON differs from compute's:\ncompute: %s\napi:     %s", a, b)
	}
	ev := compute.Event{Job: "j", Unit: -1, Kind: compute.EventJobDone, Worker: peer.ID("w"), Output: testCID(t, "o"), Detail: "d", At: info.Submitted}
	a, _ = json.Marshal(ev)
	b, _ = json.Marshal(apiEvent(ev))
	if !bytes.Equal(a, b) {
		t.Errorf("API event JSON differs from compute's:\ncompute: %s\napi:     %s", a, b)
	}
}

// TestComputeAPINames checks the names the API duplicates from compute:
// event kinds, states and a unit's output file name.
func TestComputeAPINames(t *testing.T) {
	kinds := map[compute.EventKind]control.EventKind{
		compute.EventSubmitted: control.EventSubmitted, compute.EventQueued: control.EventQueued, compute.EventPlaced: control.EventPlaced,
		compute.EventRunning: control.EventRunning, compute.EventDone: control.EventDone, compute.EventVerified: control.EventVerified,
		compute.EventRetried: control.EventRetried, compute.EventRejected: control.EventRejected, compute.EventFaulty: control.EventFaulty,
		compute.EventJobDone: control.EventJobDone, compute.EventJobFailed: control.EventJobFailed, compute.EventJobCancelled: control.EventJobCancelled,
	}
	for c, a := range kinds {
		if string(c) != string(a) {
			t.Errorf("event %q is %q in the API", c, a)
		}
	}
	states := map[compute.JobState]control.JobState{compute.JobActive: control.JobActive, compute.JobDone: control.JobDone,
		compute.JobFailed: control.JobFailed, compute.JobCancelled: control.JobCancelled}
	for c, a := range states {
		if got := apiJob(compute.JobInfo{State: c}).State; got != a {
			t.Errorf("job state %v is %q in the API, want %q", c, got, a)
		}
	}
	for _, u := range []compute.UnitInfo{{Index: 0}, {Index: 7}, {Index: 123456}, {Index: 1234567}, {Index: 3, File: "x.txt"}} {
		api := apiUnit(u)
		if got, want := api.OutputName(), u.OutputName(); got != want {
			t.Errorf("unit %d %q: API OutputName %q, compute's %q", u.Index, u.File, got, want)
		}
	}
}
