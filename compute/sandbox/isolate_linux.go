package sandbox

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The child's OS isolation on Linux, none of which needs root (see
// DESIGN.md, Isolation):
//
//   - no_new_privs, so that nothing the child could execute gains
//     privileges, and so that an unprivileged process may install the
//     filters below;
//   - Landlock: the child may read only its executable and the shared
//     libraries it has mapped, the units' directories (Config.UnitDirs) and
//     the compilation cache, and write only the cache; it may not bind or
//     connect TCP sockets, signal processes outside its domain or reach
//     abstract Unix sockets (as far as the kernel's Landlock ABI goes);
//   - seccomp: a filter that allows the system calls the Go runtime, the
//     race detector and wazero make, and fails every other with EPERM:
//     no sockets, no new processes (clone without CLONE_THREAD, fork,
//     execve), no ptrace, mount, bpf, keyctl, io_uring, signals to other
//     processes...;
//   - rlimits: no core dumps, files of at most MaxFileBytes.
//
// Landlock applies to the calling thread only, and a Go process has
// several threads from its start (syscall.AllThreadsSyscall refuses to run
// in a binary linked with cgo, as the enxame binary and every race-enabled
// one are). So the child restricts one locked thread and executes itself
// again from it: the new image's threads all descend from that thread and
// inherit its domain. The init message crosses the exec in the environment.

// stage2Env carries the init message (hex) and the Landlock report across
// the child's re-execution.
const (
	stage2Env   = "ENXAME_SANDBOX_STAGE2"
	landlockEnv = "ENXAME_SANDBOX_LANDLOCK"
)

// restrictFiles confines the child's file access with Landlock and
// re-executes it so that every thread is confined. It returns only if it
// did not re-execute: with a line saying why Landlock is off. initBody is
// the init frame's body.
func restrictFiles(init initMsg, initBody []byte, stdinIsFile bool) string {
	if len(init.UnitDirs) == 0 {
		return "landlock off (no unit directories)"
	}
	if !stdinIsFile {
		return "landlock off (stdin is not the process's own)"
	}
	abi := landlockABI()
	if abi <= 0 {
		return "landlock unavailable in this kernel"
	}
	runtime.LockOSThread() // never unlocked: the thread execs or dies
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return "landlock off (no_new_privs: " + err.Error() + ")"
	}
	if err := landlockRestrict(abi, init); err != nil {
		// This thread may be half restricted; the exec below is skipped, so
		// the process carries on unconfined, as it says.
		return "landlock off (" + err.Error() + ")"
	}
	env := append(os.Environ(),
		stage2Env+"="+hex.EncodeToString(initBody),
		landlockEnv+"="+fmt.Sprintf("landlock(abi %d)", abi))
	err := unix.Exec("/proc/self/exe", os.Args, env)
	// Still here: this thread is confined, the others are not. Nothing can
	// be undone, so the child must not run units half confined.
	fmt.Fprintln(os.Stderr, "sandbox child: re-execute after Landlock:", err)
	os.Exit(1)
	return ""
}

// stage2Init returns the init body passed across the re-execution and the
// Landlock report, or ok false in the first stage.
func stage2Init() (body []byte, landlock string, ok bool, err error) {
	h, ok := os.LookupEnv(stage2Env)
	if !ok {
		return nil, "", false, nil
	}
	landlock = os.Getenv(landlockEnv)
	os.Unsetenv(stage2Env)
	os.Unsetenv(landlockEnv)
	if len(h) > 2*maxControlFrame {
		return nil, "", true, errors.New("init in the environment over its cap")
	}
	body, err = hex.DecodeString(h)
	if err != nil {
		return nil, "", true, fmt.Errorf("init in the environment: %w", err)
	}
	return body, landlock, true, nil
}

// landlockABI returns the kernel's Landlock ABI version, or 0 without one.
func landlockABI() int {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0
	}
	return int(v)
}

// Landlock filesystem rights.
const (
	llRead = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	llExec = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_EXECUTE
	// llWrite is what the compilation cache needs beyond reading: wazero
	// writes an entry to a temporary file and renames it; eviction removes
	// entries.
	llWrite = unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
		unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_MAKE_REG |
		unix.LANDLOCK_ACCESS_FS_MAKE_DIR
	// llFileOnly are the rights a rule on a file (not a directory) may
	// carry.
	llFileOnly = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
		unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
)

