package sched

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		want    Config
		wantErr string
	}{
		{name: "zero is default", cfg: Config{}, want: DefaultConfig()},
		{name: "default is default", cfg: DefaultConfig(), want: DefaultConfig()},
		{
			name: "set fields are kept",
			cfg:  Config{BidTimeout: time.Second, MaxAttempts: 5, NearTie: -1, MaxExtraReplicas: -1, QueueAllowance: 2},
			want: func() Config {
				c := DefaultConfig()
				c.BidTimeout, c.MaxAttempts, c.NearTie, c.MaxExtraReplicas, c.QueueAllowance = time.Second, 5, -1, -1, 2
				return c
			}(),
		},
		{name: "negative duration", cfg: Config{StallTimeout: -1}, wantErr: "StallTimeout"},
		{name: "negative attempts", cfg: Config{MaxAttempts: -1}, wantErr: "MaxAttempts"},
		{name: "near tie too big", cfg: Config{NearTie: 2}, wantErr: "NearTie"},
		{name: "near tie NaN", cfg: Config{NearTie: math.NaN()}, wantErr: "NearTie"},
		{name: "negative allowance", cfg: Config{QueueAllowance: -1}, wantErr: "QueueAllowance"},
		{name: "negative rate", cfg: Config{TransferRate: -1}, wantErr: "TransferRate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg, rand.New(rand.NewPCG(1, 1)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%+v) error = %v, want one naming %s", tt.cfg, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%+v): %v", tt.cfg, err)
			}
			if diff := cmp.Diff(tt.want, s.Config()); diff != "" {
				t.Errorf("New(%+v).Config() mismatch (-want +got):\n%s", tt.cfg, diff)
			}
		})
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Errorf("New(Config{}, nil) = nil error, want one")
	}
}

func TestObserveErrors(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want error
	}{
		{"duplicate job", submit(1, 1), ErrDuplicateJob},
		{"empty job ID", JobSubmitted{Units: []UnitSpec{{}}}, ErrInvalidJob},
		{"no units", JobSubmitted{Job: "K"}, ErrInvalidJob},
		{"negative replicas", JobSubmitted{Job: "K", Units: []UnitSpec{{}}, Replicas: -1}, ErrInvalidJob},
		{"negative cost", JobSubmitted{Job: "K", Units: []UnitSpec{{EstCost: -1}}}, ErrInvalidJob},
		{"infinite cost", JobSubmitted{Job: "K", Units: []UnitSpec{{EstCost: math.Inf(1)}}}, ErrInvalidJob},
		{"negative input size", JobSubmitted{Job: "K", Units: []UnitSpec{{Inputs: []Input{{Bytes: -1}}}}}, ErrInvalidJob},
		{"cancel unknown job", JobWithdrawn{Job: "nope"}, ErrUnknownJob},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := New(Config{}, rand.New(rand.NewPCG(1, 1)))
			if err := s.Observe(submit(1, 1)); err != nil {
				t.Fatalf("Observe(submit): %v", err)
			}
			if err := s.Observe(tt.ev); !errors.Is(err, tt.want) {
				t.Errorf("Observe(%#v) = %v, want %v", tt.ev, err, tt.want)
			}
		})
	}
	s, _ := New(Config{}, rand.New(rand.NewPCG(1, 1)))
	if err := s.Observe(nil); err == nil {
		t.Errorf("Observe(nil) = nil, want an error")
	}
}

// TestBidAccounting pins how a bid combines with runs the worker may or may
// not have known of when it answered.
func TestBidAccounting(t *testing.T) {
	s := runSteps(t, exact, []step{
		{evs: []Event{discover(wa), submit(1, 1, 1, 1, 1)}, want: []Action{askAll(0, wa)}},
		{evs: []Event{bid(wa, 2, 1)}, want: []Action{
			assign(0, 0, wa, DefaultUnitDeadline),
			assign(1, 0, wa, DefaultUnitDeadline),
		}},
		// The re-bid after RebidInterval is answered with both our runs
		// busy: nothing is free, nothing is placed.
		{at: DefaultRebidInterval, want: []Action{askAll(DefaultRebidInterval, wa)}},
		{evs: []Event{
			UnitProgressed{Unit: uid(0), Worker: wa, At: at(DefaultRebidInterval)},
			UnitProgressed{Unit: uid(1), Worker: wa, At: at(DefaultRebidInterval)},
			bid(wa, 0, 1),
		}, at: DefaultRebidInterval},
		// One of the runs the bid counted ends: its slot is free again.
		{evs: []Event{completed(0, wa, "x")}, at: DefaultRebidInterval, want: []Action{
			AcceptResult{Unit: uid(0), Output: cidOf("x"), Agreeing: []peer.ID{wa}},
			assign(2, 0, wa, DefaultRebidInterval+DefaultUnitDeadline),
		}},
	})
	ws := s.Workers()
	if len(ws) != 1 || ws[0].InFlight != 2 || ws[0].Room != 0 {
		t.Errorf("Workers() = %+v, want a with 2 in flight and no room", ws)
	}
}

