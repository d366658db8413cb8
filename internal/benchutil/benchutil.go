// Package benchutil holds what the benchmark programs under bench/ share:
// building the enxame binary, starting real daemons on loopback, writing
// random input files, parsing sizes, and the statistics and process figures
// (median, per-run rates, RSS, CPU time, load average) they print. Only
// bench/ imports it.
package benchutil

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BuildEnxame builds the enxame binary into dir/enxame with the go command
// (its output goes to stderr) and returns its path.
func BuildEnxame(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "enxame")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/enxame/enxame")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build enxame: %w", err)
	}
	return bin, nil
}

// TCP is a loopback TCP listen address on a free port.
const TCP = "/ip4/127.0.0.1/tcp/0"

// Daemon is a running `enxame daemon`.
type Daemon struct {
	Cmd  *exec.Cmd
	Home string
	// Addr is the first /ip4/.../tcp/... address it printed, with its peer
	// ID; Gateway is its gateway's address, if it printed one.
	Addr, Gateway string
	// Wall is the time from exec to its "ready in" line; Self is the time
	// that line reports.
	Wall, Self time.Duration
}

// StartDaemon runs `bin daemon --home home --no-mdns --lan --log-level error`
// with args appended (listen addresses, --no-compute, --bootstrap, ...) and
// returns once it has printed its "ready in" line.
func StartDaemon(ctx context.Context, bin, home string, args ...string) (*Daemon, error) {
	argv := append([]string{"daemon", "--home", home, "--no-mdns", "--lan", "--log-level", "error"}, args...)
	cmd := exec.CommandContext(ctx, bin, argv...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	d := &Daemon{Cmd: cmd, Home: home}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "  /ip4/") && strings.Contains(line, "/tcp/") && d.Addr == "" {
			d.Addr = strings.TrimSpace(line)
		}
		if g, ok := strings.CutPrefix(line, "gateway: "); ok {
			d.Gateway = g
		}
		if s, ok := strings.CutPrefix(line, "ready in "); ok {
			d.Wall = time.Since(start)
			d.Self, _ = time.ParseDuration(s)
			go io.Copy(io.Discard, out)
			return d, nil
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, fmt.Errorf("daemon %s exited before ready", home)
}

// Stop interrupts the daemon and waits for it to exit.
func (d *Daemon) Stop() {
	d.Cmd.Process.Signal(os.Interrupt)
	d.Cmd.Wait()
}

// WriteRandom writes size pseudo-random (incompressible) bytes to path,
// also writing them to also (a hash, say) unless it is nil.
func WriteRandom(path string, size int64, also io.Writer) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var seed [32]byte
	for i := range 8 {
		seed[i] = byte(uint64(time.Now().UnixNano()) >> (8 * i))
	}
	src := rand.NewChaCha8(seed)
	buf := make([]byte, 4<<20)
	for left := size; left > 0; {
		b := buf[:min(int64(len(buf)), left)]
		_, _ = src.Read(b)
		if also != nil {
			also.Write(b)
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return err
		}
		left -= int64(len(b))
	}
	return f.Close()
}

// ParseSize parses "1073741824", "1GiB", "512 MiB", "10MB", "1.5KiB" and
// the like; the size must be positive.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
	}
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(f * float64(mult)), nil
}

// Median returns the median of ds (the upper one of an even count), 0 for
// none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// Rates lists each run's rate in MB/s, for runs of mb megabytes each, when
// there is more than one: " [runs MB/s: 812 790 803]".
func Rates(mb float64, ds []time.Duration) string {
	if len(ds) < 2 {
		return ""
	}
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%.0f", mb/d.Seconds()))
	}
	return " [runs MB/s: " + strings.Join(out, " ") + "]"
}

// WaitFor polls cond every 20 ms until it holds, failing after limit with
// what it waited for, or when ctx ends.
func WaitFor(ctx context.Context, limit time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %v for %s", limit, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// LoadAvg returns the 1, 5 and 15 minute load averages from /proc/loadavg,
// or "n/a".
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

// RSS returns VmRSS and VmHWM (peak) of process pid in MiB, 0 where unknown
// (on systems without /proc).
func RSS(pid int) (rss, hwm float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

// CPUSeconds returns the user plus system CPU time of process pid in
// seconds, or 0 if unknown.
func CPUSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are fields 14 and 15 of the line, in clock ticks.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ, 100 on Linux
}
