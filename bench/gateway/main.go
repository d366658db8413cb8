// Command gateway measures enxame's IPFS HTTP gateway with the real binary
// over loopback: the throughput of a GET of a file the daemon holds, against
// `enxame cat` of the same file and against Kubo's gateway serving the same
// bytes (added with --cid-version=1 --raw-leaves, so the same CID); and the
// time to first byte of a small local file over -requests sequential
// requests on one keep-alive connection (p50, p95), for both gateways.
//
//	go run ./bench/gateway -size 1GiB -runs 3
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/enxame/enxame/internal/benchutil"
	"github.com/enxame/enxame/internal/kubo"
)

func main() {
	size := flag.String("size", "1GiB", "file size (B, KiB, MiB, GiB)")
	bin := flag.String("bin", "", "enxame binary (default: build one)")
	noKubo := flag.Bool("no-kubo", false, "skip the Kubo baseline")
	runs := flag.Int("runs", 3, "throughput runs; the median is reported")
	requests := flag.Int("requests", 1000, "time-to-first-byte requests")
	flag.Parse()
	n, err := benchutil.ParseSize(*size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, n, *bin, !*noKubo, max(*runs, 1), max(*requests, 1)); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, size int64, bin string, withKubo bool, runs, requests int) error {
	tmp, err := os.MkdirTemp("", "enxame-bench-gateway-")
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
	small := filepath.Join(tmp, "small.txt")
	if err := benchutil.WriteRandom(small, 1024, nil); err != nil {
		return err
	}
	mb := float64(size) / 1e6
	fmt.Printf("file %d bytes, %d runs (median), TTFB over %d requests of a 1 KiB file\n", size, runs, requests)

	a, err := benchutil.StartDaemon(ctx, bin, filepath.Join(tmp, "a"), "--no-compute", "--listen", benchutil.TCP, "--gateway", "/ip4/127.0.0.1/tcp/0")
	if err != nil {
		return err
	}
	defer a.Stop()
	root, err := enxameAdd(ctx, bin, a.Home, file)
	if err != nil {
		return err
	}
	smallRoot, err := enxameAdd(ctx, bin, a.Home, small)
	if err != nil {
		return err
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devNull.Close()

	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	gw, err := measure(runs, func() error { return download(ctx, client, a.Gateway+"/ipfs/"+root, size) })
	if err != nil {
		return fmt.Errorf("enxame gateway: %w", err)
	}
	cat, err := measure(runs, func() error {
		c := exec.CommandContext(ctx, bin, "cat", "--home", a.Home, root)
		c.Stdout = devNull
		return c.Run()
	})
	if err != nil {
		return fmt.Errorf("enxame cat: %w", err)
	}
	p50, p95, err := ttfb(ctx, client, a.Gateway+"/ipfs/"+smallRoot, requests)
	if err != nil {
		return fmt.Errorf("enxame gateway TTFB: %w", err)
	}
	fmt.Printf("enxame gateway (local): %.0f MB/s%s\n", mb/benchutil.Median(gw).Seconds(), benchutil.Rates(mb, gw))
	fmt.Printf("enxame cat (local):     %.0f MB/s%s\n", mb/benchutil.Median(cat).Seconds(), benchutil.Rates(mb, cat))
	fmt.Printf("enxame gateway TTFB:    p50 %s  p95 %s\n", p50, p95)

	if !withKubo {
		return nil
	}
	kbin, err := kubo.Binary(ctx)
	if err != nil {
		return err
	}
	k, err := kubo.Start(ctx, kubo.Config{Binary: kbin, Dir: filepath.Join(tmp, "k")})
	if err != nil {
		return err
	}
	defer k.Stop()
	kc, err := k.Add(ctx, file, "--cid-version=1", "--raw-leaves")
	if err != nil {
		return err
	}
	if kc != root {
		fmt.Printf("note: Kubo's CID %s differs from enxame's %s\n", kc, root)
	}
	ksmall, err := k.Add(ctx, small, "--cid-version=1", "--raw-leaves")
	if err != nil {
		return err
	}
	if k.GatewayURL() == "" {
		return fmt.Errorf("kubo: no gateway address")
	}
	kg, err := measure(runs, func() error { return download(ctx, client, k.GatewayURL()+"/ipfs/"+kc, size) })
	if err != nil {
		return fmt.Errorf("kubo gateway: %w", err)
	}
	k50, k95, err := ttfb(ctx, client, k.GatewayURL()+"/ipfs/"+ksmall, requests)
	if err != nil {
		return fmt.Errorf("kubo gateway TTFB: %w", err)
	}
	fmt.Printf("kubo gateway (local):   %.0f MB/s%s; enxame/kubo %.2fx\n", mb/benchutil.Median(kg).Seconds(), benchutil.Rates(mb, kg), benchutil.Median(kg).Seconds()/benchutil.Median(gw).Seconds())
	fmt.Printf("kubo gateway TTFB:      p50 %s  p95 %s\n", k50, k95)
	return nil
}

// measure runs f runs times and returns each duration.
func measure(runs int, f func() error) ([]time.Duration, error) {
	var ds []time.Duration
	for range runs {
		start := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		ds = append(ds, time.Since(start))
	}
	return ds, nil
}

// download GETs url into io.Discard and checks the length.
func download(ctx context.Context, c *http.Client, url string, size int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("GET %s: %d bytes, want %d", url, n, size)
	}
	return nil
}

// ttfb returns the p50 and p95 time from sending a request to its first
// response byte, over n sequential requests on a kept-alive connection
// (one warm-up request first).
func ttfb(ctx context.Context, c *http.Client, url string, n int) (p50, p95 time.Duration, err error) {
	var ds []time.Duration
	for i := range n + 1 {
		var start, first time.Time
		trace := &httptrace.ClientTrace{
			WroteRequest:         func(httptrace.WroteRequestInfo) { start = time.Now() },
			GotFirstResponseByte: func() { first = time.Now() },
		}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, url, nil)
		if err != nil {
			return 0, 0, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if i > 0 {
			ds = append(ds, first.Sub(start))
		}
	}
	slices.Sort(ds)
	return ds[len(ds)/2].Round(time.Microsecond), ds[len(ds)*95/100].Round(time.Microsecond), nil
}

func enxameAdd(ctx context.Context, bin, home, path string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "add", "--home", home, path).Output()
	if err != nil {
		return "", fmt.Errorf("enxame add %s: %w", path, err)
	}
	return strings.TrimSpace(string(out)), nil
}
