//go:build windows

package node

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockFile takes an exclusive, non-blocking LockFileEx lock on f. It
// returns an error satisfying errors.Is(err, errLocked) when another handle
// holds the lock. Closing f releases it.
//
// Windows locks are mandatory, so the locked byte lies far beyond the end of
// the file (at 2^32): the pid written at offset 0 stays readable by the
// process that finds the home in use.
func lockFile(f *os.File) error {
	ol := windows.Overlapped{OffsetHigh: 1}
	err := windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return errLocked
	}
	return err
}