func TestNearTieSpreads(t *testing.T) {
	// Many submitters seeing the same five equal bids should not all pick
	// the same worker.
	picks := map[peer.ID]int{}
	ws := []peer.ID{wa, wb, wc, wd, "e"}
	for seed := range uint64(100) {
		s, _ := New(Config{}, rand.New(rand.NewPCG(seed, 0)))
		s.Observe(discover(ws...))
		s.Observe(submit(1, 1))
		s.Next(t0)
		for _, w := range ws {
			s.Observe(bid(w, 1, 1))
		}
		for _, a := range s.Next(t0) {
			if a, ok := a.(AssignUnit); ok {
				picks[a.Worker]++
			}
		}
	}
	for _, w := range ws {
		if picks[w] < 10 {
			t.Errorf("over 100 seeds, %s picked %d times, want >= 10 (picks %v)", w, picks[w], picks)
		}
	}
}

func TestWhy(t *testing.T) {
	s := runSteps(t, exact, []step{
		{evs: []Event{discover(wa, wb, wc, wd), submit(3, 1, 1)}, want: []Action{askAll(0, wa, wb, wc, wd)}},
		{evs: []Event{bid(wa, 1, 4), bid(wb, 1, 3), bid(wc, 1, 2), bid(wd, 1, 1)}, want: []Action{
			assign(0, 0, wa, DefaultUnitDeadline),
			assign(0, 1, wb, DefaultUnitDeadline),
			assign(0, 2, wc, DefaultUnitDeadline),
			assign(1, 0, wd, DefaultUnitDeadline),
		}},
		{evs: []Event{
			UnitAccepted{Unit: uid(0), Worker: wa, At: t0},
			completed(0, wa, "x"),
			UnitFailed{Unit: uid(0), Worker: wb, Reason: "trap", Deterministic: true},
		}, want: []Action{
			// Unit 1 takes the slots freed on a and b; unit 0 needs a
			// fourth worker and d is busy.
			assign(1, 1, wa, DefaultUnitDeadline),
			assign(1, 2, wb, DefaultUnitDeadline),
		}},
	})
	// The snapshot explains the unit in values; compute words them
	// (compute.TestUnitWhy replays these steps and checks the text).
	st, _ := s.Unit(uid(0))
	want := Wait{Reason: WaitBusy, Known: 4, Busy: 1, Excluded: 3}
	if st.Status != UnitVoting || st.Wait != want || len(st.Runs) != 3 || len(st.Failures) != 1 {
		t.Fatalf("Unit(%v) = %+v, want voting, %+v, 3 runs, 1 failure", uid(0), st, want)
	}
	runs := []struct {
		w  peer.ID
		st RunState
	}{{wa, RunDone}, {wb, RunFailed}, {wc, RunAssigned}}
	for i, r := range runs {
		if got := st.Runs[i]; got.Worker != r.w || got.Status != r.st || got.Replica != i {
			t.Errorf("Unit(%v).Runs[%d] = %+v, want replica %d on %s %v", uid(0), i, got, i, r.w, r.st)
		}
	}
	if f := st.Failures[0]; f.Worker != wb || f.Kind != FailedOnWorker || !f.Deterministic || f.Reason != "trap" {
		t.Errorf("Unit(%v).Failures[0] = %+v, want b's deterministic trap", uid(0), f)
	}
	if u1, _ := s.Unit(uid(1)); u1.Status != UnitPlaced || u1.Wait.Reason != WaitNone {
		t.Errorf("Unit(%v) = %+v, want placed, not waiting", uid(1), u1)
	}
	if _, ok := s.Unit(UnitID{"nope", 0}); ok {
		t.Errorf("Unit(nope/0) found")
	}
}

// noBid is a unit's Wait after its one worker's bid failed.
var noBid = Wait{Reason: WaitNoBids, Known: 1, NoBid: 1, BidErr: "bid failed: connection refused"}

