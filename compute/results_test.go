package compute

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/compute/sandbox"
	"github.com/enxame/enxame/compute/wire"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/google/go-cmp/cmp"
	"github.com/ipfs/go-cid"
)

// listRunner stands for the sandbox: a unit's output is its arguments, then
// the files under its /input (recursively, in lexical order) each as
// "name: content".
type listRunner struct{}

func (listRunner) RunUnit(ctx context.Context, u sandbox.Unit) (sandbox.Result, error) {
	out := []byte(strings.Join(u.Args, " ") + "\n")
	err := filepath.WalkDir(u.InputDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(u.InputDir, p)
		out = fmt.Appendf(out, "%s: %s", filepath.ToSlash(rel), b)
		return err
	})
	return sandbox.Result{Stdout: out, Duration: time.Millisecond}, err
}

// TestReduceOverManyUnits: a job of more than wire.MaxCIDs units with a
// reduce runs to the end: the reduce gets the units' outputs as one
// directory, one file per unit named by its index, in unit order (issue
// 14: it failed after every unit had run with "inputs: 260 CIDs over
// 256").
func TestReduceOverManyUnits(t *testing.T) {
	const units = wire.MaxCIDs + 4
	sw := newSwarm()
	// Two workers, and no stall short of a minute: on a loaded machine
	// (this test under -race beside others) a run's heartbeat can miss the
	// loopback tests' 5 s, and a unit stalled on the only worker waits out
	// its backoff.
	sw.startWorker(t, WorkerConfig{Slots: 8}, listRunner{})
	sw.startWorker(t, WorkerConfig{Slots: 8}, listRunner{})
	cfg := testSchedConfig()
	cfg.StallTimeout = time.Minute
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{Sched: cfg})
	mod := sw.content.putBytes(t, modTrap) // never run: listRunner answers
	red := sw.content.putBytes(t, append(modTrap, 0))
	id, err := sub.s.Submit(t.Context(), JobSpec{
		Module: mod, Split: Split{Kind: SplitRange, N: units, From: 0, To: units},
		Reduce: red, ReduceArgs: []string{"reduce"},
	})
	if err != nil {
		t.Fatalf("Submit() = %v", err)
	}
	info := sub.wait(t, id, 120*time.Second)
	if info.State != JobDone {
		t.Fatalf("job: %s %s", info.State, info.Error)
	}
	want := "reduce\n"
	for i := range units {
		want += fmt.Sprintf("%s: %d %d\n", InputName(i), i, i+1)
	}
	if got := string(sw.content.bytes(t, info.Output())); got != want {
		t.Errorf("reduce output mismatch (-want +got):\n%s", cmp.Diff(want, got))
	}
	last := info.Units[units]
	if !last.Reduce || len(last.Inputs) != 1 || !last.Inputs[0].Equals(info.ResultDir) {
		t.Fatalf("reduce inputs = %v, want the result directory %s", last.Inputs, info.ResultDir)
	}
	es := sw.content.dir(t, info.ResultDir)
	if len(es) != units {
		t.Fatalf("result directory has %d entries, want %d", len(es), units)
	}
	for i, e := range es {
		if e.Name != InputName(i) || !e.CID.Equals(info.Units[i].Output) {
			t.Fatalf("result directory entry %d = %s %s, want %s %s", i, e.Name, e.CID, InputName(i), info.Units[i].Output)
		}
	}
}

