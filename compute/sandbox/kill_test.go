package sandbox

import (
	"fmt"
	"os"
)

// killProcess kills the process pid (SIGKILL on unix, TerminateProcess on
// Windows), as an outside actor would.
func killProcess(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return fmt.Errorf("find process %d: %w", pid, err)
	}
	return p.Kill()
}
