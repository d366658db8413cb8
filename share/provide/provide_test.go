package provide

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func key(s string) cid.Cid {
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

var (
	t0      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b, c = key("a"), key("b"), key("c")
	names   = map[cid.Cid]string{a: "a", b: "b", c: "c"}
)

// step is one input to a Queue: an event, or a call of Next at t0+at
// whose provides (by name) and wake (offset from t0, or "none") are
// checked.
type step struct {
	ev   Event
	at   time.Duration
	want []string
	wake string
}

func next(at time.Duration, wake string, want ...string) step {
	return step{at: at, want: want, wake: wake}
}
func ev(e Event) step { return step{ev: e} }

// TestQueue pins the provide policy event by event (issue 16: the retry
// policy of node's former closure state machine, now a pure core).
func TestQueue(t *testing.T) {
	s := time.Second
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"requested is provided at once", Config{}, []step{
			ev(TableSized{3}), ev(Requested{a}), next(0, "none", "a"),
			ev(Finished{a, true}), next(s, "none"),
		}},
		{"empty table defers by RetryMin", Config{}, []step{
			ev(Requested{a}), next(0, "5s"), next(4*s, "5s"), next(5*s, "10s"),
			ev(TableSized{1}), next(10*s, "none", "a"),
		}},
		{"failure backs off doubling to RetryMax", Config{RetryMin: s, RetryMax: 3 * s}, []step{
			ev(TableSized{1}), ev(Requested{a}), next(0, "none", "a"),
			ev(Finished{a, false}), next(0, "1s"), next(s, "none", "a"),
			ev(Finished{a, false}), next(s, "3s"), next(3*s, "none", "a"),
			ev(Finished{a, false}), next(3*s, "6s"), next(6*s, "none", "a"),
			ev(Finished{a, true}), next(7*s, "none"),
		}},
		{"deferral keeps the delay a failure doubles", Config{RetryMin: s, RetryMax: time.Minute}, []step{
			ev(Requested{a}), next(0, "1s"),
			ev(TableSized{1}), next(s, "none", "a"),
			ev(Finished{a, false}), next(s, "3s"),
		}},
		{"in-flight limit queues in order", Config{MaxInflight: 2}, []step{
			ev(TableSized{1}), ev(Requested{a}), ev(Requested{b}), ev(Requested{c}),
			next(0, "0s", "a", "b"), next(0, "0s"),
			ev(Finished{b, true}), next(s, "none", "c"),
		}},
		{"requested again while in flight is not doubled", Config{}, []step{
			ev(TableSized{1}), ev(Requested{a}), next(0, "none", "a"),
			ev(Requested{a}), next(0, "none"),
			ev(Finished{a, true}), next(0, "none"),
		}},
		{"requested again while waiting to retry goes now", Config{}, []step{
			ev(TableSized{1}), ev(Requested{a}), next(0, "none", "a"),
			ev(Finished{a, false}), next(0, "5s"),
			ev(Requested{a}), next(s, "none", "a"),
		}},
		{"withdrawn while waiting is forgotten", Config{}, []step{
			ev(TableSized{1}), ev(Requested{a}), next(0, "none", "a"),
			ev(Finished{a, false}), next(0, "5s"),
			ev(Withdrawn{a}), next(10*s, "none"),
		}},
		{"withdrawn before its retry is dated is forgotten", Config{}, []step{
			ev(TableSized{1}), ev(Requested{a}), next(0, "none", "a"),
			ev(Finished{a, false}), ev(Withdrawn{a}), next(10*s, "none"),
		}},
		{"withdrawn in flight is not retried", Config{}, []step{
			ev(TableSized{1}), ev(Requested{a}), next(0, "none", "a"),
			ev(Withdrawn{a}), ev(Finished{a, false}), next(10*s, "none"),
		}},
		{"reprovide replaces the waiting set and resets delays", Config{RetryMin: s}, []step{
			ev(TableSized{1}), ev(Requested{a}), ev(Requested{b}), next(0, "none", "a", "b"),
			ev(Finished{a, false}), ev(Finished{b, false}), next(0, "1s"),
			ev(Reprovided{[]cid.Cid{b, c}}), next(0, "none", "b", "c"),
			ev(Finished{b, false}), next(0, "1s"), next(2*s, "none", "b"),
		}},
		{"reprovide leaves provides in flight alone", Config{}, []step{
			ev(TableSized{1}), ev(Requested{a}), next(0, "none", "a"),
			ev(Reprovided{[]cid.Cid{a, b}}), next(0, "none", "b"),
		}},
		{"finished for an unknown key is ignored", Config{}, []step{
			ev(Finished{a, false}), next(0, "none"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tt.steps {
				if st.ev != nil {
					if err := q.Observe(st.ev); err != nil {
						t.Fatalf("step %d: Observe(%#v): %v", i, st.ev, err)
					}
					continue
				}
				var got []string
				for _, p := range q.Next(t0.Add(st.at)) {
					got = append(got, names[p.Key])
				}
				if diff := cmp.Diff(st.want, got); diff != "" {
					t.Errorf("step %d: Next(%v) mismatch (-want +got):\n%s", i, st.at, diff)
				}
				wake := "none"
				if w, ok := q.Wake(); ok {
					wake = fmt.Sprint(max(w.Sub(t0), 0))
				}
				if wake != st.wake {
					t.Errorf("step %d: Wake() after Next(%v) = %s, want %s", i, st.at, wake, st.wake)
				}
			}
		})
	}
}

// TestQueueNeverExceedsInflight: however events arrive, the provides in
// flight never pass MaxInflight and every requested key is provided once
// the table has peers and provides succeed.
func TestQueueNeverExceedsInflight(t *testing.T) {
	q, err := New(Config{MaxInflight: 3})
	if err != nil {
		t.Fatal(err)
	}
	q.Observe(TableSized{1})
	keys := make([]cid.Cid, 50)
	for i := range keys {
		keys[i] = key(fmt.Sprint(i))
		q.Observe(Requested{keys[i]})
	}
	done := map[cid.Cid]bool{}
	now := t0
	for round := 0; len(done) < len(keys) && round < 1000; round++ {
		got := q.Next(now)
		if q.Inflight() > 3 {
			t.Fatalf("round %d: %d in flight, want <= 3", round, q.Inflight())
		}
		for i, p := range got {
			ok := (round+i)%2 == 0 // every other provide fails once
			if ok {
				done[p.Key] = true
			}
			q.Observe(Finished{p.Key, ok})
		}
		now = now.Add(time.Minute)
	}
	if len(done) != len(keys) {
		t.Errorf("provided %d of %d keys", len(done), len(keys))
	}
	if q.Waiting() != 0 || q.Inflight() != 0 {
		t.Errorf("after all succeeded: %d waiting, %d in flight, want 0, 0", q.Waiting(), q.Inflight())
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{RetryMin: -1}, {MaxInflight: -1}, {RetryMin: time.Hour, RetryMax: time.Minute}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
}
