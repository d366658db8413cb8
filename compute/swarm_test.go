package compute

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/enxame/enxame/compute/sandbox"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// genText returns about n bytes of text: words of a fixed vocabulary in
// mixed case, with punctuation, digits and newlines, from a logged seed.
func genText(t testing.TB, n int, seed uint64) []byte {
	t.Helper()
	t.Logf("text seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed+1))
	vocab := make([]string, 3000)
	for i := range vocab {
		var b strings.Builder
		for range 2 + rng.IntN(8) {
			c := byte('a' + rng.IntN(26))
			if rng.IntN(10) == 0 {
				c -= 'a' - 'A'
			}
			b.WriteByte(c)
		}
		if rng.IntN(20) == 0 {
			fmt.Fprintf(&b, "%d", rng.IntN(100))
		}
		vocab[i] = b.String()
	}
	seps := []string{" ", " ", " ", ", ", ". ", "; ", " - ", "\n", "\n\n", "!\n"}
	var buf bytes.Buffer
	buf.Grow(n + 64)
	for buf.Len() < n {
		// Zipf-like: low indexes are much more frequent.
		w := vocab[int(float64(len(vocab))*rng.Float64()*rng.Float64())]
		buf.WriteString(w)
		buf.WriteString(seps[rng.IntN(len(seps))])
	}
	return buf.Bytes()
}

// nativeCount counts words as examples/wordcount does and formats the
// counts as its output.
func nativeCount(text []byte) []byte {
	counts := map[string]int{}
	var word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			counts[word.String()]++
			word.Reset()
		}
	}
	for len(text) > 0 {
		c, size := utf8.DecodeRune(text)
		text = text[size:]
		if (c == utf8.RuneError && size == 1) || !(unicode.IsLetter(c) || unicode.IsDigit(c)) {
			flush()
			continue
		}
		word.WriteRune(unicode.ToLower(c))
	}
	flush()
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	sort.Strings(words)
	var out bytes.Buffer
	for _, w := range words {
		fmt.Fprintf(&out, "%s\t%d\n", w, counts[w])
	}
	return out.Bytes()
}

// checkReceipts verifies every accepted unit's receipts.
func checkReceipts(t testing.TB, info JobInfo) {
	t.Helper()
	for _, u := range info.Units {
		if len(u.Receipts) == 0 {
			t.Errorf("unit %d: no receipts", u.Index)
		}
		for _, r := range u.Receipts {
			if err := r.Verify(); err != nil {
				t.Errorf("unit %d: receipt of %s: %v", u.Index, r.Worker, err)
			}
			if !r.Output.Equals(u.Output) || r.Job != string(info.ID) || int(r.Unit) != u.Index {
				t.Errorf("unit %d: receipt %+v does not match the unit", u.Index, r)
			}
		}
	}
}

// unitsPerWorker counts the accepted runs of each worker.
func unitsPerWorker(info JobInfo) map[peer.ID]int {
	n := map[peer.ID]int{}
	for _, u := range info.Units {
		for _, r := range u.Receipts {
			n[r.Worker]++
		}
	}
	return n
}

// TestSwarmWordCount: a 5-peer loopback swarm runs a word count over ~20 MB
// of text (2 MB with -short) split into 16 units plus the merge reduce; the
// result equals a native Go count.
func TestSwarmWordCount(t *testing.T) {
	size := 20 << 20
	if testing.Short() {
		size = 2 << 20
	}
	sw := newSwarm()
	var workers []*testWorker
	for range 5 {
		workers = append(workers, sw.startWorker(t, WorkerConfig{Slots: 2}, nil))
	}
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	text := genText(t, size, uint64(time.Now().UnixNano()))
	want := nativeCount(text)
	in := sw.content.putBytes(t, text)

	start := time.Now()
	id, err := sub.s.Submit(t.Context(), JobSpec{
		Module: sw.module(t, "wordcount"), Inputs: []cid.Cid{in},
		Split: Split{Kind: SplitLines, N: 16}, Reduce: sw.module(t, "wordcount-merge"),
	})
	if err != nil {
		t.Fatal(err)
	}
	info := sub.wait(t, id, 120*time.Second)
	t.Logf("%d MB word count in 16 units + reduce on 5 workers: %v", size>>20, time.Since(start))
	if info.State != JobDone {
		t.Fatalf("job: %s %s", info.State, info.Error)
	}
	if len(info.Units) != 17 || !info.Units[16].Reduce {
		t.Fatalf("job has %d units, want 16 + reduce", len(info.Units))
	}
	if got := sw.content.bytes(t, info.Output()); !bytes.Equal(got, want) {
		t.Errorf("word count differs from the native count: got %d bytes, want %d", len(got), len(want))
	}
	checkReceipts(t, info)
	per := unitsPerWorker(info)
	var took []time.Duration
	for _, u := range info.Units {
		took = append(took, u.Receipts[0].Took.Round(time.Millisecond))
	}
	t.Logf("units per worker: %v; run time per unit (the last is the reduce): %v", per, took)
	if len(per) < 3 {
		t.Errorf("units ran on %d workers, want the work spread over at least 3 of 5", len(per))
	}
	// The parts are the input cut at line ends.
	var joined []byte
	for _, u := range info.Units[:16] {
		joined = append(joined, sw.content.bytes(t, u.Inputs[0])...)
	}
	if !bytes.Equal(joined, text) {
		t.Error("the 16 parts do not concatenate to the input")
	}
}

