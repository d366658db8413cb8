//go:build !linux

package kubo

import "syscall"

// daemonSysProcAttr returns nil: only Linux can tie the daemon's life to
// ours, elsewhere Stop is the only guard.
func daemonSysProcAttr() *syscall.SysProcAttr { return nil }
