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
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/enxame/enxame/internal/benchutil"
	"github.com/enxame/enxame/internal/kubo"
)

func main() {
	size := flag.String("size", "1GiB", "file size (B, KiB, MiB, GiB)")
	bin := flag.String("bin", "", "enxame binary (default: build one)")
	noKubo := flag.Bool("no-kubo", false, "skip the Kubo baseline")
	runs := flag.Int("runs", 1, "cat runs, each on a fresh fetcher; the median is reported")
	flag.Parse()
	n, err := benchutil.ParseSize(*size)
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

// daemonArgs are the flags of every daemon the benchmark starts.
var daemonArgs = []string{"--no-compute", "--listen", benchutil.TCP}

func run(ctx context.Context, size int64, bin string, withKubo bool, runs int) error {
	tmp, err := os.MkdirTemp("", "enxame-bench-cat-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		if bin, err = benchutil.BuildEnxame(ctx, tmp); err != nil {
			return err
		}
	}
	file := filepath.Join(tmp, "data.bin")
	if err := benchutil.WriteRandom(file, size, nil); err != nil {
		return err
	}
	mb := float64(size) / 1e6

	a, err := benchutil.StartDaemon(ctx, bin, filepath.Join(tmp, "a"), daemonArgs...)
	if err != nil {
		return err
	}
	defer a.Stop()
	start := time.Now()
	out, err := exec.CommandContext(ctx, bin, "add", "--home", a.Home, file).Output()
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
		b, err := benchutil.StartDaemon(ctx, bin, filepath.Join(tmp, fmt.Sprintf("b%d", i)), append(daemonArgs, "--bootstrap", a.Addr)...)
		if err != nil {
			return err
		}
		cpu0 := benchutil.CPUSeconds(b.Cmd.Process.Pid)
		start = time.Now()
		cat := exec.CommandContext(ctx, bin, "cat", "--home", b.Home, root)
		cat.Stdout = devNull
		err = cat.Run()
		catRuns = append(catRuns, time.Since(start))
		cpu = append(cpu, fmt.Sprintf("%.1f", benchutil.CPUSeconds(b.Cmd.Process.Pid)-cpu0))
		b.Stop()
		os.RemoveAll(b.Home)
		if err != nil {
			return fmt.Errorf("enxame cat: %w", err)
		}
	}
	catTook := benchutil.Median(catRuns)
	fmt.Printf("enxame cat (remote, fresh fetcher): %.0f MB/s (%v)%s; fetcher CPU s %s\n", mb/catTook.Seconds(), catTook.Round(time.Millisecond), benchutil.Rates(mb, catRuns), strings.Join(cpu, " "))

	// get on a third daemon, sampling its RSS.
	c, err := benchutil.StartDaemon(ctx, bin, filepath.Join(tmp, "c"), append(daemonArgs, "--bootstrap", a.Addr)...)
	if err != nil {
		return err
	}
	defer c.Stop()
	var peak float64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if r, _ := benchutil.RSS(c.Cmd.Process.Pid); r > peak {
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
	err = exec.CommandContext(ctx, bin, "get", "--home", c.Home, root, "-o", filepath.Join(tmp, "got.bin")).Run()
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
	kTook := benchutil.Median(kRuns)
	fmt.Printf("kubo cat (remote, fresh fetcher): %.0f MB/s (%v)%s; enxame/kubo %.1fx\n", mb/kTook.Seconds(), kTook.Round(time.Millisecond), benchutil.Rates(mb, kRuns), kTook.Seconds()/catTook.Seconds())
	return nil
}