// TestSwarmWorkerKilled: a worker whose host is closed while it runs a unit
// does not stop the job, whose result is still correct.
func TestSwarmWorkerKilled(t *testing.T) {
	sw := newSwarm()
	var workers []*testWorker
	for range 3 {
		pool := newPool(t, 2)
		workers = append(workers, sw.startWorker(t, WorkerConfig{Slots: 2}, &delayRunner{next: pool, delay: 400 * time.Millisecond}))
	}
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	text := genText(t, 1<<20, 7)
	in := sw.content.putBytes(t, text)
	id, err := sub.s.Submit(t.Context(), JobSpec{
		Module: sw.module(t, "wordcount"), Inputs: []cid.Cid{in},
		Split: Split{Kind: SplitLines, N: 8}, Reduce: sw.module(t, "wordcount-merge"),
	})
	if err != nil {
		t.Fatal(err)
	}
	events, err := sub.s.Watch(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var killed peer.ID
	var retried []Event
	for ev := range events {
		if ev.Kind == EventRunning && killed == "" {
			killed = ev.Worker
			for _, w := range workers {
				if w.h.ID() == killed {
					w.stop()
				}
			}
			t.Logf("killed worker %s while it ran unit %d", killed, ev.Unit)
		}
		if ev.Kind == EventRetried {
			retried = append(retried, ev)
		}
	}
	info := sub.wait(t, id, 60*time.Second)
	if info.State != JobDone {
		t.Fatalf("job: %s %s", info.State, info.Error)
	}
	if got, want := sw.content.bytes(t, info.Output()), nativeCount(text); !bytes.Equal(got, want) {
		t.Errorf("word count differs from the native count")
	}
	if !slices.ContainsFunc(retried, func(ev Event) bool { return ev.Worker == killed }) {
		t.Errorf("retried events %v, want a retry of the killed worker %s's run", retried, killed)
	}
	checkReceipts(t, info)
}

// corruptRunner returns a wrong output for every unit.
type corruptRunner struct{ next Runner }

func (c corruptRunner) RunUnit(ctx context.Context, u sandbox.Unit) (sandbox.Result, error) {
	res, err := c.next.RunUnit(ctx, u)
	if err == nil {
		res.Stdout = append(res.Stdout, "zzz\t1\n"...)
	}
	return res, err
}

// gateRunner holds every run until gate is closed.
type gateRunner struct {
	next Runner
	gate <-chan struct{}
}

func (g gateRunner) RunUnit(ctx context.Context, u sandbox.Unit) (sandbox.Result, error) {
	select {
	case <-ctx.Done():
		return sandbox.Result{}, &sandbox.Error{Reason: sandbox.ReasonCanceled, Err: ctx.Err()}
	case <-g.gate:
	}
	return g.next.RunUnit(ctx, u)
}

// TestSwarmReplicasOutvote: a worker returning wrong output is outvoted with
// 3 replicas and recorded as faulty; the result is correct.
func TestSwarmReplicasOutvote(t *testing.T) {
	sw := newSwarm()
	// A majority of honest results settles a unit and cancels the run still
	// going, so the corrupt worker is only outvoted on a unit whose wrong
	// result arrives before the second honest one. The honest workers
	// therefore hold their runs until the submitter has the corrupt
	// worker's first result.
	firstBad := make(chan struct{})
	bad := sw.startWorker(t, WorkerConfig{Slots: 2}, corruptRunner{newPool(t, 2)})
	for range 2 {
		sw.startWorker(t, WorkerConfig{Slots: 2}, gateRunner{next: newPool(t, 2), gate: firstBad})
	}
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	text := genText(t, 256<<10, 3)
	in := sw.content.putBytes(t, text)
	id, err := sub.s.Submit(t.Context(), JobSpec{
		Module: sw.module(t, "wordcount"), Inputs: []cid.Cid{in},
		Split: Split{Kind: SplitLines, N: 3}, Replicas: 3, Reduce: sw.module(t, "wordcount-merge"),
	})
	if err != nil {
		t.Fatal(err)
	}
	events, err := sub.s.Watch(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var faulty []Event
	var badOutputs []cid.Cid
	for ev := range events {
		if ev.Kind == EventDone && ev.Worker == bad.h.ID() {
			badOutputs = append(badOutputs, ev.Output)
		}
		if ev.Kind == EventDone && ev.Worker == bad.h.ID() && firstBad != nil {
			close(firstBad)
			firstBad = nil
		}
		if ev.Kind == EventFaulty {
			faulty = append(faulty, ev)
		}
	}
	info := sub.wait(t, id, 60*time.Second)
	if info.State != JobDone {
		t.Fatalf("job: %s %s", info.State, info.Error)
	}
	if got, want := sw.content.bytes(t, info.Output()), nativeCount(text); !bytes.Equal(got, want) {
		t.Errorf("word count differs from the native count")
	}
	checkReceipts(t, info)
	var outvotedUnits int
	for _, u := range info.Units {
		if len(u.Receipts) < 2 {
			t.Errorf("unit %d accepted with %d receipts, want a majority of 3", u.Index, len(u.Receipts))
		}
		for _, r := range u.Receipts {
			if r.Worker == bad.h.ID() {
				t.Errorf("unit %d: the corrupt worker's receipt was accepted", u.Index)
			}
		}
		if slices.Contains(u.Faulty, bad.h.ID()) {
			outvotedUnits++
		}
	}
	if outvotedUnits == 0 || len(faulty) == 0 || faulty[0].Worker != bad.h.ID() {
		t.Errorf("corrupt worker outvoted on %d units, faulty events %v", outvotedUnits, faulty)
	}
	// Outputs were held unpinned until their vote: the winners are pinned,
	// the losers are not (issue 11).
	accepted := map[cid.Cid]bool{}
	for _, u := range info.Units {
		accepted[u.Output] = true
		if _, kept := sw.content.state(u.Output); !kept {
			t.Errorf("unit %d: accepted output %s not pinned", u.Index, u.Output)
		}
	}
	if len(badOutputs) == 0 {
		t.Error("no output of the corrupt worker reached the submitter; the pin check checks nothing")
	}
	for _, c := range badOutputs {
		if _, kept := sw.content.state(c); kept && !accepted[c] {
			t.Errorf("output %s that lost its vote is pinned", c)
		}
	}
	ws, err := sub.s.Workers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.ID == bad.h.ID() && w.Outvoted == 0 {
			t.Errorf("Workers(): corrupt worker has Outvoted 0: %+v", w)
		}
		if w.ID != bad.h.ID() && w.Outvoted != 0 {
			t.Errorf("Workers(): honest worker %s outvoted", w.ID)
		}
	}
}

// TestSwarmHeterogeneous: a 4-slot worker gets about four times the units of
// a 1-slot worker.
func TestSwarmHeterogeneous(t *testing.T) {
	sw := newSwarm()
	const delay = 250 * time.Millisecond
	small := sw.startWorker(t, WorkerConfig{Slots: 1}, &delayRunner{next: newPool(t, 1), delay: delay})
	big := sw.startWorker(t, WorkerConfig{Slots: 4}, &delayRunner{next: newPool(t, 4), delay: delay})
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	// A warm-up job first, one unit per slot: every child compiles the
	// module and both workers have bid, so that compile time and a late bid
	// on a loaded machine do not decide the split measured below.
	warm, err := sub.s.Submit(t.Context(), JobSpec{
		Module: sw.hostileModule(t), Args: []string{"ok"}, Split: Split{Kind: SplitRange, From: 0, To: 5, N: 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	if info := sub.wait(t, warm, 60*time.Second); info.State != JobDone {
		t.Fatalf("warm-up job: %s %s", info.State, info.Error)
	}
	id, err := sub.s.Submit(t.Context(), JobSpec{
		Module: sw.hostileModule(t), Args: []string{"ok"}, Split: Split{Kind: SplitRange, From: 0, To: 30, N: 30},
	})
	if err != nil {
		t.Fatal(err)
	}
	info := sub.wait(t, id, 60*time.Second)
	if info.State != JobDone {
		t.Fatalf("job: %s %s", info.State, info.Error)
	}
	per := unitsPerWorker(info)
	s, b := per[small.h.ID()], per[big.h.ID()]
	t.Logf("1-slot worker: %d units, 4-slot worker: %d units", s, b)
	if s == 0 || b < 2*s || b > 8*s {
		t.Errorf("units 1-slot %d vs 4-slot %d, want about 1:4", s, b)
	}
	for i, u := range info.Units {
		if got, want := u.Args, []string{"ok", fmt.Sprint(i), fmt.Sprint(i + 1)}; !slices.Equal(got, want) {
			t.Errorf("unit %d args %q, want %q", i, got, want)
		}
	}
}

// TestSubmitterRestart: jobs and receipts survive a restart of the
// submitter, and a job still active is resumed.
func TestSubmitterRestart(t *testing.T) {
	sw := newSwarm()
	dsDir := t.TempDir()
	mod := sw.module(t, "wordcount")
	in := sw.content.putBytes(t, []byte("one two two\n"))

	// No worker yet: the job waits.
	sub := sw.startSubmitter(t, nil, dsDir, SubmitterConfig{})
	waiting, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Inputs: []cid.Cid{in}})
	if err != nil {
		t.Fatal(err)
	}
	if why, err := sub.s.Why(t.Context(), waiting); err != nil || !strings.Contains(why, "unit 0") {
		t.Errorf("Why() = %q, %v", why, err)
	}
	sub.stop()

	sw.startWorker(t, WorkerConfig{Slots: 1}, nil)
	sub = sw.startSubmitter(t, nil, dsDir, SubmitterConfig{})
	info := sub.wait(t, waiting, 30*time.Second)
	if info.State != JobDone {
		t.Fatalf("resumed job: %s %s", info.State, info.Error)
	}
	if got := string(sw.content.bytes(t, info.Output())); got != "one\t1\ntwo\t2\n" {
		t.Errorf("resumed job output %q", got)
	}
	sub.stop()

	sub = sw.startSubmitter(t, nil, dsDir, SubmitterConfig{})
	got, err := sub.s.Result(t.Context(), waiting)
	if err != nil {
		t.Fatalf("Result() after restart = %v", err)
	}
	if !got.Output().Equals(info.Output()) {
		t.Errorf("Result() after restart: output %s, want %s", got.Output(), info.Output())
	}
	checkReceipts(t, got)
	list, err := sub.s.List(t.Context())
	if err != nil || len(list) != 1 || list[0].ID != waiting {
		t.Errorf("List() = %v, %v", list, err)
	}
	if _, err := sub.s.Status(t.Context(), "nope"); err == nil {
		t.Error("Status(unknown) = nil error")
	}
}

// TestSubmitterWatchEvents: a watcher sees each unit queued, placed, running,
// done and verified, then the job's end.
func TestSubmitterWatchEvents(t *testing.T) {
	sw := newSwarm()
	w := sw.startWorker(t, WorkerConfig{Slots: 2}, nil)
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: sw.hostileModule(t), Args: []string{"ok"}, Split: Split{Kind: SplitRange, From: 0, To: 2, N: 2}})
	if err != nil {
		t.Fatal(err)
	}
	events, err := sub.s.Watch(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int][]EventKind{}
	var last Event
	for ev := range events {
		seen[ev.Unit] = append(seen[ev.Unit], ev.Kind)
		last = ev
		if ev.Kind == EventPlaced && ev.Worker != w.h.ID() {
			t.Errorf("placed on %s, want %s", ev.Worker, w.h.ID())
		}
	}
	if last.Kind != EventJobDone {
		t.Errorf("last event %+v, want job-done", last)
	}
	want := []EventKind{EventQueued, EventPlaced, EventRunning, EventDone, EventVerified}
	for _, u := range []int{0, 1} {
		if !slices.Equal(seen[u], want) {
			t.Errorf("unit %d events %v, want %v", u, seen[u], want)
		}
	}
	// A watch of a finished job replays its history and ends.
	again, err := sub.s.Watch(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range again {
		n++
	}
	if n != len(seen[0])+len(seen[1])+len(seen[-1]) {
		t.Errorf("replayed %d events, want %d", n, len(seen[0])+len(seen[1])+len(seen[-1]))
	}
}
