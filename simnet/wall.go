package simnet

import (
	"time"
	_ "unsafe" // for go:linkname
)

// nanotime is the runtime's monotonic clock, in nanoseconds. Inside a
// synctest bubble time.Now is virtual, but this clock keeps running. The
// runtime keeps the symbol for the many packages that linkname it (see
// runtime/time_nofake.go), and unlike clock_gettime it exists on every GOOS.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// wallNow reads the real monotonic clock, which keeps running inside a
// synctest bubble where time.Now is virtual. Only differences between two
// readings mean anything.
func wallNow() time.Time { return time.Unix(0, nanotime()) }