// landlockHandled returns the filesystem rights ABI abi knows.
func landlockHandled(abi int) uint64 {
	fs := uint64(unix.LANDLOCK_ACCESS_FS_MAKE_SYM<<1 - 1) // ABI 1: EXECUTE to MAKE_SYM
	if abi >= 2 {
		fs |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		fs |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		fs |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	return fs
}

// landlockRestrict restricts the calling thread.
func landlockRestrict(abi int, init initMsg) error {
	handled := landlockHandled(abi)
	attr := unix.LandlockRulesetAttr{Handled_access_fs: handled}
	size := unsafe.Offsetof(attr.Handled_access_net)
	if abi >= 4 {
		attr.Handled_access_net = unix.LANDLOCK_ACCESS_NET_BIND_TCP | unix.LANDLOCK_ACCESS_NET_CONNECT_TCP
		size = unsafe.Offsetof(attr.Scoped)
	}
	if abi >= 6 {
		attr.Scoped = unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | unix.LANDLOCK_SCOPE_SIGNAL
		size = unsafe.Offsetof(attr.Quiet_access_fs)
	}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if errno != 0 {
		return fmt.Errorf("create ruleset: %w", errno)
	}
	ruleset := int(fd)
	defer unix.Close(ruleset)

	cacheRights := uint64(llRead | llWrite)
	if abi >= 2 {
		cacheRights |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		cacheRights |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	type rule struct {
		path   string
		rights uint64
		must   bool // a missing path is an error
	}
	var rules []rule
	for _, f := range mappedFiles() {
		rules = append(rules, rule{f, llExec, false})
	}
	rules = append(rules, rule{"/proc/self/exe", llExec, true}, rule{"/etc/ld.so.cache", unix.LANDLOCK_ACCESS_FS_READ_FILE, false})
	for _, d := range init.UnitDirs {
		rules = append(rules, rule{d, llRead, true})
	}
	if init.CacheDir != "" {
		rules = append(rules, rule{init.CacheDir, cacheRights, true})
	}
	for _, r := range rules {
		if err := landlockAddPath(ruleset, r.path, r.rights&handled); err != nil && (r.must || !errors.Is(err, os.ErrNotExist)) {
			return fmt.Errorf("rule for %s: %w", r.path, err)
		}
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(ruleset), 0, 0); errno != 0 {
		return fmt.Errorf("restrict self: %w", errno)
	}
	return nil
}

// landlockAddPath allows rights beneath path (or on it, if it is a file).
func landlockAddPath(ruleset int, path string, rights uint64) error {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		rights &= llFileOnly
	}
	attr := unix.LandlockPathBeneathAttr{Allowed_access: rights, Parent_fd: int32(fd)}
	_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&attr)), 0, 0, 0)
	runtime.KeepAlive(&attr)
	if errno != 0 {
		return errno
	}
	return nil
}

// mappedFiles returns the files the process has mapped: its executable,
// the dynamic loader and shared libraries, which the re-executed image
// maps again.
func mappedFiles() []string {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var files []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 6 || !strings.HasPrefix(f[5], "/") || seen[f[5]] {
			continue
		}
		seen[f[5]] = true
		files = append(files, f[5])
	}
	return files
}

