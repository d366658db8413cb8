package simnet

import (
	"time"

	"golang.org/x/sys/unix"
)

// wallNow reads the real monotonic clock, which keeps running inside a
// synctest bubble where time.Now is virtual.
func wallNow() time.Time {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return time.Time{}
	}
	return time.Unix(ts.Unix())
}
