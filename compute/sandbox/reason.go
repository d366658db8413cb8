package sandbox

import (
	"errors"
	"fmt"
)

// Reason says why a unit did not exit 0.
type Reason uint8

// The reasons a unit ends without success. Reasons up to and including
// ReasonModuleTooLarge are the module's doing; ReasonCrash probably is.
const (
	// ReasonNone: the unit exited 0.
	ReasonNone Reason = iota
	// ReasonExit: the unit exited with a non-zero status (a Go panic
	// exits 2).
	ReasonExit
	// ReasonTrap: the unit trapped (unreachable, out-of-bounds access,
	// division by zero, call stack exhausted, ...).
	ReasonTrap
	// ReasonTimeout: the unit ran past Limits.Timeout.
	ReasonTimeout
	// ReasonMemory: the unit asked for more linear memory than
	// Limits.MemoryMiB, or its child process grew past its memory budget.
	ReasonMemory
	// ReasonOutput: the unit wrote more than Limits.MaxOutputBytes to stdout.
	ReasonOutput
	// ReasonInvalidModule: the file is not a valid WASI command module.
	ReasonInvalidModule
	// ReasonMissingImport: the module imports something the sandbox does not
	// offer (only wasi_snapshot_preview1 functions are offered).
	ReasonMissingImport
	// ReasonModuleTooLarge: the module file is over Limits.MaxModuleBytes.
	ReasonModuleTooLarge
	// ReasonCrash: the child process running the unit died or broke the
	// protocol.
	ReasonCrash
	// ReasonCanceled: the caller's context ended or the pool was closed.
	ReasonCanceled
	// ReasonSetup: the unit could not be started: a bad Unit field, an
	// unreadable module file or input directory, or no child process.
	ReasonSetup

	maxReason = ReasonSetup
)

var reasonNames = [...]string{
	ReasonNone:           "ok",
	ReasonExit:           "exit",
	ReasonTrap:           "trap",
	ReasonTimeout:        "timeout",
	ReasonMemory:         "memory",
	ReasonOutput:         "output",
	ReasonInvalidModule:  "invalid-module",
	ReasonMissingImport:  "missing-import",
	ReasonModuleTooLarge: "module-too-large",
	ReasonCrash:          "crash",
	ReasonCanceled:       "canceled",
	ReasonSetup:          "setup",
}

// String returns the reason's short name, such as "timeout".
func (r Reason) String() string {
	if r > maxReason {
		return fmt.Sprintf("reason(%d)", uint8(r))
	}
	return reasonNames[r]
}

// MarshalText implements encoding.TextMarshaler with the short name.
func (r Reason) MarshalText() ([]byte, error) {
	if r > maxReason {
		return nil, fmt.Errorf("sandbox: unknown reason %d", uint8(r))
	}
	return []byte(reasonNames[r]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler for the short names.
func (r *Reason) UnmarshalText(b []byte) error {
	for i, name := range reasonNames {
		if string(b) == name {
			*r = Reason(i)
			return nil
		}
	}
	return fmt.Errorf("sandbox: unknown reason %q", b)
}

// ErrClosed is the cause (see Error.Err) of units refused or stopped because
// the Pool was closed.
var ErrClosed = errors.New("sandbox: pool closed")

// Error is the error Pool.Run returns when a unit does not exit 0.
type Error struct {
	// Reason says why the unit ended.
	Reason Reason
	// ExitCode is the unit's exit status when Reason is ReasonExit.
	ExitCode uint32
	// Detail is a one-line human explanation, such as "output over 1024
	// bytes" or the trap message.
	Detail string
	// Err is the underlying cause when there is one worth matching:
	// ctx.Err() or ErrClosed for ReasonCanceled.
	Err error
}

// Error returns "sandbox: unit REASON: DETAIL".
func (e *Error) Error() string {
	s := "sandbox: unit " + e.Reason.String()
	if e.Reason == ReasonExit {
		s += fmt.Sprintf(" %d", e.ExitCode)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }
