package simnet

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestWallNowIsReal pins that wallNow reads the real clock inside a bubble:
// an hour of virtual sleep takes (far) less than an hour of it, and it moves
// while virtual time stands still.
func TestWallNowIsReal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w0, v0 := wallNow(), time.Now()
		time.Sleep(time.Hour)
		if got := time.Since(v0); got != time.Hour {
			t.Fatalf("virtual time after Sleep(1h) = %v, want 1h", got)
		}
		if got := wallNow().Sub(w0); got >= time.Hour {
			t.Fatalf("wallNow advanced %v over a virtual hour; want the real elapsed time", got)
		}
		w1 := wallNow()
		for i := 0; wallNow().Equal(w1); i++ {
			if i > 1e9 {
				t.Fatal("wallNow did not advance over 1e9 readings")
			}
		}
		if got := time.Since(v0); got != time.Hour {
			t.Fatalf("virtual time moved to %v while only the real clock was read", got)
		}
	})
}
