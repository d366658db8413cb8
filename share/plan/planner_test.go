package plan

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// next is a table-test step: call Next at t0 plus the duration.
type next time.Duration

const kib = 1 << 10

func want(name string, size int64, order uint64) WantAdded {
	return WantAdded{Key: key(name), Size: size, Order: order}
}

func joinAll(id string) ProviderJoined { return ProviderJoined{Peer: peer.ID(id), HasAll: true} }

func recv(id, name string, size int64, d time.Duration) BlockReceived {
	return BlockReceived{Peer: peer.ID(id), Key: key(name), Bytes: size, At: at(d)}
}

// play feeds steps to a new planner and returns every action of every Next,
// prefixed with the Next's time.
func play(t *testing.T, cfg Config, steps []any) []string {
	t.Helper()
	pl, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	var got []string
	for _, s := range steps {
		switch s := s.(type) {
		case next:
			for _, a := range pl.Next(at(time.Duration(s))) {
				got = append(got, fmt.Sprintf("%v: %s", time.Duration(s), fmtAction(a)))
			}
		case Event:
			if err := pl.Observe(s); err != nil {
				t.Fatalf("Observe(%#v) = %v", s, err)
			}
		default:
			t.Fatalf("bad step %T", s)
		}
	}
	return got
}

func TestNextActions(t *testing.T) {
	noEndgame := Config{EndgameCopies: 1}
	tests := []struct {
		name  string
		cfg   Config
		steps []any
		want  []string
	}{
		{
			name:  "no provider is stuck",
			cfg:   noEndgame,
			steps: []any{want("a", 0, 0), next(0), next(1)},
			want:  []string{"0s: stuck 1"},
		},
		{
			name:  "nothing wanted does nothing",
			steps: []any{joinAll("p1"), next(0)},
			want:  nil,
		},
		{
			name: "blocks in order within the initial window",
			cfg:  Config{EndgameCopies: 1, InitialWindow: 768 * kib},
			steps: []any{
				want("e", 256*kib, 4), want("b", 256*kib, 1), want("a", 256*kib, 0),
				want("d", 256*kib, 3), want("c", 256*kib, 2), joinAll("p1"), next(0),
			},
			want: []string{"0s: request p1 a b c"},
		},
		{
			name: "higher priority first, ties by discovery",
			cfg:  noEndgame,
			steps: []any{
				want("leaf", 256*kib, 0),
				WantAdded{Key: key("inner"), Size: kib, Priority: 1, Order: 1 << 30},
				want("leaf2", 256*kib, 0),
				joinAll("p1"), next(0),
			},
			want: []string{"0s: request p1 inner leaf leaf2"},
		},
		{
			name: "unknown size counts as BlockSize",
			cfg:  Config{EndgameCopies: 1, InitialWindow: 300 * kib, BlockSize: 100 * kib},
			steps: []any{
				want("a", 0, 0), want("b", 0, 1), want("c", 0, 2), want("d", 0, 3),
				joinAll("p1"), next(0),
			},
			want: []string{"0s: request p1 a b c"},
		},
		{
			name: "an idle provider gets one block larger than its window",
			cfg:  Config{EndgameCopies: 1, InitialWindow: 100 * kib},
			steps: []any{
				want("a", 256*kib, 0), want("b", 1, 1), joinAll("p1"), next(0), next(1),
			},
			want: []string{"0s: request p1 a"},
		},
		{
			name: "batches capped by MaxBatch",
			cfg:  Config{EndgameCopies: 1, MaxBatch: 2, InitialWindow: 1 << 30, MaxWindow: 1 << 30},
			steps: []any{
				want("a", kib, 0), want("b", kib, 1), want("c", kib, 2), joinAll("p1"),
				next(0), next(1),
			},
			want: []string{"0s: request p1 a b", "1ns: request p1 c"},
		},
		{
			name: "partial provider asked only for what it advertises",
			cfg:  noEndgame,
			steps: []any{
				want("a", kib, 0), want("b", kib, 1), want("c", kib, 2), want("d", kib, 3),
				ProviderJoined{Peer: "p1"}, ProviderHas{Peer: "p1", Keys: keyList("d", "b", "x")},
				next(0),
			},
			want: []string{"0s: request p1 b d", "0s: stuck 2"},
		},
		{
			name: "advertisement before the want",
			cfg:  noEndgame,
			steps: []any{
				ProviderHas{Peer: "p1", Keys: keyList("a")}, next(0), want("a", kib, 0), next(1),
			},
			want: []string{"1ns: request p1 a"},
		},
		{
			name: "fastest provider first",
			cfg:  Config{EndgameCopies: 1, InitialWindow: 256 * kib},
			steps: []any{
				want("a", 256*kib, 0), want("b", 256*kib, 1), joinAll("p1"), joinAll("p2"),
				next(0),
				recv("p1", "a", 256*kib, 500*time.Millisecond),
				recv("p2", "b", 256*kib, 100*time.Millisecond),
				want("c", 256*kib, 2), want("d", 256*kib, 3),
				next(500 * time.Millisecond),
			},
			want: []string{
				"0s: request p1 a", "0s: request p2 b",
				"500ms: request p2 c d",
			},
		},
		{
			name: "done once, reopened by a new want",
			cfg:  noEndgame,
			steps: []any{
				want("a", kib, 0), joinAll("p1"), next(0),
				recv("p1", "a", kib, time.Millisecond), next(time.Millisecond), next(2 * time.Millisecond),
				want("b", kib, 1), next(3 * time.Millisecond),
				recv("p1", "b", kib, 4*time.Millisecond), next(4 * time.Millisecond),
			},
			want: []string{"0s: request p1 a", "1ms: done", "3ms: request p1 b", "4ms: done"},
		},
		{
			name: "failure retries at another provider",
			cfg:  noEndgame,
			steps: []any{
				want("a", kib, 0), joinAll("p1"), joinAll("p2"), next(0),
				BlockFailed{Peer: "p1", Key: key("a"), Err: errors.New("reset")}, next(0),
			},
			want: []string{"0s: request p1 a", "0s: request p2 a"},
		},
		{
			name: "failure retries at the same provider after MinRequestTimeout",
			cfg:  Config{EndgameCopies: 1, MinRequestTimeout: time.Second},
			steps: []any{
				want("a", kib, 0), joinAll("p1"), next(0),
				BlockFailed{Peer: "p1", Key: key("a"), Err: errors.New("reset")},
				next(999 * time.Millisecond), next(time.Second),
			},
			want: []string{"0s: request p1 a", "1s: request p1 a"},
		},
		{
			name: "not found is final for that provider",
			cfg:  noEndgame,
			steps: []any{
				want("a", kib, 0), joinAll("p1"), next(0),
				BlockFailed{Peer: "p1", Key: key("a"), Err: fmt.Errorf("x: %w", ErrNotFound)},
				next(time.Hour), joinAll("p2"), next(time.Hour),
			},
			want: []string{"0s: request p1 a", "1h0m0s: stuck 1", "1h0m0s: request p2 a"},
		},
		{
			name: "failure after cancel is ignored",
			cfg:  Config{FailureThreshold: 1},
			steps: []any{
				want("a", kib, 0), joinAll("p1"), joinAll("p2"), next(0),
				recv("p1", "a", kib, time.Millisecond), next(time.Millisecond),
				BlockFailed{Peer: "p2", Key: key("a"), Err: errors.New("cancelled")},
				next(2 * time.Millisecond),
			},
			want: []string{
				"0s: request p1 a", "0s: request p2 a",
				"1ms: cancel p2 a", "1ms: done",
			},
		},
		{
			name: "consecutive failures drop the provider",
			cfg:  Config{EndgameCopies: 1, FailureThreshold: 2, MinRequestTimeout: time.Millisecond, MaxRequestTimeout: time.Millisecond},
			steps: []any{
				want("a", kib, 0), joinAll("p1"), next(0),
				BlockFailed{Peer: "p1", Key: key("a"), Err: errors.New("reset")}, next(time.Millisecond),
				BlockFailed{Peer: "p1", Key: key("a"), Err: errors.New("reset")}, next(2 * time.Millisecond),
			},
			want: []string{"0s: request p1 a", "1ms: request p1 a", "2ms: drop p1 failures", "2ms: stuck 1"},
		},
		{
			name: "invalid block drops at once and reassigns",
			cfg:  Config{EndgameCopies: 1, InitialWindow: 2 * kib},
			steps: []any{
				want("a", kib, 0), want("b", kib, 1), want("c", kib, 2),
				joinAll("p1"), joinAll("p2"), next(0),
				BlockInvalid{Peer: "p1", Key: key("a")}, next(0),
				joinAll("p1"), next(0),
			},
			want: []string{"0s: request p1 a b", "0s: request p2 c", "0s: drop p1 invalid", "0s: request p2 a"},
		},
		{
			name: "leave reassigns without cancel",
			cfg:  noEndgame,
			steps: []any{
				want("a", kib, 0), joinAll("p1"), joinAll("p2"), next(0),
				ProviderLeft{Peer: "p1"}, next(0),
			},
			want: []string{"0s: request p1 a", "0s: request p2 a"},
		},
		{
			name: "rejoin after leave",
			cfg:  noEndgame,
			steps: []any{
				want("a", kib, 0), joinAll("p1"), ProviderLeft{Peer: "p1"}, next(0),
				joinAll("p1"), next(0),
			},
			want: []string{"0s: stuck 1", "0s: request p1 a"},
		},
		{
			name: "endgame duplicates to an idle provider and cancels the loser",
			cfg:  Config{InitialWindow: 256 * kib},
			steps: []any{
				want("a", 256*kib, 0), want("b", 256*kib, 1),
				joinAll("p1"), joinAll("p2"), next(0),
				recv("p1", "a", 256*kib, 100*time.Millisecond), next(100 * time.Millisecond),
				recv("p1", "b", 256*kib, 200*time.Millisecond), next(200 * time.Millisecond),
			},
			want: []string{
				"0s: request p1 a", "0s: request p2 b",
				"100ms: request p1 b",
				"200ms: cancel p2 b", "200ms: done",
			},
		},
		{
			name: "endgame does not duplicate to a slower provider",
			cfg:  Config{InitialWindow: 256 * kib},
			steps: []any{
				want("a", 256*kib, 0), want("b", 256*kib, 1), want("c", 256*kib, 2),
				joinAll("p1"), joinAll("p2"), next(0),
				recv("p2", "b", 256*kib, 100*time.Millisecond),
				recv("p1", "a", 256*kib, 1000*time.Millisecond),
				next(time.Second),
			},
			want: []string{
				"0s: request p1 a", "0s: request p2 b",
				"1s: request p2 c",
			},
		},
		{
			name: "endgame copies capped",
			cfg:  Config{InitialWindow: 256 * kib, EndgameCopies: 2},
			steps: []any{
				want("a", 256*kib, 0), joinAll("p1"), joinAll("p2"), joinAll("p3"), next(0),
			},
			want: []string{"0s: request p1 a", "0s: request p2 a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := play(t, tt.cfg, tt.steps)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Next() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestObserveErrors(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
	}{
		{"nil event", nil},
		{"want undefined key", WantAdded{}},
		{"want negative size", WantAdded{Key: key("a"), Size: -1}},
		{"join empty peer", ProviderJoined{}},
		{"has empty peer", ProviderHas{Keys: keyList("a")}},
		{"has undefined key", ProviderHas{Peer: "p1", Keys: []cid.Cid{cid.Undef}}},
		{"received from unknown peer", BlockReceived{Peer: "px", Key: key("a"), Bytes: 1}},
		{"received never wanted", BlockReceived{Peer: "p1", Key: key("never"), Bytes: 1}},
		{"received negative size", BlockReceived{Peer: "p1", Key: key("a"), Bytes: -1}},
		{"failed at unknown peer", BlockFailed{Peer: "px", Key: key("a")}},
		{"failed never wanted", BlockFailed{Peer: "p1", Key: key("never")}},
		{"invalid empty peer", BlockInvalid{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range []Event{want("a", kib, 0), joinAll("p1")} {
				if err := pl.Observe(ev); err != nil {
					t.Fatal(err)
				}
			}
			before := pl.Stats()
			if err := pl.Observe(tt.ev); err == nil {
				t.Errorf("Observe(%#v) = nil, want an error", tt.ev)
			} else if !strings.HasPrefix(err.Error(), "plan: ") {
				t.Errorf("Observe(%#v) = %q, want the plan: prefix", tt.ev, err)
			}
			if diff := cmp.Diff(before, pl.Stats()); diff != "" {
				t.Errorf("Observe(%#v) changed the planner (-before +after):\n%s", tt.ev, diff)
			}
		})
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"zero is the default", Config{}, false},
		{"defaults", DefaultConfig(), false},
		{"negative block size", Config{BlockSize: -1}, true},
		{"negative initial window", Config{InitialWindow: -1}, true},
		{"max below min window", Config{MinWindow: 2 << 20, MaxWindow: 1 << 20}, true},
		{"negative queue time", Config{QueueTime: -1}, true},
		{"negative batch", Config{MaxBatch: -1}, true},
		{"negative half-life", Config{RateHalfLife: -1}, true},
		{"max below min timeout", Config{MinRequestTimeout: time.Minute, MaxRequestTimeout: time.Second}, true},
		{"negative threshold", Config{FailureThreshold: -1}, true},
		{"negative endgame", Config{EndgameCopies: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New(%+v) error = %v, want error %v", tt.cfg, err, tt.wantErr)
			}
			if err == nil {
				if diff := cmp.Diff(DefaultConfig(), pl.Config()); tt.cfg == (Config{}) && diff != "" {
					t.Errorf("New(Config{}).Config() mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestDeterministic runs the same random scenarios twice and requires the
// same actions at the same times: no choice may depend on map order.
func TestDeterministic(t *testing.T) {
	for _, seed := range seeds(t, 30) {
		sc := genScenario(seed)
		var runs [2][]string
		for i := range runs {
			pl, err := New(configFor(seed))
			if err != nil {
				t.Fatal(err)
			}
			s := newSim(t, fmt.Sprintf("seed %d", seed), &recorder{pl: pl, log: &runs[i]}, sc.dag, sc.mk(), seed)
			s.run()
		}
		if diff := cmp.Diff(runs[0], runs[1]); diff != "" {
			t.Fatalf("seed %d: two runs differ (-first +second):\n%s", seed, diff)
		}
	}
}

// recorder wraps a planner and logs every action with its time.
type recorder struct {
	pl  *Planner
	log *[]string
}

func (r *recorder) Observe(ev Event) error { return r.pl.Observe(ev) }
func (r *recorder) Deadline() (time.Time, bool) {
	return r.pl.Deadline()
}
func (r *recorder) Next(now time.Time) []Action {
	acts := r.pl.Next(now)
	for _, a := range acts {
		*r.log = append(*r.log, fmt.Sprintf("%v %s", now.Sub(t0), fmtAction(a)))
	}
	return acts
}
