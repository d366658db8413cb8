package compute

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/compute/sched"
	"github.com/google/go-cmp/cmp"
	"github.com/ipfs/go-cid"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// TestJobRecordMigratesV0: a job record written before records had a
// version (testdata/jobrecord-v0.json: JobInfo's JSON as the submitter kept
// it, receipts with their Go field names) still loads, its receipts still
// verify, and it is written back as the current version, which reads back
// the same.
func TestJobRecordMigratesV0(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "jobrecord-v0.json"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := decodeJob(b)
	if err != nil {
		t.Fatalf("decodeJob(v0 record) = %v", err)
	}
	if info.ID != "0123456789abcdef" || info.State != JobDone || len(info.Units) != 3 || !info.Units[2].Reduce ||
		info.Spec.Split.Kind != SplitEachInput || info.Spec.Timeout != 30*time.Second || info.Spec.MemoryMiB != 128 ||
		info.Spec.MaxOutputBytes != 1<<20 || !info.Spec.Reduce.Defined() || len(info.Spec.ReduceArgs) != 1 {
		t.Fatalf("decodeJob(v0 record) = %+v; want the job as written", info)
	}
	u0 := info.Units[0]
	if u0.Status != sched.UnitDone || len(u0.Faulty) != 1 || len(u0.Failures) != 1 || !u0.Output.Defined() || len(u0.Receipts) != 1 {
		t.Errorf("unit 0 = %+v; want done with its output, a receipt, a faulty worker and a failure", u0)
	}
	for _, u := range info.Units {
		for _, r := range u.Receipts {
			if err := r.Verify(); err != nil {
				t.Errorf("unit %d: receipt of a v0 record: Verify() = %v", u.Index, err)
			}
		}
	}
	if out := info.Output(); out != info.Units[2].Output {
		t.Errorf("Output() = %s, want the reduce unit's %s", out, info.Units[2].Output)
	}

	v1, err := encodeJob(&info)
	if err != nil {
		t.Fatalf("encodeJob() = %v", err)
	}
	if !strings.HasPrefix(string(v1), `{"version":1,`) {
		t.Errorf("encodeJob() = %.40s...; want a version 1 record", v1)
	}
	again, err := decodeJob(v1)
	if err != nil {
		t.Fatalf("decodeJob(v1 record) = %v", err)
	}
	if diff := cmp.Diff(info, again, cmp.Comparer(func(a, b cid.Cid) bool { return a.Equals(b) })); diff != "" {
		t.Errorf("decodeJob(encodeJob(info)) mismatch (-want +got):\n%s", diff)
	}
}

// TestSubmitterLoadsV0Records: a submitter whose datastore holds records of
// the old format serves them (and resumes the active one).
func TestSubmitterLoadsV0Records(t *testing.T) {
	dir := t.TempDir()
	ds, err := pebbleds.NewDatastore(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"jobrecord-v0.json", "jobrecord-v0-active.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		info, err := migrateV0(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := ds.Put(t.Context(), jobKey(info.ID), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	sw := newSwarm()
	sub := sw.startSubmitter(t, nil, dir, SubmitterConfig{})
	done, err := sub.s.Status(t.Context(), "0123456789abcdef")
	if err != nil || done.State != JobDone || len(done.Units) != 3 {
		t.Errorf("Status(done v0 job) = %v, %v; want it done with 3 units", done.State, err)
	}
	active, err := sub.s.Status(t.Context(), "fedcba9876543210")
	if err != nil || active.State != JobActive || active.Spec.Split.Kind != SplitLines || len(active.Units) != 2 {
		t.Errorf("Status(active v0 job) = %+v, %v; want it active (resumed) with its 2 units", active, err)
	}
}

func TestDecodeJobRejectsNewerVersion(t *testing.T) {
	if _, err := decodeJob([]byte(`{"version":2,"id":"x"}`)); err == nil {
		t.Error("decodeJob(version 2) = nil error, want a refusal")
	}
}
