package sched

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

var cmpCID = cmp.Comparer(func(a, b cid.Cid) bool { return a.Equals(b) })

const (
	wa = peer.ID("a")
	wb = peer.ID("b")
	wc = peer.ID("c")
	wd = peer.ID("d")
)

const jobJ = JobID("J")

func uid(i int) UnitID { return UnitID{jobJ, i} }

func at(d time.Duration) time.Time { return t0.Add(d) }

func submit(replicas int, costs ...float64) JobSubmitted {
	ev := JobSubmitted{Job: jobJ, Replicas: replicas}
	for _, c := range costs {
		ev.Units = append(ev.Units, UnitSpec{EstCost: c})
	}
	return ev
}

func bid(w peer.ID, free int, speed float64) BidReceived {
	return BidReceived{Worker: w, Job: jobJ, Slots: free, FreeSlots: free, Speed: speed}
}

func discover(ws ...peer.ID) WorkersDiscovered { return WorkersDiscovered{Workers: ws} }

func askAll(d time.Duration, ws ...peer.ID) RequestBids {
	return RequestBids{Job: jobJ, Workers: ws, Deadline: at(d + DefaultBidTimeout)}
}

func assign(unit, replica int, w peer.ID, d time.Duration) AssignUnit {
	return AssignUnit{Unit: uid(unit), Replica: replica, Worker: w, Deadline: at(d + DefaultDeadlineGrace)}
}

func completed(unit int, w peer.ID, out string) UnitCompleted {
	return UnitCompleted{Unit: uid(unit), Worker: w, Output: cidOf(out)}
}

// step observes evs, then calls Next at t0+at and expects want.
type step struct {
	evs  []Event
	at   time.Duration
	want []Action
}

