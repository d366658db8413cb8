//go:build linux

package kubo

import "syscall"

// daemonSysProcAttr makes the kernel kill the daemon when the process that
// started it dies, so a test binary killed by `go test -timeout` leaves no
// daemon behind.
func daemonSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
