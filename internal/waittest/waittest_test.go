package waittest

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestForReturnsOnceCondHolds(t *testing.T) {
	var n atomic.Int32
	For(t, "the third poll", func() bool { return n.Add(1) == 3 })
	if got := n.Load(); got != 3 {
		t.Errorf("For polled %d times, want 3 (it returns as soon as cond holds)", got)
	}
}

// fakeT records Fatalf instead of stopping the goroutine, and has a
// deadline.
type fakeT struct {
	testing.TB
	deadline time.Time
	fatal    string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.fatal = format
	for _, a := range args {
		if s, ok := a.(string); ok {
			f.fatal += " " + s
		}
	}
}
func (f *fakeT) Deadline() (time.Time, bool) { return f.deadline, true }

// TestForGivesUpBeforeTestDeadline checks that For fails, naming what it
// waited for, before the test binary's deadline (here one already passed),
// rather than hanging until -timeout kills the binary.
func TestForGivesUpBeforeTestDeadline(t *testing.T) {
	ft := &fakeT{TB: t, deadline: time.Now().Add(margin)}
	polls := 0
	For(ft, "a condition that never holds", func() bool { polls++; return false })
	if !strings.Contains(ft.fatal, "a condition that never holds") || polls != 1 {
		t.Errorf("For with a passed deadline: Fatalf(%q) after %d polls, want one naming the condition after 1 poll", ft.fatal, polls)
	}
}
