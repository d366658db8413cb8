package sandbox

import "golang.org/x/sys/unix"

// seccompArch is the audit architecture the filter's numbers belong to.
const seccompArch = unix.AUDIT_ARCH_X86_64

// seccompCloneFlagsArg is clone's flags argument.
const seccompCloneFlagsArg = 0

// seccompAllowed are the system calls the filter allows on amd64.
var seccompAllowed = append(append([]uintptr(nil), seccompCommon...),
	unix.SYS_ARCH_PRCTL, unix.SYS_OPEN, unix.SYS_STAT, unix.SYS_LSTAT, unix.SYS_ACCESS, unix.SYS_READLINK,
	unix.SYS_GETDENTS, unix.SYS_POLL, unix.SYS_SELECT, unix.SYS_EPOLL_WAIT, unix.SYS_EPOLL_CREATE, unix.SYS_PIPE,
	unix.SYS_DUP2, unix.SYS_RENAMEAT, unix.SYS_RENAME, unix.SYS_MKDIR, unix.SYS_UNLINK, unix.SYS_RMDIR,
	unix.SYS_GETRLIMIT, unix.SYS_SENDFILE, unix.SYS_TIME,
)
