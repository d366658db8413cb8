package dht

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestMute(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		at       time.Duration
		answered bool
	}
	tests := []struct {
		name      string
		steps     []step
		check     time.Duration // when Muted is asked
		wantMuted bool
		wantUntil time.Duration // from t0; checked when muted
	}{
		{"never seen", nil, 0, false, 0},
		{"one timeout mutes for min", []step{{0, false}}, 29 * time.Second, true, 30 * time.Second},
		{"mute ends after min", []step{{0, false}}, 30 * time.Second, false, 0},
		{"second timeout doubles", []step{{0, false}, {40 * time.Second, false}}, 41 * time.Second, true, 100 * time.Second},
		{"third doubles again", []step{{0, false}, {40 * time.Second, false}, {2 * time.Minute, false}}, 2 * time.Minute, true, 4 * time.Minute},
		{"answer clears", []step{{0, false}, {40 * time.Second, true}, {41 * time.Second, false}}, 42 * time.Second, true, 71 * time.Second},
		{"capped at max", []step{{0, false}, {time.Minute, false}, {2 * time.Minute, false}, {4 * time.Minute, false},
			{8 * time.Minute, false}, {16 * time.Minute, false}, {26 * time.Minute, false}}, 27 * time.Minute, true, 36 * time.Minute},
		{"old strikes forgotten after max", []step{{0, false}, {40 * time.Second, false}, {12 * time.Minute, false}}, 12 * time.Minute, true, 12*time.Minute + 30*time.Second},
	}
	p := peer.ID("silent")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMute(30*time.Second, 10*time.Minute, 8)
			for _, s := range tt.steps {
				m.Observe(p, s.answered, at(s.at))
			}
			until, muted := m.Muted(p, at(tt.check))
			if muted != tt.wantMuted {
				t.Fatalf("Muted(at %v) = %v, want %v", tt.check, muted, tt.wantMuted)
			}
			if muted && !until.Equal(at(tt.wantUntil)) {
				t.Errorf("Muted(at %v) until t0+%v, want t0+%v", tt.check, until.Sub(t0), tt.wantUntil)
			}
		})
	}
}

// TestMuteLimit pins that the core remembers at most limit peers, drops
// stale records first, and otherwise the peer whose mute ends first.
func TestMuteLimit(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := newMute(time.Second, time.Minute, 3)
	for i := range 3 {
		m.Observe(peer.ID(fmt.Sprint("p", i)), false, t0.Add(time.Duration(i)*time.Second))
	}
	m.Observe("p3", false, t0.Add(3*time.Second))
	if m.Len() != 3 {
		t.Fatalf("Len() = %d after 4 timeouts with limit 3, want 3", m.Len())
	}
	if _, muted := m.Muted("p0", t0.Add(3*time.Second)); muted {
		t.Errorf("p0, whose mute ended first, still muted")
	}
	if _, muted := m.Muted("p3", t0.Add(3*time.Second)); !muted {
		t.Errorf("p3 not muted after its timeout")
	}
	// Long after: every record is stale, and one insert clears them.
	m.Observe("p4", false, t0.Add(time.Hour))
	if m.Len() != 1 {
		t.Errorf("Len() = %d after stale records, want 1", m.Len())
	}
}

// TestMuteBounded drives the core from many peers and times, checking the
// bound on its size after each step.
func TestMuteBounded(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := newMute(time.Second, time.Minute, 64)
	for i := range n {
		p := peer.ID(fmt.Sprint("p", i%200))
		m.Observe(p, i%7 == 0, t0.Add(time.Duration(i)*10*time.Millisecond))
		if m.Len() > 64 {
			t.Fatalf("Len() = %d after step %d, limit 64", m.Len(), i)
		}
	}
}
