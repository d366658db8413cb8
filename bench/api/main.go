// Command api measures the HTTP API's overhead for a program driving a
// job, with the real binary over loopback TCP: a daemon started with --api
// (and --no-compute, so no unit runs and only the API and the submitter
// are measured) takes N job submits; each is timed from the submit request
// to the moment its events stream (compute/watch) is open, and to its
// first event, then cancelled. It prints p50, p95 and max.
//
//	go run ./bench/api -n 200
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/enxame/enxame/examples/wasm"
	"github.com/enxame/enxame/internal/benchutil"
)

func main() {
	n := flag.Int("n", 200, "job submits")
	bin := flag.String("bin", "", "enxame binary (default: build one)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, *bin, max(*n, 1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
	res.print(os.Stdout)
}

// result holds the durations of every submit.
type result struct {
	open, first []time.Duration // submit → stream open, submit → first event
}

func (r result) print(w io.Writer) {
	fmt.Fprintf(w, "API overhead over %d job submits (loopback TCP, token, no worker):\n", len(r.open))
	for _, s := range []struct {
		name string
		d    []time.Duration
	}{{"submit → events stream open", r.open}, {"submit → first event", r.first}} {
		fmt.Fprintf(w, "  %-28s p50 %8s  p95 %8s  max %8s\n", s.name,
			quantile(s.d, 0.5).Round(time.Microsecond), quantile(s.d, 0.95).Round(time.Microsecond), quantile(s.d, 1).Round(time.Microsecond))
	}
}

// quantile returns the q-quantile of d (nearest rank); 0 for none.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func run(ctx context.Context, bin string, n int) (result, error) {
	dir, err := os.MkdirTemp("", "enxame-bench-api-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		if bin, err = benchutil.BuildEnxame(ctx, dir); err != nil {
			return result{}, err
		}
	}
	home := filepath.Join(dir, "home")
	port, err := freePort()
	if err != nil {
		return result{}, err
	}
	api := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(dctx, bin, "daemon", "--home", home, "--json", "--no-mdns", "--lan", "--no-compute",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--api", api)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start daemon: %w", err)
	}
	defer cmd.Wait()
	defer cancel()
	sc := bufio.NewScanner(out)
	ready := false
	for !ready && sc.Scan() {
		var ev struct{ Event string }
		ready = json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == "ready"
	}
	if !ready {
		return result{}, errors.New("daemon exited before it was ready")
	}
	go io.Copy(io.Discard, out)
	tok, err := os.ReadFile(filepath.Join(home, "api.token"))
	if err != nil {
		return result{}, err
	}
	c := &client{base: fmt.Sprintf("http://127.0.0.1:%d", port), token: strings.TrimSpace(string(tok))}

	var added struct{ Event, Root string }
	if err := c.post(ctx, "/api/v1/add/stream", "application/octet-stream", bytes.NewReader(wasm.Mandelbrot), func(line []byte) error {
		return json.Unmarshal(line, &added)
	}); err != nil || added.Root == "" {
		return result{}, fmt.Errorf("add module: %v (last event %+v)", err, added)
	}
	spec, _ := json.Marshal(map[string]any{"module": added.Root, "args": []string{"-w", "8", "-h", "8"}})
	var res result
	for range n {
		start := time.Now()
		var sub struct{ Job string }
		if err := c.post(ctx, "/api/v1/compute/submit", "application/json", bytes.NewReader(spec), func(line []byte) error {
			return json.Unmarshal(line, &sub)
		}); err != nil {
			return res, fmt.Errorf("submit: %w", err)
		}
		job, _ := json.Marshal(map[string]string{"job": sub.Job})
		resp, err := c.do(ctx, "/api/v1/compute/watch", "application/json", bytes.NewReader(job))
		if err != nil {
			return res, fmt.Errorf("watch %s: %w", sub.Job, err)
		}
		res.open = append(res.open, time.Since(start))
		br := bufio.NewReader(resp.Body)
		if _, err := br.ReadBytes('\n'); err != nil {
			resp.Body.Close()
			return res, fmt.Errorf("watch %s: first event: %w", sub.Job, err)
		}
		res.first = append(res.first, time.Since(start))
		if err := c.post(ctx, "/api/v1/compute/cancel", "application/json", bytes.NewReader(job), nil); err != nil {
			resp.Body.Close()
			return res, fmt.Errorf("cancel %s: %w", sub.Job, err)
		}
		io.Copy(io.Discard, resp.Body) // the stream ends with the job
		resp.Body.Close()
	}
	return res, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// client sends requests with the token.
type client struct {
	base, token string
	hc          http.Client
}

func (c *client) do(ctx context.Context, path, ctype string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", ctype)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s: %s", path, resp.Status, data)
	}
	return resp, nil
}

// post sends a request and calls fn with each line of the answer.
func (c *client) post(ctx context.Context, path, ctype string, body io.Reader, fn func([]byte) error) error {
	resp, err := c.do(ctx, path, ctype, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if fn != nil {
			if err := fn(sc.Bytes()); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}
