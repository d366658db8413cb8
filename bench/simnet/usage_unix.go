//go:build unix

package main

import (
	"os"
	"syscall"
	"time"
)

// childUsage returns an exited child's peak RSS (in the unit getrusage
// reports: KiB on Linux) and its user and system CPU time.
func childUsage(ps *os.ProcessState) (maxRSS int64, user, sys time.Duration) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0, 0
	}
	return int64(ru.Maxrss), time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