// TestWhyQueued checks the structured reason a queued unit waits, which
// compute.TestWaitText words.
func TestWhyQueued(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		want  Wait
	}{
		{
			name:  "no workers",
			steps: []step{{evs: []Event{submit(1, 1)}, want: []Action{NeedWorkers{Job: jobJ, Wait: Wait{Reason: WaitNoWorkers}}}}},
			want:  Wait{Reason: WaitNoWorkers},
		},
		{
			name:  "waiting for bids",
			steps: []step{{evs: []Event{discover(wa), submit(1, 1)}, want: []Action{askAll(0, wa)}}},
			want:  Wait{Reason: WaitBids, Known: 1, NoBid: 1, window: true},
		},
		{
			name: "no bids",
			steps: []step{
				{evs: []Event{discover(wa), submit(1, 1)}, want: []Action{askAll(0, wa)}},
				{evs: []Event{BidFailed{Worker: wa, Job: jobJ, Err: errors.New("connection refused")}}, want: []Action{
					NeedWorkers{Job: jobJ, Wait: noBid},
				}},
			},
			want: noBid,
		},
		{
			name: "all busy",
			steps: []step{
				{evs: []Event{discover(wa), submit(1, 1, 1)}, want: []Action{askAll(0, wa)}},
				{evs: []Event{bid(wa, 1, 1)}, want: []Action{assign(0, 0, wa, DefaultUnitDeadline)}},
			},
			want: Wait{Reason: WaitBusy, Known: 1, Busy: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := runSteps(t, exact, tt.steps)
			units, err := s.Units(jobJ)
			if err != nil {
				t.Fatalf("Units(%q): %v", jobJ, err)
			}
			last := units[len(units)-1]
			if last.Status != UnitQueued || last.Wait != tt.want {
				t.Errorf("Units(%q)[%d] = %v, %+v; want queued, %+v", jobJ, len(units)-1, last.Status, last.Wait, tt.want)
			}
		})
	}
}

func TestJobsAndForget(t *testing.T) {
	s := runSteps(t, exact, append(started(1, 10),
		step{evs: []Event{UnitCompleted{Unit: uid(0), Worker: wa, Output: cidOf("x"), At: at(time.Second)}}, at: 2 * time.Second, want: []Action{
			AcceptResult{Unit: uid(0), Output: cidOf("x"), Agreeing: []peer.ID{wa}},
			FinishJob{Job: jobJ, Outputs: cidList("x")},
		}},
	))
	st, ok := s.Job(jobJ)
	if !ok || st.Status != JobDone || st.Accepted != 1 || st.EndedAt != at(time.Second) {
		t.Errorf("Job(%q) = %+v, %v; want done with 1 accepted, ended at t0+1s", jobJ, st, ok)
	}
	if err := s.Forget(jobJ); err != nil {
		t.Fatalf("Forget(%q): %v", jobJ, err)
	}
	if _, err := s.Units(jobJ); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("Units(%q) after Forget = %v, want ErrUnknownJob", jobJ, err)
	}
	if err := s.Forget(jobJ); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("Forget(%q) twice = %v, want ErrUnknownJob", jobJ, err)
	}
	if err := s.Observe(submit(1, 1)); err != nil {
		t.Fatalf("Observe(submit) after Forget: %v", err)
	}
	if err := s.Forget(jobJ); err == nil {
		t.Errorf("Forget(active job) = nil, want an error")
	}
	if got := len(s.Jobs()); got != 1 {
		t.Errorf("len(Jobs()) = %d, want 1", got)
	}
}

func TestWakeAt(t *testing.T) {
	s, _ := New(exact, rand.New(rand.NewPCG(1, 1)))
	if _, ok := s.WakeAt(); ok {
		t.Errorf("WakeAt() on an empty scheduler reports a time")
	}
	s.Observe(discover(wa))
	s.Observe(submit(1, 1))
	if got, ok := s.WakeAt(); !ok || !got.IsZero() {
		t.Errorf("WakeAt() with a job never seen by Next = %v, %v; want now", got, ok)
	}
	s.Next(t0)
	if got, ok := s.WakeAt(); !ok || !got.Equal(at(DefaultBidTimeout)) {
		t.Errorf("WakeAt() while bids are out = %v, %v; want t0+%v", got, ok, DefaultBidTimeout)
	}
	s.Observe(bid(wa, 1, 1))
	s.Next(t0)
	want := at(DefaultStallTimeout + time.Nanosecond)
	if got, ok := s.WakeAt(); !ok || !got.Equal(want) {
		t.Errorf("WakeAt() with a run in flight = %v, %v; want its stall time %v", got, ok, want)
	}
}

func cidList(outs ...string) []cid.Cid {
	var l []cid.Cid
	for _, o := range outs {
		l = append(l, cidOf(o))
	}
	return l
}

// TestStateText: job and unit states encode as their words and decode back
// (the JSON of jobs and their records); an unknown word is an error.
func TestStateText(t *testing.T) {
	for st := JobActive; st <= JobCancelled; st++ {
		b, _ := st.MarshalText()
		var got JobState
		if err := got.UnmarshalText(b); err != nil || got != st || string(b) == "unknown" {
			t.Errorf("JobState %d: text %q decodes to %v, %v", int(st), b, got, err)
		}
	}
	for st := UnitQueued; st <= UnitWaiting; st++ {
		b, _ := st.MarshalText()
		var got UnitState
		if err := got.UnmarshalText(b); err != nil || got != st || string(b) == "unknown" {
			t.Errorf("UnitState %d: text %q decodes to %v, %v", int(st), b, got, err)
		}
	}
	var js JobState
	var us UnitState
	if js.UnmarshalText([]byte("finished")) == nil || us.UnmarshalText([]byte("unknown")) == nil {
		t.Error("UnmarshalText of an unknown word = nil error")
	}
}
