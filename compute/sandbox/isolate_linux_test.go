package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// probeEnv names what a probe child tries once confined: an action and its
// argument, separated by a space.
const probeEnv = "ENXAME_SANDBOX_PROBE"

// probeChild is a sandbox child that confines itself exactly as ChildMain
// does, then tries what probeEnv says, as a unit that escaped wazero
// would, and prints "isolation: ..." and "result: ok" or "result: errno N".
func probeChild(stdin io.Reader, stdout io.Writer) int {
	init, isolation, err := isolateChild(stdin, stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return 1
	}
	isolation = strings.TrimSpace(isolation + " " + restrictProcess(init))
	action, arg, _ := strings.Cut(os.Getenv(probeEnv), " ")
	err = probe(action, arg)
	var errno syscall.Errno
	result := "ok"
	switch {
	case errors.As(err, &errno):
		result = fmt.Sprintf("errno %d", int(errno))
	case err != nil:
		result = "error " + err.Error()
	}
	fmt.Fprintf(stdout, "isolation: %s\nresult: %s\n", isolation, result)
	return 0
}

func probe(action, arg string) error {
	switch action {
	case "read":
		_, err := os.ReadFile(arg)
		return err
	case "write": // arg: size path
		size, path, _ := strings.Cut(arg, " ")
		n, _ := strconv.Atoi(size)
		return os.WriteFile(path, make([]byte, n), 0o600)
	case "socket":
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err == nil {
			syscall.Close(fd)
		}
		return err
	case "exec":
		return syscall.Exec(arg, []string{arg}, nil)
	case "fork":
		_, err := syscall.ForkExec(arg, []string{arg}, nil)
		return err
	case "kill":
		pid, _ := strconv.Atoi(arg)
		return syscall.Kill(pid, 0)
	case "ptrace":
		pid, _ := strconv.Atoi(arg)
		_, _, errno := syscall.Syscall6(syscall.SYS_PTRACE, syscall.PTRACE_ATTACH, uintptr(pid), 0, 0, 0, 0)
		if errno != 0 {
			return errno
		}
		return nil
	case "threads": // new OS threads must still start
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				_, _ = os.ReadFile("/nonexistent")
			})
		}
		wg.Wait()
		return nil
	}
	return fmt.Errorf("unknown probe %q", action)
}

// runProbe starts a probe child with init and returns its isolation line
// and result.
func runProbe(t *testing.T, init initMsg, action string) (isolation, result string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{childEnv + "=probe", probeEnv + "=" + action}
	init.Version = protocolVersion
	var frame bytes.Buffer
	if err := writeFrame(&frame, encodeInit(init)); err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = &frame
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe %q: %v; stderr: %s", action, err, stderr.String())
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "isolation: "); ok {
			isolation = v
		}
		if v, ok := strings.CutPrefix(line, "result: "); ok {
			result = v
		}
	}
	return isolation, result
}

