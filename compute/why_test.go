package compute

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/enxame/enxame/compute/sched"
)

// TestWaitText pins the wording of why a unit waits, written here from the
// scheduler's counts (sched.TestWhyQueued and sched.TestNext check the
// counts).
func TestWaitText(t *testing.T) {
	tests := []struct {
		w    sched.Wait
		want string
	}{
		{sched.Wait{Reason: sched.WaitNoWorkers}, "no workers found"},
		{sched.Wait{Reason: sched.WaitBids, Known: 1, NoBid: 1}, "waiting for bids"},
		{sched.Wait{Reason: sched.WaitNoBids, Known: 1, NoBid: 1, BidErr: "bid failed: connection refused"},
			"no worker bid (1 without a bid); last: bid failed: connection refused"},
		{sched.Wait{Reason: sched.WaitBusy, Known: 1, Busy: 1}, "all workers busy (1 busy)"},
		{sched.Wait{Reason: sched.WaitLimits, Known: 1, Small: 1, NeedMemory: 2 << 30, MaxMemory: 1 << 30},
			"limits above every worker's: needs 2.0 GiB of memory, the most offered is 1.0 GiB (1 with too little memory)"},
		{sched.Wait{Reason: sched.WaitExcluded, Known: 1, Excluded: 1}, "no eligible worker left (1 already ran, failed or refused it)"},
		{sched.Wait{Reason: sched.WaitExcluded, Known: 2, Excluded: 2}, "no eligible worker left (2 already ran, failed or refused it)"},
		{sched.Wait{Reason: sched.WaitHeld, Known: 2, Free: 1, Busy: 1}, "held for a faster worker: 1 with room are predicted slower than 1 busy"},
		{sched.Wait{Reason: sched.WaitExcluded, Known: 6, Busy: 0, Small: 1, Excluded: 1, Avoided: 2, NoBid: 1, Lost: 1},
			"no eligible worker left (1 with too little memory, 1 already ran, failed or refused it, 2 avoided after a fault, 1 without a bid, 1 lost)"},
	}
	for _, tt := range tests {
		if got := waitText(tt.w); got != tt.want {
			t.Errorf("waitText(%+v) = %q, want %q", tt.w, got, tt.want)
		}
	}
}

func TestBytesString(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {2 << 30, "2.0 GiB"}, {1 << 62, "4.0 EiB"}}
	for _, tt := range tests {
		if got := bytesString(tt.n); got != tt.want {
			t.Errorf("bytesString(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestUnitWhy pins the text `enxame compute why` prints for a unit of the
// phase in progress, from a scheduler driven through the steps of
// sched.TestWhy: a unit with one run done, one failed, one assigned and a
// fourth replica waiting, and a unit placed.
func TestUnitWhy(t *testing.T) {
	wa, wb, wc, wd := peer.ID("a"), peer.ID("b"), peer.ID("c"), peer.ID("d")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := sched.New(sched.Config{NearTie: -1}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatalf("sched.New: %v", err)
	}
	uid := func(i int) sched.UnitID { return sched.UnitID{Job: "J", Index: i} }
	bid := func(w peer.ID, speed float64) sched.Event {
		return sched.BidReceived{Worker: w, Job: "J", Slots: 1, FreeSlots: 1, Speed: speed}
	}
	for _, evs := range [][]sched.Event{
		{sched.WorkersDiscovered{Workers: []peer.ID{wa, wb, wc, wd}}, sched.JobSubmitted{Job: "J", Replicas: 3, Units: []sched.UnitSpec{{EstCost: 1}, {EstCost: 1}}}},
		{bid(wa, 4), bid(wb, 3), bid(wc, 2), bid(wd, 1)},
		{
			sched.UnitAccepted{Unit: uid(0), Worker: wa, At: t0},
			sched.UnitCompleted{Unit: uid(0), Worker: wa, Output: cidOfString(t, "x")},
			sched.UnitFailed{Unit: uid(0), Worker: wb, Reason: "trap", Deterministic: true},
		},
	} {
		for _, ev := range evs {
			if err := s.Observe(ev); err != nil {
				t.Fatalf("Observe(%#v): %v", ev, err)
			}
		}
		s.Next(t0)
	}
	tests := []struct {
		unit sched.UnitID
		want []string
	}{
		{uid(0), []string{"unit J/0: voting", "retried 1 time", "replica 0 on " + wa.String() + ": done", "replica 2 on " + wc.String() + ": assigned",
			"replica 1 on " + wb.String() + ": failed (failed: trap (deterministic))", "more replicas needed: all workers busy (1 busy, 3 already ran, failed or refused it)"}},
		{uid(1), []string{"unit J/1: placed", "replica 0 on " + wd.String(), "replica 2 on " + wb.String()}},
		{sched.UnitID{Job: "nope"}, []string{"unit nope/0: unknown"}},
	}
	for _, tt := range tests {
		got := unitWhy(s, tt.unit)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("unitWhy(%v) = %q, want it to contain %q", tt.unit, got, w)
			}
		}
	}
}
