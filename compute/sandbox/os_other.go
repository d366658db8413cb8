//go:build !linux

package sandbox

import (
	"errors"
	"syscall"
)

// limitChild applies no OS limits outside Linux.
func limitChild() {}

// childSysProcAttr returns nil outside Linux.
func childSysProcAttr() *syscall.SysProcAttr { return nil }

// residentBytes is unsupported outside Linux; the memory watchdog is off.
func residentBytes(int) (uint64, error) {
	return 0, errors.ErrUnsupported
}

// peakResidentBytes is unsupported outside Linux.
func peakResidentBytes(int) (uint64, error) {
	return 0, errors.ErrUnsupported
}

// reserveMemory is unsupported outside Linux; linear memories are Go slices.
func reserveMemory(uint64) ([]byte, error) { return nil, errors.ErrUnsupported }

// releaseMemory is never called outside Linux.
func releaseMemory([]byte) {}
