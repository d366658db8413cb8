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
	"bufio"
	"context"
	"crypto/rand"
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
	"strconv"
	"strings"
	"time"

	"github.com/enxame/enxame/internal/kubo"
)

func main() {
	size := flag.String("size", "1GiB", "file size (B, KiB, MiB, GiB)")
	bin := flag.String("bin", "", "enxame binary (default: build one)")
	noKubo := flag.Bool("no-kubo", false, "skip the Kubo baseline")
	runs := flag.Int("runs", 3, "throughput runs; the median is reported")
	requests := flag.Int("requests", 1000, "time-to-first-byte requests")
	flag.Parse()
	n, err := parseSize(*size)
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

func run(ctx context.Context, size int64, bin string, withKubo bool, runs, requests int) error {
	tmp, err := os.MkdirTemp("", "enxame-bench-gateway-")
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
	small := filepath.Join(tmp, "small.txt")
	if err := writeRandom(small, 1024); err != nil {
		return err
	}
	mb := float64(size) / 1e6
	fmt.Printf("file %d bytes, %d runs (median), TTFB over %d requests of a 1 KiB file\n", size, runs, requests)

	a, err := startDaemon(ctx, bin, filepath.Join(tmp, "a"), "--gateway", "/ip4/127.0.0.1/tcp/0")
	if err != nil {
		return err
	}
	defer a.stop()
	root, err := enxameAdd(ctx, bin, a.home, file)
	if err != nil {
		return err
	}
	smallRoot, err := enxameAdd(ctx, bin, a.home, small)
	if err != nil {
		return err
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devNull.Close()

	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	gw, err := measure(runs, func() error { return download(ctx, client, a.gateway+"/ipfs/"+root, size) })
	if err != nil {
		return fmt.Errorf("enxame gateway: %w", err)
	}
	cat, err := measure(runs, func() error {
		c := exec.CommandContext(ctx, bin, "cat", "--home", a.home, root)
		c.Stdout = devNull
		return c.Run()
	})
	if err != nil {
		return fmt.Errorf("enxame cat: %w", err)
	}
	p50, p95, err := ttfb(ctx, client, a.gateway+"/ipfs/"+smallRoot, requests)
	if err != nil {
		return fmt.Errorf("enxame gateway TTFB: %w", err)
	}
	fmt.Printf("enxame gateway (local): %.0f MB/s%s\n", mb/median(gw).Seconds(), rates(mb, gw))
	fmt.Printf("enxame cat (local):     %.0f MB/s%s\n", mb/median(cat).Seconds(), rates(mb, cat))
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
	fmt.Printf("kubo gateway (local):   %.0f MB/s%s; enxame/kubo %.2fx\n", mb/median(kg).Seconds(), rates(mb, kg), median(kg).Seconds()/median(gw).Seconds())
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

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

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

func enxameAdd(ctx context.Context, bin, home, path string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "add", "--home", home, path).Output()
	if err != nil {
		return "", fmt.Errorf("enxame add %s: %w", path, err)
	}
	return strings.TrimSpace(string(out)), nil
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
	cmd     *exec.Cmd
	home    string
	gateway string
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
		if g, ok := strings.CutPrefix(line, "gateway: "); ok {
			d.gateway = g
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