// TestChildIsolation checks each OS protection of a sandbox child with a
// real child process that tries the forbidden thing after confining itself
// as ChildMain does (issue 11, "beyond the findings").
func TestChildIsolation(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home") // the node's home, with its key
	units := filepath.Join(root, "units")
	cache := filepath.Join(root, "cache")
	for _, d := range []string{home, units, cache} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	key := filepath.Join(home, "identity.key")
	input := filepath.Join(units, "input.txt")
	for _, f := range []string{key, input} {
		if err := os.WriteFile(f, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	init := initMsg{CacheDir: cache, UnitDirs: []string{units}, MaxFileBytes: 1 << 20}
	// A bystander process of the same user, for the probes that attack
	// one: not the test process, which a successful ptrace would stop.
	bystander := exec.Command("sleep", "300")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bystander.Process.Kill()
		bystander.Wait()
	})
	victim := strconv.Itoa(bystander.Process.Pid)
	landlock := landlockABI() > 0
	denied := func(e syscall.Errno) string { return fmt.Sprintf("errno %d", int(e)) }
	fileDenied := denied(syscall.EACCES)
	if !landlock {
		fileDenied = "ok" // no Landlock: nothing but permissions confine files
	}
	tests := []struct {
		name, action, want string
	}{
		{"read the node's key", "read " + key, fileDenied},
		{"read an input", "read " + input, "ok"},
		{"list the home", "read " + home, fileDenied},
		{"read /etc/passwd", "read /etc/passwd", fileDenied},
		{"write in the cache", "write 4096 " + filepath.Join(cache, "entry"), "ok"},
		{"write in the home", "write 10 " + filepath.Join(home, "planted"), fileDenied},
		{"write in the units", "write 10 " + filepath.Join(units, "planted"), fileDenied},
		{"write past RLIMIT_FSIZE", "write 2097152 " + filepath.Join(cache, "big"), denied(syscall.EFBIG)},
		{"open a socket", "socket", denied(syscall.EPERM)},
		{"execute a program", "exec /bin/true", denied(syscall.EPERM)},
		{"fork a process", "fork /bin/true", denied(syscall.EPERM)},
		{"signal another process", "kill " + victim, denied(syscall.EPERM)},
		{"ptrace another process", "ptrace " + victim, denied(syscall.EPERM)},
		{"start threads", "threads", "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			isolation, result := runProbe(t, init, tt.action)
			if result != tt.want {
				t.Errorf("probe %q = %q, want %q (isolation: %s)", tt.action, result, tt.want, isolation)
			}
			for _, want := range []string{"no_new_privs", "seccomp", "rlimit-fsize(1 MiB)"} {
				if !strings.Contains(isolation, want) || strings.Contains(isolation, want+" off") {
					t.Errorf("probe %q isolation %q, want %s active", tt.action, isolation, want)
				}
			}
			if landlock != strings.Contains(isolation, "landlock(abi") {
				t.Errorf("probe %q isolation %q; kernel has Landlock: %v", tt.action, isolation, landlock)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(home, "planted")); landlock && err == nil {
		t.Errorf("a confined child planted a file in the home")
	}
}

// TestPoolIsolationReported checks that a pool's real children confine
// themselves and say so.
func TestPoolIsolationReported(t *testing.T) {
	p := newTestPool(t, nil)
	mustRun(t, p, Unit{ModulePath: writeFile(t, "ok.wasm", modReturn)})
	got := p.Isolation()
	want := []string{"no_new_privs", "seccomp", "rlimit-fsize"}
	if landlockABI() > 0 {
		want = append(want, "landlock(abi")
	}
	for _, w := range want {
		if !strings.Contains(got, w) || strings.Contains(got, w+" off") {
			t.Errorf("Isolation() = %q, want %s active", got, w)
		}
	}
}

// TestPoolUnitDirs checks that a unit outside UnitDirs is refused before it
// reaches a child.
func TestPoolUnitDirs(t *testing.T) {
	units := t.TempDir()
	p := newTestPool(t, func(c *Config) { c.UnitDirs = []string{units} })
	in := filepath.Join(units, "ok.wasm")
	if err := os.WriteFile(in, modReturn, 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, p, Unit{ModulePath: in})
	out := writeFile(t, "ok.wasm", modReturn)
	res, err := p.RunUnit(t.Context(), Unit{ModulePath: out})
	if res.Reason != ReasonSetup || !strings.Contains(res.Detail, "outside the pool's UnitDirs") {
		t.Errorf("Run(module outside UnitDirs) = %v, %v %q; want %v", err, res.Reason, res.Detail, ReasonSetup)
	}
	res, err = p.RunUnit(t.Context(), Unit{ModulePath: in, InputDir: filepath.Dir(out)})
	if res.Reason != ReasonSetup || !strings.Contains(res.Detail, "outside the pool's UnitDirs") {
		t.Errorf("Run(input outside UnitDirs) = %v, %v %q; want %v", err, res.Reason, res.Detail, ReasonSetup)
	}
}
