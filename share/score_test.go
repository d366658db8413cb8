package share

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestScoreTable(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a, b := peer.ID("a"), peer.ID("b")
	type step struct {
		offend     peer.ID // "" to only check
		at         time.Duration
		wantGate   bool // offend's result
		wantGatedA bool // gated(a) after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"below threshold", []step{
			{a, 0, false, false},
			{a, time.Second, false, false},
		}},
		{"third offence gates", []step{
			{a, 0, false, false},
			{a, 0, false, false},
			{a, 0, true, true},
			{"", 9 * time.Minute, false, true},
			{"", 10 * time.Minute, false, false},
		}},
		{"offence while gated reports gated", []step{
			{a, 0, false, false}, {a, 0, false, false}, {a, 0, true, true},
			{a, time.Minute, true, true},
		}},
		{"peers are separate", []step{
			{a, 0, false, false}, {b, 0, false, false}, {b, 0, false, false}, {b, 0, true, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newScoreTable(3, 10*time.Minute)
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				if s.offend != "" {
					if got := st.offend(s.offend, now); got != s.wantGate {
						t.Errorf("step %d: offend(%s) = %v, want %v", i, s.offend, got, s.wantGate)
					}
				}
				if got := st.gated(a, now); got != s.wantGatedA {
					t.Errorf("step %d: gated(a) = %v, want %v", i, got, s.wantGatedA)
				}
			}
		})
	}
}

func TestScoreTableBounded(t *testing.T) {
	st := newScoreTable(3, time.Minute)
	now := time.Unix(0, 0)
	for i := range 3 * maxScored {
		st.offend(peer.ID(rune(i)), now)
	}
	if n := len(st.peers); n > maxScored {
		t.Errorf("score table holds %d peers, want ≤ %d", n, maxScored)
	}
}

// TestScoreTableHammer offends and checks concurrently.
func TestScoreTableHammer(t *testing.T) {
	st := newScoreTable(3, time.Minute)
	n := 2000
	if testing.Short() {
		n = 200
	}
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range n {
				p := peer.ID(rune(g*n + i%50))
				st.offend(p, time.Now())
				st.gated(p, time.Now())
				st.offences(p)
			}
		}()
	}
	for range 8 {
		<-done
	}
}
