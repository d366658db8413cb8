package sandbox

import "golang.org/x/sys/unix"

// seccompArch is the audit architecture the filter's numbers belong to.
const seccompArch = unix.AUDIT_ARCH_AARCH64

// seccompCloneFlagsArg is clone's flags argument.
const seccompCloneFlagsArg = 0

// seccompAllowed are the system calls the filter allows on arm64, which
// lacks the old path calls amd64 keeps.
var seccompAllowed = append(append([]uintptr(nil), seccompCommon...),
	unix.SYS_RENAMEAT, unix.SYS_GETRLIMIT, unix.SYS_SENDFILE,
)
