package sandbox

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// limitChild applies OS limits to the child process itself: no core dumps
// (a unit's memory must not land on disk), a bounded number of open files,
// and first place in line for the kernel's OOM killer. Each is best effort.
//
// RLIMIT_AS is not set: wazero reserves large virtual ranges for compiled
// code and linear memories, and the Go runtime reserves its heap arenas, so
// an address-space cap fails allocations long before real memory runs out.
// The parent watches the child's resident memory instead.
func limitChild() {
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	var nofile syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile) == nil && nofile.Cur > 1024 {
		nofile.Cur = 1024
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &nofile)
	}
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte("1000"), 0)
}

// childSysProcAttr puts the child in its own process group (a terminal's
// ^C goes to the daemon, which closes its pool) and kills it if the daemon
// dies.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// residentBytes returns the resident set size of process pid.
func residentBytes(pid int) (uint64, error) { return procStatusBytes(pid, "VmRSS:") }

// peakResidentBytes returns the peak resident set size of process pid.
func peakResidentBytes(pid int) (uint64, error) { return procStatusBytes(pid, "VmHWM:") }

// procStatusBytes returns a field in kB of /proc/pid/status, in bytes.
func procStatusBytes(pid int, field string) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			f := bytes.Fields(rest)
			if len(f) != 2 || string(f[1]) != "kB" {
				break
			}
			kb, err := strconv.ParseUint(string(f[0]), 10, 64)
			if err != nil {
				break
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// reserveMemory maps n bytes of zeroed, private memory that costs nothing until
// touched (MAP_NORESERVE: no commit charge either).
func reserveMemory(n uint64) ([]byte, error) {
	if n == 0 || n > 1<<33 {
		return nil, fmt.Errorf("reserve %d bytes: out of range", n)
	}
	return syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
}

// releaseMemory unmaps what reserveMemory mapped.
func releaseMemory(b []byte) {
	_ = syscall.Munmap(b)
}