// TestNamedInputs: named inputs keep their names under /input, each unit of
// a job split by input is named after its input in the result directory,
// and a job without a reduce has a result directory too.
func TestNamedInputs(t *testing.T) {
	sw := newSwarm()
	sw.startWorker(t, WorkerConfig{Slots: 2}, nil)
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	a := sw.content.putBytes(t, []byte("alpha\n"))
	b := sw.content.putBytes(t, []byte("beta\n"))
	mod := sw.module(t, "sha256")
	tests := []struct {
		name  string
		split Split
		want  []string // each unit's output, by unit
		files []string // the result directory's names
	}{
		{"one unit", Split{Kind: SplitNone}, []string{"a.txt,b.txt"}, []string{"000000"}},
		{"each input", Split{Kind: SplitEachInput}, []string{"a.txt", "b.txt"}, []string{"a.txt", "b.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Inputs: []cid.Cid{a, b}, InputNames: []string{"a.txt", "b.txt"}, Split: tt.split})
			if err != nil {
				t.Fatalf("Submit() = %v", err)
			}
			info := sub.wait(t, id, 60*time.Second)
			if info.State != JobDone {
				t.Fatalf("job: %s %s", info.State, info.Error)
			}
			var names []string
			for _, u := range info.Units {
				var files []string
				for _, line := range strings.Split(strings.TrimSpace(string(sw.content.bytes(t, u.Output))), "\n") {
					_, name, _ := strings.Cut(line, "  ")
					files = append(files, name)
				}
				names = append(names, strings.Join(files, ","))
			}
			if diff := cmp.Diff(tt.want, names); diff != "" {
				t.Errorf("files under /input by unit mismatch (-want +got):\n%s", diff)
			}
			var files []string
			for _, e := range sw.content.dir(t, info.ResultDir) {
				files = append(files, e.Name)
			}
			if diff := cmp.Diff(tt.files, files); diff != "" {
				t.Errorf("result directory mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSubmitRefusesUnsendable: a job a worker could never be sent is
// refused by Submit, before any unit runs (issue 14), with an error naming
// the unit and the limit.
func TestSubmitRefusesUnsendable(t *testing.T) {
	sw := newSwarm()
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	mod := sw.content.putBytes(t, []byte("\x00asm\x01\x00\x00\x00"))
	big := strings.Repeat("a", wire.MaxArgLen)
	manyBig := make([]string, 20) // 80 KiB, over a 64 KiB frame
	for i := range manyBig {
		manyBig[i] = big
	}
	tests := []struct {
		name string
		spec JobSpec
		want string
	}{
		{"arguments over a frame", JobSpec{Module: mod, Args: manyBig}, "unit 0 cannot be sent"},
		{"range arguments over a frame", JobSpec{Module: mod, Args: manyBig, Split: Split{Kind: SplitRange, N: 3, From: 0, To: 9}}, "unit 0 cannot be sent"},
		{"reduce arguments over a frame", JobSpec{Module: mod, Reduce: mod, ReduceArgs: manyBig}, "the reduce unit cannot be sent"},
		{"argument too long", JobSpec{Module: mod, Args: []string{big + "a"}}, "argument over"},
		{"input names not one per input", JobSpec{Module: mod, Inputs: []cid.Cid{mod}, InputNames: []string{"a", "b"}}, "2 input names for 1 inputs"},
		{"bad input name", JobSpec{Module: mod, Inputs: []cid.Cid{mod}, InputNames: []string{"../a"}}, `input name "../a"`},
		{"input name twice", JobSpec{Module: mod, Inputs: []cid.Cid{mod, mod}, InputNames: []string{"a", "a"}}, `input name "a" given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := sub.s.Submit(t.Context(), tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Submit() = %q, %v; want an error with %q", id, err, tt.want)
			}
		})
	}
	jobs, err := sub.s.List(t.Context())
	if err != nil || len(jobs) != 0 {
		t.Errorf("List() = %d jobs, %v; want none kept", len(jobs), err)
	}
	// Just under the frame: accepted.
	ok := manyBig[:14]
	if _, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Args: ok, Reduce: mod, ReduceArgs: ok}); err != nil {
		t.Errorf("Submit(%d arguments of %d bytes) = %v, want it accepted", len(ok), len(big), err)
	}
}

// TestCancelEndedJob: cancelling a job that is over says so
// (ErrJobEnded, naming its state) instead of reporting it cancelled.
func TestCancelEndedJob(t *testing.T) {
	sw := newSwarm()
	sw.startWorker(t, WorkerConfig{Slots: 1}, nil)
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	in := sw.content.putBytes(t, []byte("a\n"))
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: sw.module(t, "wordcount"), Inputs: []cid.Cid{in}})
	if err != nil {
		t.Fatal(err)
	}
	if info := sub.wait(t, id, 60*time.Second); info.State != JobDone {
		t.Fatalf("job: %s %s", info.State, info.Error)
	}
	err = sub.s.Cancel(t.Context(), id)
	if !errors.Is(err, ErrJobEnded) || !strings.Contains(err.Error(), fmt.Sprintf("%s is done", id)) {
		t.Errorf("Cancel(done job) = %v, want ErrJobEnded naming the state", err)
	}
}

// TestResultDirOffTheLoop: the result directory is stored off the
// submitter's loop (its outputs may still be on their way from workers):
// while it is, the loop answers and the job stays active; then it is done
// with its directory.
func TestResultDirOffTheLoop(t *testing.T) {
	sw := newSwarm()
	sw.content.dirGate = make(chan struct{})
	sw.startWorker(t, WorkerConfig{Slots: 2}, listRunner{})
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	mod := sw.content.putBytes(t, modTrap) // never run: listRunner answers
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Split: Split{Kind: SplitRange, N: 2, From: 0, To: 2}})
	if err != nil {
		t.Fatal(err)
	}
	waittest.For(t, "both units done", func() bool {
		info, err := sub.s.Status(t.Context(), id)
		return err == nil && info.Units[0].Output.Defined() && info.Units[1].Output.Defined()
	})
	info, err := sub.s.Status(t.Context(), id)
	if err != nil || info.State != JobActive || info.ResultDir.Defined() {
		t.Fatalf("Status() while the directory is stored = %s, dir %s, %v; want active without one", info.State, info.ResultDir, err)
	}
	close(sw.content.dirGate)
	info = sub.wait(t, id, 30*time.Second)
	if info.State != JobDone || !info.ResultDir.Defined() || len(sw.content.dir(t, info.ResultDir)) != 2 {
		t.Fatalf("job = %s, dir %s; want done with a directory of 2", info.State, info.ResultDir)
	}
}

// TestSubmitHugeJobs: a job of MaxUnits (10,000) tiny units is accepted,
// planned and saved; one unit more is refused at submit, and so is a job
// within MaxUnits whose units' arguments would weigh over MaxJobBytes in
// memory and in its record (issue 14), before its units are planned.
func TestSubmitHugeJobs(t *testing.T) {
	sw := newSwarm()
	dir := t.TempDir()
	sub := sw.startSubmitter(t, nil, dir, SubmitterConfig{})
	mod := sw.content.putBytes(t, []byte("\x00asm\x01\x00\x00\x00"))
	rng := func(n int) Split { return Split{Kind: SplitRange, N: n, From: 0, To: 10 * int64(n)} }
	arg := strings.Repeat("a", 2000) // 4 arguments: 8 KiB per unit, within a frame
	args := []string{arg, arg, arg, arg}
	tests := []struct {
		name string
		spec JobSpec
		want string
	}{
		{"one unit over MaxUnits", JobSpec{Module: mod, Split: rng(MaxUnits + 1)}, fmt.Sprintf("want 1 to %d", MaxUnits)},
		{"arguments over MaxJobBytes", JobSpec{Module: mod, Args: args, Split: rng(MaxUnits)}, "weigh over 64 MiB"},
		{"replicas over MaxJobBytes", JobSpec{Module: mod, Args: args[:1], Replicas: 3, Split: rng(MaxUnits)}, "weigh over 64 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := sub.s.Submit(t.Context(), tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Submit() = %q, %v; want an error with %q", id, err, tt.want)
			}
		})
	}
	// No worker: the job stays queued, planned and saved whole.
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Reduce: mod, Args: args[:1], Split: rng(MaxUnits)})
	if err != nil {
		t.Fatalf("Submit(%d units) = %v, want it accepted", MaxUnits, err)
	}
	info, err := sub.s.Status(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Units) != MaxUnits+1 || info.Units[MaxUnits-1].Args[2] != fmt.Sprint(10*MaxUnits) {
		t.Fatalf("job of %d units, last args %q; want %d units, the last ending at %d", len(info.Units), info.Units[MaxUnits-1].Args, MaxUnits+1, 10*MaxUnits)
	}
	rec, err := encodeJob(&info)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeJob(rec)
	if err != nil || len(back.Units) != MaxUnits+1 {
		t.Fatalf("record of %d bytes decodes to %d units, %v", len(rec), len(back.Units), err)
	}
	t.Logf("record of a %d-unit job: %d KiB", MaxUnits, len(rec)>>10)
}

// TestWatchReplaysSubmitted: a job of more units than WatchBuffer queues
// them all at once, past the events kept for new watchers; a watcher still
// gets the job's EventSubmitted first (issue 14: a 10,000-unit job).
func TestWatchReplaysSubmitted(t *testing.T) {
	sw := newSwarm()
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{WatchBuffer: 8})
	mod := sw.content.putBytes(t, []byte("\x00asm\x01\x00\x00\x00"))
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Split: Split{Kind: SplitRange, N: 20, From: 0, To: 20}})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := sub.s.Watch(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	first := <-ch
	if first.Kind != EventSubmitted || first.Detail != "20 units" {
		t.Fatalf("first event %s %q, want %s \"20 units\"", first.Kind, first.Detail, EventSubmitted)
	}
	for i := range 8 {
		if ev := <-ch; ev.Kind != EventQueued || ev.Unit != 12+i {
			t.Fatalf("replayed event %d: %s of unit %d, want %s of unit %d", i, ev.Kind, ev.Unit, EventQueued, 12+i)
		}
	}
}
