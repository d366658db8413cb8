// Package waittest is the polling helper of enxame's tests: For waits until
// a condition holds, with a deadline generous enough that its expiry means a
// real hang, never a slow or loaded machine. Prefer waiting on an event (a
// channel, the libp2p event bus) or testing/synctest; poll with For only
// where nothing signals the change.
//
// It imports only the standard library, so that the tests of any package
// can use it, including the packages internal/nodetest depends on (dht,
// share, compute). Production code never imports it.
package waittest

import (
	"testing"
	"time"
)

// Timeout is how long For waits before it declares a hang. It is long
// because a deadline in a test only exists to turn a hang into a failure
// that says what hung: two minutes is far beyond any wait in the suite on a
// machine whose cores are all busy with other work.
const Timeout = 2 * time.Minute

// margin is how long before the test binary's own deadline (go test
// -timeout) For gives up, so that the failure names what it waited for
// instead of ending in the binary's stack dump.
const margin = 5 * time.Second

// For polls cond, from the calling test's goroutine, until it returns true.
// If it has not after Timeout, or shortly before the test binary's -timeout
// if that comes first, it fails the test with t.Fatalf naming what (written
// as the thing awaited: "the 2nd daemon to list the 1st") and how long it
// waited. It polls often at first and backs off to every 100 ms, so cond
// may be as costly as running a command.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(Timeout)
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := d.Deadline(); ok && end.Add(-margin).Before(deadline) {
			deadline = end.Add(-margin)
		}
	}
	interval := time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	for polls := 1; !cond(); polls++ {
		if !time.Now().Before(deadline) {
			t.Fatalf("waittest: gave up waiting for %s after %v (%d polls)", what, time.Since(start).Round(time.Millisecond), polls)
			return // only if t.Fatalf returned, as a fake's may
		}
		interval = min(2*interval, 100*time.Millisecond)
		timer.Reset(min(interval, time.Until(deadline)))
		<-timer.C
	}
}
