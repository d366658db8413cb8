// Command cat measures enxame's streaming read of remote content against
// Kubo's, with the real binaries over loopback: a provider daemon adds a
// random file, a second daemon streams it with `enxame cat` to a discard
// sink; the same bytes go through two Kubo daemons with `ipfs cat`. It also
// reports the fetching daemon's peak RSS during an `enxame get` of the file
// (goal ≤ 200 MiB for 1 GiB). With -runs N each cat runs N times, each on a
// fresh fetcher, and the median is reported with every run's rate and the
// CPU seconds the fetching daemon spent (less sensitive than the rate to
// other load on the machine).
//
//	go run ./bench/cat -size 1GiB -runs 3
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/enxame/enxame/internal/kubo"
)

func main() {
	size := flag.String("size", "1GiB", "file size (B, KiB, MiB, GiB)")
	bin := flag.String("bin", "", "enxame binary (default: build one)")
	noKubo := flag.Bool("no-kubo", false, "skip the Kubo baseline")
	runs := flag.Int("runs", 1, "cat runs, each on a fresh fetcher; the median is reported")
	flag.Parse()
	n, err := parseSize(*size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cat:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, n, *bin, !*noKubo, max(*runs, 1)); err != nil {
		fmt.Fprintln(os.Stderr, "cat:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSuffix(s, u.suf), u.m
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return v * mult, nil
}

func run(ctx context.Context, size int64, bin string, withKubo bool, runs int) error {
	tmp, err := os.MkdirTemp("", "enxame-bench-cat-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		bin = filepath.Join(tmp, "enxame")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/enxame/enxame")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build enxame: %w", err)
		}
	}
	file := filepath.Join(tmp, "data.bin")
	if err := writeRandom(file, size); err != nil {
		return err
	}
	mb := float64(size) / 1e6

	a, err := startDaemon(ctx, bin, filepath.Join(tmp, "a"))
	if err != nil {
		return err
	}
	defer a.stop()
	start := time.Now()
	out, err := exec.CommandContext(ctx, bin, "add", "--home", a.home, file).Output()
	if err != nil {
		return fmt.Errorf("add: %w", err)
	}
	addTook := time.Since(start)
	root := strings.TrimSpace(string(out))
	fmt.Printf("enxame add: %.0f MB/s (%v)\n", mb/addTook.Seconds(), addTook.Round(time.Millisecond))

	// Both cats write to /dev/null, as the benchmark says: an
	// io.Discard would add a pipe and a copy in this process to both.
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devNull.Close()
	var catRuns []time.Duration
	var cpu []string
	for i := range runs {
		b, err := startDaemon(ctx, bin, filepath.Join(tmp, fmt.Sprintf("b%d", i)), "--bootstrap", a.addr)
		if err != nil {
			return err
		}
		cpu0 := cpuSeconds(b.cmd.Process.Pid)
		start = time.Now()
		cat := exec.CommandContext(ctx, bin, "cat", "--home", b.home, root)
		cat.Stdout = devNull
		err = cat.Run()
		catRuns = append(catRuns, time.Since(start))
		cpu = append(cpu, fmt.Sprintf("%.1f", cpuSeconds(b.cmd.Process.Pid)-cpu0))
		b.stop()
		os.RemoveAll(b.home)
		if err != nil {
			return fmt.Errorf("enxame cat: %w", err)
		}
	}
	catTook := median(catRuns)
	fmt.Printf("enxame cat (remote, fresh fetcher): %.0f MB/s (%v)%s; fetcher CPU s %s\n", mb/catTook.Seconds(), catTook.Round(time.Millisecond), rates(mb, catRuns), strings.Join(cpu, " "))

	// get on a third daemon, sampling its RSS.
	c, err := startDaemon(ctx, bin, filepath.Join(tmp, "c"), "--bootstrap", a.addr)
	if err != nil {
		return err
	}
	defer c.stop()
	var peak float64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if r := rssMiB(c.cmd.Process.Pid); r > peak {
				peak = r
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	start = time.Now()
	err = exec.CommandContext(ctx, bin, "get", "--home", c.home, root, "-o", filepath.Join(tmp, "got.bin")).Run()
	getTook := time.Since(start)
	close(done)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("enxame get: %w", err)
	}
	fmt.Printf("enxame get: %.0f MB/s (%v); fetching daemon peak RSS %.0f MiB\n", mb/getTook.Seconds(), getTook.Round(time.Millisecond), peak)

	if !withKubo {
		return nil
	}
	kbin, err := kubo.Binary(ctx)
	if err != nil {
		return err
	}
	k1, err := kubo.Start(ctx, kubo.Config{Binary: kbin, Dir: filepath.Join(tmp, "k1")})
	if err != nil {
		return err
	}
	defer k1.Stop()
	kc, err := k1.Add(ctx, file, "--cid-version=1", "--raw-leaves")
	if err != nil {
		return err
	}
	_, addrs, err := k1.ID(ctx)
	if err != nil {
		return err
	}
	var kRuns []time.Duration
	for i := range runs {
		dir := filepath.Join(tmp, fmt.Sprintf("k2-%d", i))
		k2, err := kubo.Start(ctx, kubo.Config{Binary: kbin, Dir: dir})
		if err != nil {
			return err
		}
		for _, ad := range addrs {
			if strings.Contains(ad, "/tcp/") {
				err = k2.SwarmConnect(ctx, ad)
				break
			}
		}
		if err == nil {
			start = time.Now()
			if err = k2.CatTo(ctx, kc, devNull); err != nil {
				err = fmt.Errorf("ipfs cat: %w", err)
			}
			kRuns = append(kRuns, time.Since(start))
		}
		k2.Stop()
		os.RemoveAll(dir)
		if err != nil {
			return err
		}
	}
	kTook := median(kRuns)
	fmt.Printf("kubo cat (remote, fresh fetcher): %.0f MB/s (%v)%s; enxame/kubo %.1fx\n", mb/kTook.Seconds(), kTook.Round(time.Millisecond), rates(mb, kRuns), kTook.Seconds()/catTook.Seconds())
	return nil
}

// median returns the median of ds (the upper one of an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// rates lists each run's rate when there is more than one.
func rates(mb float64, ds []time.Duration) string {
	if len(ds) < 2 {
		return ""
	}
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%.0f", mb/d.Seconds()))
	}
	return " [runs MB/s: " + strings.Join(out, " ") + "]"
}

// cpuSeconds returns the user plus system CPU time of process pid, or 0.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
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

func writeRandom(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := io.CopyN(w, rand.Reader, size); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type daemon struct {
	cmd  *exec.Cmd
	home string
	addr string
}

func startDaemon(ctx context.Context, bin, home string, extra ...string) (*daemon, error) {
	args := append([]string{"daemon", "--home", home, "--no-mdns", "--lan", "--no-compute",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "error"}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, home: home}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "  /ip4/") && d.addr == "" {
			d.addr = strings.TrimSpace(line)
		}
		if strings.HasPrefix(line, "ready in ") {
			go io.Copy(io.Discard, out)
			return d, nil
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, fmt.Errorf("daemon %s exited before ready", home)
}

func (d *daemon) stop() {
	d.cmd.Process.Signal(os.Interrupt)
	d.cmd.Wait()
}

func rssMiB(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