// runSteps drives a fresh Scheduler through steps and returns it.
func runSteps(t testing.TB, cfg Config, steps []step) *Scheduler {
	t.Helper()
	s, err := New(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for i, st := range steps {
		for _, ev := range st.evs {
			if err := s.Observe(ev); err != nil {
				t.Fatalf("step %d: Observe(%#v): %v", i, ev, err)
			}
		}
		got := s.Next(at(st.at))
		if diff := cmp.Diff(st.want, got, cmpCID, cmpopts.EquateEmpty(), cmp.AllowUnexported(Wait{})); diff != "" {
			t.Errorf("step %d: Next(t0+%v) mismatch (-want +got):\n%s", i, st.at, diff)
		}
	}
	return s
}

// exact disables near-tie randomness so that ties go to the lowest peer ID.
var exact = Config{NearTie: -1}

// noBackups is exact without end-game backups, for tests of what happens
// to a lone run.
var noBackups = Config{NearTie: -1, Backups: -1}

// started is the prefix of most tests: workers a and b (a twice as fast),
// one slot each, one unit of cost 10, placed on a at t0.
func started(replicas int, costs ...float64) []step {
	return []step{
		{evs: []Event{discover(wa, wb), submit(replicas, costs...)}, want: []Action{askAll(0, wa, wb)}},
		{evs: []Event{bid(wa, 1, 2), bid(wb, 1, 1)}, want: []Action{assign(0, 0, wa, DefaultUnitDeadline)}},
	}
}

func TestNext(t *testing.T) {
	const big = 125_000_000 // 10 s at the default transfer rate
	in := Input{CID: cidOf("input"), Bytes: big}
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{
			name: "no workers known asks for workers",
			steps: []step{
				{evs: []Event{submit(1, 1)}, want: []Action{NeedWorkers{Job: jobJ, Wait: Wait{Reason: WaitNoWorkers}}}},
				{at: time.Second},
				{at: DefaultRebidInterval, want: []Action{NeedWorkers{Job: jobJ, Wait: Wait{Reason: WaitNoWorkers}}}},
			},
		},
		{
			name: "waits for every bid, then picks the earliest finish",
			steps: []step{
				{evs: []Event{discover(wa, wb), submit(1, 10)}, want: []Action{askAll(0, wa, wb)}},
				{evs: []Event{bid(wa, 1, 1)}, at: time.Second},
				{evs: []Event{bid(wb, 1, 2)}, at: time.Second, want: []Action{assign(0, 0, wb, time.Second+DefaultUnitDeadline)}},
			},
		},
		{
			name: "bid timeout places on the workers that answered",
			steps: []step{
				{evs: []Event{discover(wa, wb), submit(1, 10)}, want: []Action{askAll(0, wa, wb)}},
				{evs: []Event{bid(wb, 1, 1)}, at: time.Second},
				{at: DefaultBidTimeout, want: []Action{assign(0, 0, wb, DefaultBidTimeout+DefaultUnitDeadline)}},
			},
		},
		{
			name: "holds a unit for a busy worker that will finish it sooner",
			steps: []step{
				{evs: []Event{discover(wa, wb), submit(1, 10, 10)}, want: []Action{askAll(0, wa, wb)}},
				// a: 10 s per unit; b: 1 s per unit, so unit 1 waits for b.
				{evs: []Event{bid(wa, 1, 1), bid(wb, 1, 10)}, want: []Action{assign(0, 0, wb, DefaultUnitDeadline)}},
				{evs: []Event{completed(0, wb, "x0")}, at: time.Second, want: []Action{
					AcceptResult{Unit: uid(0), Output: cidOf("x0"), Agreeing: []peer.ID{wb}},
					assign(1, 0, wb, time.Second+DefaultUnitDeadline),
				}},
				{evs: []Event{completed(1, wb, "x1")}, at: 2 * time.Second, want: []Action{
					AcceptResult{Unit: uid(1), Output: cidOf("x1"), Agreeing: []peer.ID{wb}},
					FinishJob{Job: jobJ, Outputs: []cid.Cid{cidOf("x0"), cidOf("x1")}},
				}},
			},
		},
		{
			name: "queue allowance queues on a fast full worker",
			cfg:  Config{NearTie: -1, QueueAllowance: 1},
			steps: []step{
				{evs: []Event{discover(wa, wb), submit(1, 10, 10, 10)}, want: []Action{askAll(0, wa, wb)}},
				{evs: []Event{bid(wa, 1, 10), bid(wb, 1, 1)}, want: []Action{
					assign(0, 0, wa, DefaultUnitDeadline),
					assign(1, 0, wa, time.Second+DefaultUnitDeadline), // queued behind unit 0
				}},
			},
		},
		{
			name: "prefers the worker that holds the inputs",
			steps: []step{
				{evs: []Event{discover(wa, wb), JobSubmitted{Job: jobJ, Units: []UnitSpec{{EstCost: 1, Inputs: []Input{in}}}}},
					want: []Action{askAll(0, wa, wb)}},
				{evs: []Event{bid(wa, 1, 1), BidReceived{Worker: wb, Job: jobJ, FreeSlots: 1, Speed: 1, HasInputs: []cid.Cid{in.CID}}},
					want: []Action{assign(0, 0, wb, DefaultUnitDeadline)}},
			},
		},
		{
			name: "memory limit rules out a faster worker",
			steps: []step{
				{evs: []Event{discover(wa, wb), JobSubmitted{Job: jobJ, Units: []UnitSpec{{EstCost: 1, Limits: Limits{Memory: 2 << 30}}}}},
					want: []Action{askAll(0, wa, wb)}},
				{evs: []Event{
					BidReceived{Worker: wa, FreeSlots: 1, Speed: 10, MaxMemory: 1 << 30},
					BidReceived{Worker: wb, FreeSlots: 1, Speed: 1, MaxMemory: 4 << 30},
				}, want: []Action{assign(0, 0, wb, DefaultUnitDeadline)}},
			},
		},
		{
			name: "limits above every worker ask for workers",
			steps: []step{
				{evs: []Event{discover(wa), JobSubmitted{Job: jobJ, Units: []UnitSpec{{EstCost: 1, Limits: Limits{Memory: 2 << 30}}}}},
					want: []Action{askAll(0, wa)}},
				{evs: []Event{BidReceived{Worker: wa, FreeSlots: 1, Speed: 10, MaxMemory: 1 << 30}}, want: []Action{
					NeedWorkers{Job: jobJ, Wait: Wait{Reason: WaitLimits, Known: 1, Small: 1, NeedMemory: 2 << 30, MaxMemory: 1 << 30}},
				}},
			},
		},
		{
			name: "replicas go to distinct workers and a majority settles",
			steps: []step{
				{evs: []Event{discover(wa, wb, wc), submit(3, 1)}, want: []Action{askAll(0, wa, wb, wc)}},
				{evs: []Event{bid(wa, 2, 1), bid(wb, 2, 1), bid(wc, 2, 1)}, want: []Action{
					assign(0, 0, wa, DefaultUnitDeadline),
					assign(0, 1, wb, DefaultUnitDeadline),
					assign(0, 2, wc, DefaultUnitDeadline),
				}},
				{evs: []Event{completed(0, wa, "x")}, at: time.Second},
				{evs: []Event{completed(0, wc, "x")}, at: time.Second, want: []Action{
					AcceptResult{Unit: uid(0), Output: cidOf("x"), Agreeing: []peer.ID{wa, wc}},
					CancelUnit{Unit: uid(0), Worker: wb, Reason: "result accepted"},
					FinishJob{Job: jobJ, Outputs: []cid.Cid{cidOf("x")}},
				}},
			},
		},
		{
			name: "disagreement runs an extra replica and records the losers",
			steps: []step{
				{evs: []Event{discover(wa, wb, wc, wd), submit(3, 1)}, want: []Action{askAll(0, wa, wb, wc, wd)}},
				{evs: []Event{bid(wa, 1, 1), bid(wb, 1, 1), bid(wc, 1, 1), bid(wd, 1, 1)}, want: []Action{
					assign(0, 0, wa, DefaultUnitDeadline),
					assign(0, 1, wb, DefaultUnitDeadline),
					assign(0, 2, wc, DefaultUnitDeadline),
				}},
				{evs: []Event{completed(0, wa, "x"), completed(0, wb, "y"), completed(0, wc, "z")}, at: time.Second, want: []Action{
					assign(0, 3, wd, time.Second+DefaultUnitDeadline),
				}},
				{evs: []Event{completed(0, wd, "x")}, at: 2 * time.Second, want: []Action{
					AcceptResult{Unit: uid(0), Output: cidOf("x"), Agreeing: []peer.ID{wa, wd}},
					RecordFaulty{Worker: wb, Unit: uid(0), Reason: "output " + cidOf("y").String() + " outvoted by " + cidOf("x").String() + " from 2 workers"},
					RecordFaulty{Worker: wc, Unit: uid(0), Reason: "output " + cidOf("z").String() + " outvoted by " + cidOf("x").String() + " from 2 workers"},
					FinishJob{Job: jobJ, Outputs: []cid.Cid{cidOf("x")}},
				}},
			},
		},
		{
			name: "no majority within the extra replicas fails the job",
			cfg:  Config{NearTie: -1, MaxExtraReplicas: -1},
			steps: []step{
				{evs: []Event{discover(wa, wb, wc), submit(2, 1)}, want: []Action{askAll(0, wa, wb, wc)}},
				{evs: []Event{bid(wa, 1, 1), bid(wb, 1, 1), bid(wc, 1, 1)}, want: []Action{
					assign(0, 0, wa, DefaultUnitDeadline),
					assign(0, 1, wb, DefaultUnitDeadline),
				}},
				{evs: []Event{completed(0, wa, "x"), completed(0, wb, "y")}, at: time.Second, want: []Action{
					FailJob{Job: jobJ, Unit: uid(0), Reason: "unit J/0: no majority of 2 among 2 results: " + cidOf("x").String() + "×1 " + cidOf("y").String() + "×1"},
				}},
			},
		},
		{
			name: "an idle worker backs up a straggler and the first result wins",
			steps: []step{
				{evs: []Event{discover(wa, wb), submit(1, 10, 10)}, want: []Action{askAll(0, wa, wb)}},
				// Both bid speed 1; a turns out slower than it bid.
				{evs: []Event{bid(wa, 1, 1), bid(wb, 1, 1)}, want: []Action{
					assign(0, 0, wa, DefaultUnitDeadline),
					assign(1, 0, wb, DefaultUnitDeadline),
				}},
				{evs: []Event{completed(1, wb, "x1")}, at: 10 * time.Second, want: []Action{
					AcceptResult{Unit: uid(1), Output: cidOf("x1"), Agreeing: []peer.ID{wb}},
				}},
				// Overdue by 11 s, a is expected to need 11 s more: not
				// enough sooner on b (10 s, plus NearTie) to back it up.
				{evs: []Event{UnitProgressed{Unit: uid(0), Worker: wa, At: at(20 * time.Second)}}, at: 21 * time.Second},
				{at: 22 * time.Second, want: []Action{
					AssignUnit{Unit: uid(0), Replica: 1, Worker: wb, Deadline: at(22*time.Second + DefaultUnitDeadline + DefaultDeadlineGrace), Backup: true},
				}},
				// One backup per unit: b's result settles it, a's run is dropped.
				{evs: []Event{completed(0, wb, "x0")}, at: 32 * time.Second, want: []Action{
					AcceptResult{Unit: uid(0), Output: cidOf("x0"), Agreeing: []peer.ID{wb}},
					CancelUnit{Unit: uid(0), Worker: wa, Reason: "result accepted"},
					FinishJob{Job: jobJ, Outputs: []cid.Cid{cidOf("x0"), cidOf("x1")}},
				}},
			},
		},
		{
			name: "no backups when disabled",
			cfg:  noBackups,
			steps: []step{
				{evs: []Event{discover(wa, wb), submit(1, 10, 10)}, want: []Action{askAll(0, wa, wb)}},
				{evs: []Event{bid(wa, 1, 1), bid(wb, 1, 1)}, want: []Action{
					assign(0, 0, wa, DefaultUnitDeadline),
					assign(1, 0, wb, DefaultUnitDeadline),
				}},
				{evs: []Event{completed(1, wb, "x1")}, at: 10 * time.Second, want: []Action{
					AcceptResult{Unit: uid(1), Output: cidOf("x1"), Agreeing: []peer.ID{wb}},
				}},
				{evs: []Event{UnitProgressed{Unit: uid(0), Worker: wa, At: at(25 * time.Second)}}, at: 25 * time.Second},
			},
		},
		{
			name: "a failed backup leaves the straggler running",
			steps: []step{
				{evs: []Event{discover(wa, wb, wc), submit(1, 10, 10)}, want: []Action{askAll(0, wa, wb, wc)}},
				{evs: []Event{bid(wa, 1, 1), bid(wb, 1, 1)}, at: DefaultBidTimeout, want: []Action{
					assign(0, 0, wa, DefaultBidTimeout+DefaultUnitDeadline),
					assign(1, 0, wb, DefaultBidTimeout+DefaultUnitDeadline),
				}},
				{evs: []Event{completed(1, wb, "x1"), UnitProgressed{Unit: uid(0), Worker: wa, At: at(20 * time.Second)}}, at: 24 * time.Second, want: []Action{
					AcceptResult{Unit: uid(1), Output: cidOf("x1"), Agreeing: []peer.ID{wb}},
					AssignUnit{Unit: uid(0), Replica: 1, Worker: wb, Deadline: at(24*time.Second + DefaultUnitDeadline + DefaultDeadlineGrace), Backup: true},
				}},
				{evs: []Event{UnitFailed{Unit: uid(0), Worker: wb, Reason: "out of disk", At: at(25 * time.Second)}}, at: 25 * time.Second},
				{evs: []Event{completed(0, wa, "x0")}, at: 26 * time.Second, want: []Action{
					AcceptResult{Unit: uid(0), Output: cidOf("x0"), Agreeing: []peer.ID{wa}},
					FinishJob{Job: jobJ, Outputs: []cid.Cid{cidOf("x0"), cidOf("x1")}},
				}},
			},
		},
		{
			name: "a stalled run is cancelled and placed elsewhere",
			cfg:  noBackups,
			steps: append(started(1, 10),
				step{evs: []Event{UnitAccepted{Unit: uid(0), Worker: wa, At: at(time.Second)}}, at: time.Second},
				step{at: 31 * time.Second},
				step{at: 31*time.Second + time.Millisecond, want: []Action{
					CancelUnit{Unit: uid(0), Worker: wa, Reason: "stalled"},
					askAll(31*time.Second+time.Millisecond, wb), // the queue is not empty and bids are old
					assign(0, 1, wb, 31*time.Second+time.Millisecond+DefaultUnitDeadline),
				}},
			),
		},
		{
			name: "heartbeats keep a run alive until its deadline",
			cfg:  noBackups,
			steps: []step{
				{evs: []Event{discover(wa, wb), JobSubmitted{Job: jobJ, Units: []UnitSpec{{EstCost: 1, Limits: Limits{WallTime: 20 * time.Second}}}}},
					want: []Action{askAll(0, wa, wb)}},
				{evs: []Event{bid(wa, 1, 2), bid(wb, 1, 1)}, want: []Action{assign(0, 0, wa, 20*time.Second)}},
				{evs: []Event{UnitProgressed{Unit: uid(0), Worker: wa, At: at(15 * time.Second)}}, at: 20*time.Second + DefaultDeadlineGrace},
				{evs: []Event{UnitProgressed{Unit: uid(0), Worker: wa, At: at(20*time.Second + DefaultDeadlineGrace)}}, at: 21*time.Second + DefaultDeadlineGrace, want: []Action{
					CancelUnit{Unit: uid(0), Worker: wa, Reason: "deadline missed"},
					askAll(21*time.Second+DefaultDeadlineGrace, wb), // b's bid is past RebidInterval
					assign(0, 1, wb, 41*time.Second+DefaultDeadlineGrace),
				}},
			},
		},
		{
			// The worker kills the run at its wall time and reports the
			// timeout a little later: the grace on the deadline lets that
			// report arrive first, and the only worker's deterministic
			// timeout ends the job instead of backing the worker off and
			// waiting for another (issue 11).
			name: "a timeout on the only worker, reported within the deadline's grace, fails the job",
			cfg:  noBackups,
			steps: []step{
				{evs: []Event{discover(wa), JobSubmitted{Job: jobJ, Units: []UnitSpec{{EstCost: 1, Limits: Limits{WallTime: 20 * time.Second}}}}},
					want: []Action{askAll(0, wa)}},
				{evs: []Event{bid(wa, 1, 1)}, want: []Action{assign(0, 0, wa, 20*time.Second)}},
				{evs: []Event{UnitProgressed{Unit: uid(0), Worker: wa, At: at(15 * time.Second)}}, at: 20*time.Second + time.Second},
				{evs: []Event{UnitFailed{Unit: uid(0), Worker: wa, Reason: "timeout", Deterministic: true, At: at(21*time.Second + time.Second/2)}}, at: 22 * time.Second, want: []Action{
					FailJob{Job: jobJ, Unit: uid(0), Reason: "unit J/0 failed deterministically on every worker that could run it (1): timeout", Failures: []Failure{
						{Unit: uid(0), Worker: wa, Kind: FailedOnWorker, Reason: "timeout", Deterministic: true, At: at(21*time.Second + time.Second/2)},
					}},
				}},
			},
		},
		{
			name: "a lost worker's run is placed elsewhere",
			steps: append(started(1, 10),
				step{evs: []Event{WorkerLost{Worker: wa}}, at: time.Second, want: []Action{
					assign(0, 1, wb, time.Second+DefaultUnitDeadline),
				}},
			),
		},
		{
			name: "a unit that traps on every worker there is fails the job before MaxAttempts",
			steps: []step{
				{evs: []Event{discover(wa, wb, wc), submit(1, 1)}, want: []Action{askAll(0, wa, wb, wc)}},
				{evs: []Event{bid(wa, 1, 1), bid(wb, 1, 1), bid(wc, 1, 1)}, want: []Action{assign(0, 0, wa, DefaultUnitDeadline)}},
				{evs: []Event{UnitFailed{Unit: uid(0), Worker: wa, Reason: "trap", Deterministic: true}}, want: []Action{assign(0, 1, wb, DefaultUnitDeadline)}},
				// c is lost: nobody is left to rule out a bad worker.
				{evs: []Event{WorkerLost{Worker: wc}, UnitFailed{Unit: uid(0), Worker: wb, Reason: "trap", Deterministic: true}}, want: []Action{
					FailJob{Job: jobJ, Unit: uid(0), Reason: "unit J/0 failed deterministically on every worker that could run it (2): trap", Failures: []Failure{
						{Unit: uid(0), Worker: wa, Kind: FailedOnWorker, Reason: "trap", Deterministic: true, At: t0},
						{Unit: uid(0), Worker: wb, Kind: FailedOnWorker, Reason: "trap", Deterministic: true, At: t0},
					}},
				}},
			},
		},
		{
			name: "a unit that failed for another reason waits for more workers",
			steps: []step{
				{evs: []Event{discover(wa), submit(1, 1)}, want: []Action{askAll(0, wa)}},
				{evs: []Event{bid(wa, 1, 1)}, want: []Action{assign(0, 0, wa, DefaultUnitDeadline)}},
				{evs: []Event{UnitFailed{Unit: uid(0), Worker: wa, Reason: "out of disk"}}, want: []Action{
					NeedWorkers{Job: jobJ, Wait: Wait{Reason: WaitExcluded, Known: 1, Excluded: 1}},
				}},
			},
		},
		{
			name: "failing on MaxAttempts workers fails the job with every reason",
			steps: []step{
				{evs: []Event{discover(wa, wb, wc, wd), submit(1, 1)}, want: []Action{askAll(0, wa, wb, wc, wd)}},
				{evs: []Event{bid(wa, 1, 1), bid(wb, 1, 1), bid(wc, 1, 1), bid(wd, 1, 1)}, want: []Action{assign(0, 0, wa, DefaultUnitDeadline)}},
				{evs: []Event{UnitFailed{Unit: uid(0), Worker: wa, Reason: "trap", Deterministic: true}}, want: []Action{assign(0, 1, wb, DefaultUnitDeadline)}},
				{evs: []Event{UnitFailed{Unit: uid(0), Worker: wb, Reason: "trap", Deterministic: true}}, want: []Action{assign(0, 2, wc, DefaultUnitDeadline)}},
				{evs: []Event{UnitFailed{Unit: uid(0), Worker: wc, Reason: "out of disk"}}, want: []Action{
					FailJob{Job: jobJ, Unit: uid(0), Reason: "unit J/0 failed on 3 workers", Failures: []Failure{
						{Unit: uid(0), Worker: wa, Kind: FailedOnWorker, Reason: "trap", Deterministic: true, At: t0},
						{Unit: uid(0), Worker: wb, Kind: FailedOnWorker, Reason: "trap", Deterministic: true, At: t0},
						{Unit: uid(0), Worker: wc, Kind: FailedOnWorker, Reason: "out of disk", At: t0},
					}},
				}},
			},
		},
		{
			name: "a busy rejection is not an attempt and moves the unit",
			steps: append(started(1, 10),
				step{evs: []Event{UnitRejected{Unit: uid(0), Worker: wa, Reason: RejectBusy}}, want: []Action{assign(0, 1, wb, DefaultUnitDeadline)}},
				// Once a has room again, the unit may go back to it.
				step{evs: []Event{UnitFailed{Unit: uid(0), Worker: wb, Reason: "oops"}, bid(wa, 1, 2)}, want: []Action{assign(0, 2, wa, DefaultUnitDeadline)}},
			),
		},
		{
			name: "a limits rejection keeps the unit off that worker",
			steps: append(started(1, 10),
				step{evs: []Event{UnitRejected{Unit: uid(0), Worker: wa, Reason: RejectLimits, Detail: "memory"}}, want: []Action{assign(0, 1, wb, DefaultUnitDeadline)}},
				step{evs: []Event{UnitFailed{Unit: uid(0), Worker: wb, Reason: "oops"}}, want: []Action{
					NeedWorkers{Job: jobJ, Wait: Wait{Reason: WaitExcluded, Known: 2, Excluded: 2}},
				}},
			),
		},
		{
			name: "cancelling a job cancels its runs",
			steps: []step{
				{evs: []Event{discover(wa, wb), submit(1, 10, 10)}, want: []Action{askAll(0, wa, wb)}},
				{evs: []Event{bid(wa, 1, 1), bid(wb, 1, 1)}, want: []Action{
					assign(0, 0, wa, DefaultUnitDeadline),
					assign(1, 0, wb, DefaultUnitDeadline),
				}},
				{evs: []Event{JobWithdrawn{Job: jobJ}}, at: time.Second, want: []Action{
					CancelUnit{Unit: uid(0), Worker: wa, Reason: "job cancelled"},
					CancelUnit{Unit: uid(1), Worker: wb, Reason: "job cancelled"},
				}},
				{evs: []Event{completed(0, wa, "x")}, at: 2 * time.Second},
			},
		},
		{
			name: "reports for runs never assigned are ignored",
			steps: append(started(1, 10),
				step{evs: []Event{
					completed(0, wb, "x"),
					UnitFailed{Unit: uid(0), Worker: wc},
					completed(7, wa, "x"),
					UnitCompleted{Unit: UnitID{"other", 0}, Worker: wa},
				}},
			),
		},
		{
			name: "an outvoted worker is not asked again while avoided",
			steps: []step{
				{evs: []Event{discover(wa, wb, wc, wd), submit(3, 1)}, want: []Action{askAll(0, wa, wb, wc, wd)}},
				{evs: []Event{bid(wa, 1, 1), bid(wb, 1, 1), bid(wc, 1, 1), bid(wd, 1, 1)}, want: []Action{
					assign(0, 0, wa, DefaultUnitDeadline),
					assign(0, 1, wb, DefaultUnitDeadline),
					assign(0, 2, wc, DefaultUnitDeadline),
				}},
				{evs: []Event{completed(0, wa, "x"), completed(0, wb, "y"), completed(0, wc, "x")}, want: []Action{
					AcceptResult{Unit: uid(0), Output: cidOf("x"), Agreeing: []peer.ID{wa, wc}},
					RecordFaulty{Worker: wb, Unit: uid(0), Reason: "output " + cidOf("y").String() + " outvoted by " + cidOf("x").String() + " from 2 workers"},
					FinishJob{Job: jobJ, Outputs: []cid.Cid{cidOf("x")}},
				}},
				{evs: []Event{JobSubmitted{Job: "K", Units: []UnitSpec{{EstCost: 1}}}}, at: time.Minute, want: []Action{
					RequestBids{Job: "K", Workers: []peer.ID{wa, wc, wd}, Deadline: at(time.Minute + DefaultBidTimeout)},
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg == (Config{}) {
				cfg = exact
			}
			runSteps(t, cfg, tt.steps)
		})
	}
}

// TestUnmeasuredSpeedHeldToMeasuredRange: a worker that joins with its
// configured hint (speed 1) while the workers measured so far run at 0.1
// is taken at 0.1 until its own first result, so queued units do not wait
// for a phantom fast worker.
func TestUnmeasuredSpeedHeldToMeasuredRange(t *testing.T) {
	done := func(unit int, w peer.ID, took time.Duration) UnitCompleted {
		return UnitCompleted{Unit: uid(unit), Worker: w, Output: cidOf(fmt.Sprint("x", unit)), At: at(10 * time.Second), Took: took}
	}
	s := runSteps(t, exact, []step{
		{evs: []Event{discover(wa, wb), submit(1, 1, 1, 1, 1, 1, 1)}, want: []Action{askAll(0, wa, wb)}},
		{evs: []Event{bid(wa, 1, 1), bid(wb, 1, 1)}, want: []Action{
			assign(0, 0, wa, DefaultUnitDeadline),
			assign(1, 0, wb, DefaultUnitDeadline),
		}},
		{evs: []Event{done(0, wa, 10*time.Second), done(1, wb, 10*time.Second)}, at: 10 * time.Second, want: []Action{
			AcceptResult{Unit: uid(0), Output: cidOf("x0"), Agreeing: []peer.ID{wa}},
			AcceptResult{Unit: uid(1), Output: cidOf("x1"), Agreeing: []peer.ID{wb}},
			assign(2, 0, wa, 10*time.Second+DefaultUnitDeadline),
			assign(3, 0, wb, 10*time.Second+DefaultUnitDeadline),
		}},
		{evs: []Event{discover(wc)}, at: 10 * time.Second, want: []Action{askAll(10*time.Second, wc)}},
		{evs: []Event{bid(wc, 1, 1)}, at: 11 * time.Second, want: []Action{
			assign(4, 0, wc, 11*time.Second+DefaultUnitDeadline),
		}},
	})
	want := map[peer.ID][2]float64{wa: {0.1, 1}, wb: {0.1, 1}, wc: {0.1, 1}}
	for _, w := range s.Workers() {
		if got := [2]float64{w.Speed, w.BidSpeed}; math.Abs(got[0]-want[w.ID][0]) > 1e-9 || got[1] != want[w.ID][1] {
			t.Errorf("worker %s: speed, bid speed = %v, want %v", w.ID, got, want[w.ID])
		}
	}
}