// restrictProcess applies the rlimits and the seccomp filter to the whole
// process. It returns what it applied and why the rest is off.
func restrictProcess(init initMsg) string {
	var active []string
	if init.MaxFileBytes > 0 {
		lim := syscall.Rlimit{Cur: init.MaxFileBytes, Max: init.MaxFileBytes}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err == nil {
			active = append(active, fmt.Sprintf("rlimit-fsize(%d MiB)", init.MaxFileBytes>>20))
		} else {
			active = append(active, "rlimit-fsize off ("+err.Error()+")")
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return strings.Join(append(active, "no_new_privs off ("+err.Error()+")", "seccomp off"), " ")
	}
	active = append(active, "no_new_privs")
	if err := installSeccomp(); err != nil {
		active = append(active, "seccomp off ("+err.Error()+")")
	} else {
		active = append(active, "seccomp")
	}
	return strings.Join(active, " ")
}

// BPF instruction parts (linux/filter.h, linux/seccomp.h).
const (
	bpfLD   = 0x00
	bpfW    = 0x00
	bpfABS  = 0x20
	bpfJMP  = 0x05
	bpfJEQ  = 0x10
	bpfJSET = 0x40
	bpfK    = 0x00
	bpfRET  = 0x06

	seccompDataNr   = 0
	seccompDataArch = 4
	seccompDataArgs = 16

	retAllow = unix.SECCOMP_RET_ALLOW
	retKill  = unix.SECCOMP_RET_KILL_PROCESS
	retEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	// clone3 fails with ENOSYS, so that glibc's pthread_create (in a
	// binary linked with cgo) falls back to clone, whose flags the filter
	// can read.
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

func bpfStmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func bpfJump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

// loadArgLow loads the low 32 bits of argument i (little-endian).
func loadArgLow(i int) unix.SockFilter {
	return bpfStmt(bpfLD|bpfW|bpfABS, uint32(seccompDataArgs+8*i))
}

// seccompFilter builds the child's filter for the running architecture,
// or returns nil where the architecture has no syscall table here.
func seccompFilter(pid int) []unix.SockFilter {
	if seccompArch == 0 {
		return nil
	}
	prog := []unix.SockFilter{
		bpfStmt(bpfLD|bpfW|bpfABS, seccompDataArch),
		bpfJump(bpfJMP|bpfJEQ|bpfK, seccompArch, 1, 0),
		bpfStmt(bpfRET|bpfK, retKill), // a foreign ABI's numbers mean other calls
		bpfStmt(bpfLD|bpfW|bpfABS, seccompDataNr),
	}
	// clone: threads only.
	prog = append(prog,
		bpfJump(bpfJMP|bpfJEQ|bpfK, uint32(unix.SYS_CLONE), 0, 4),
		loadArgLow(seccompCloneFlagsArg),
		bpfJump(bpfJMP|bpfJSET|bpfK, unix.CLONE_THREAD, 0, 1),
		bpfStmt(bpfRET|bpfK, retAllow),
		bpfStmt(bpfRET|bpfK, retEPERM),
	)
	prog = append(prog,
		bpfJump(bpfJMP|bpfJEQ|bpfK, uint32(unix.SYS_CLONE3), 0, 1),
		bpfStmt(bpfRET|bpfK, retENOSYS),
	)
	// prlimit64: reading only (new limit NULL), so that no limit is raised.
	prog = append(prog,
		bpfJump(bpfJMP|bpfJEQ|bpfK, uint32(unix.SYS_PRLIMIT64), 0, 6),
		loadArgLow(2),
		bpfJump(bpfJMP|bpfJEQ|bpfK, 0, 0, 3),
		bpfStmt(bpfLD|bpfW|bpfABS, seccompDataArgs+8*2+4),
		bpfJump(bpfJMP|bpfJEQ|bpfK, 0, 0, 1),
		bpfStmt(bpfRET|bpfK, retAllow),
		bpfStmt(bpfRET|bpfK, retEPERM),
	)
	// tgkill and kill: this process only (the Go runtime preempts its own
	// threads with signals).
	for _, nr := range []uintptr{unix.SYS_TGKILL, unix.SYS_KILL} {
		prog = append(prog,
			bpfJump(bpfJMP|bpfJEQ|bpfK, uint32(nr), 0, 4),
			loadArgLow(0),
			bpfJump(bpfJMP|bpfJEQ|bpfK, uint32(pid), 0, 1),
			bpfStmt(bpfRET|bpfK, retAllow),
			bpfStmt(bpfRET|bpfK, retEPERM),
		)
	}
	// prctl: naming threads and memory only.
	prctlOK := []uint32{unix.PR_SET_VMA, unix.PR_SET_NAME, unix.PR_GET_NAME, unix.PR_GET_DUMPABLE}
	m := len(prctlOK)
	prog = append(prog, bpfJump(bpfJMP|bpfJEQ|bpfK, uint32(unix.SYS_PRCTL), 0, uint8(m+3)), loadArgLow(0))
	for j, v := range prctlOK {
		prog = append(prog, bpfJump(bpfJMP|bpfJEQ|bpfK, v, uint8(m-j), 0))
	}
	prog = append(prog, bpfStmt(bpfRET|bpfK, retEPERM), bpfStmt(bpfRET|bpfK, retAllow))
	for _, nr := range seccompAllowed {
		prog = append(prog,
			bpfJump(bpfJMP|bpfJEQ|bpfK, uint32(nr), 0, 1),
			bpfStmt(bpfRET|bpfK, retAllow),
		)
	}
	return append(prog, bpfStmt(bpfRET|bpfK, retEPERM))
}

// installSeccomp installs the filter on every thread of the process.
func installSeccomp() error {
	filter := seccompFilter(os.Getpid())
	if filter == nil {
		return fmt.Errorf("no system call table for %s", runtime.GOARCH)
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return errno
	}
	return nil
}
