// Command kubo measures the Kubo (IPFS) baselines that enxame is compared
// with, on this machine and in one run:
//
//   - add:  `ipfs add --cid-version=1 --raw-leaves` of a random file;
//   - pin:  Kubo→Kubo transfer of it with `ipfs pin add` on a second node
//     after a direct `ipfs swarm connect` (Bitswap, no routing);
//   - cat:  `ipfs cat` of it to /dev/null on a third, fresh node, so the
//     bytes stream over the network as they are read;
//   - cat-local: `ipfs cat` to /dev/null on the node that pinned it;
//   - sha256: single-core SHA-256 throughput, the hashing floor of the above.
//
// Every Kubo node is a private daemon on 127.0.0.1 started by internal/kubo.
// The binary is ENXAME_KUBO_BIN, else the cached build of scripts/build-kubo.sh,
// else built by that script. MB/s means 10^6 bytes per second.
//
// Usage, from the repository root:
//
//	go run ./bench/kubo [-size 1GiB] [-transport tcp|quic] [-json] [-dir DIR]
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/enxame/enxame/internal/benchutil"
	"github.com/enxame/enxame/internal/kubo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/kubo: %v\n", err)
		os.Exit(1)
	}
}

// Report is the -json output.
type Report struct {
	KuboVersion string    `json:"kubo_version"`
	Binary      string    `json:"binary"`
	SizeBytes   int64     `json:"size_bytes"`
	Transport   string    `json:"transport"`
	CID         string    `json:"cid"`
	CPUs        int       `json:"cpus"`
	GoVersion   string    `json:"go_version"`
	Platform    string    `json:"platform"`
	Date        time.Time `json:"date"`
	// LoadAvg is /proc/loadavg at the start and at the end of the run, when
	// readable: other work on the machine skews the figures.
	LoadAvg []string `json:"loadavg,omitempty"`
	Results []Result `json:"results"`
}

// Result is one measurement.
type Result struct {
	Name    string  `json:"name"`
	What    string  `json:"what"`
	Seconds float64 `json:"seconds"`
	MBps    float64 `json:"mb_per_s"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kubo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizeFlag := fs.String("size", "1GiB", "size of the random file (bytes, or with a suffix: KB MB GB, KiB MiB GiB)")
	transport := fs.String("transport", "tcp", "transport for swarm connect: tcp or quic")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a table")
	dir := fs.String("dir", os.TempDir(), "directory for the random file and the Kubo repositories (needs about 4×size free)")
	verify := fs.Bool("verify", true, "after timing, check that the fetcher's copy hashes like the original")
	if err := fs.Parse(args); err != nil {
		return err
	}
	size, err := benchutil.ParseSize(*sizeFlag)
	if err != nil {
		return fmt.Errorf("-size: %w", err)
	}
	if *transport != "tcp" && *transport != "quic" {
		return fmt.Errorf("-transport: want tcp or quic, got %q", *transport)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "bench/kubo: "+format+"\n", a...) }

	bin, err := kubo.Binary(ctx)
	if err != nil {
		return err
	}
	version, err := kubo.BinaryVersion(ctx, bin)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(*dir, "enxame-kubo-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	rep := Report{
		KuboVersion: version,
		Binary:      bin,
		SizeBytes:   size,
		Transport:   *transport,
		CPUs:        runtime.NumCPU(),
		GoVersion:   runtime.Version(),
		Platform:    runtime.GOOS + "/" + runtime.GOARCH,
		Date:        time.Now().UTC().Truncate(time.Second),
	}
	rep.LoadAvg = append(rep.LoadAvg, benchutil.LoadAvg())
	add := func(name, what string, d time.Duration) {
		r := Result{Name: name, What: what, Seconds: d.Seconds(), MBps: float64(size) / 1e6 / d.Seconds()}
		rep.Results = append(rep.Results, r)
		logf("%-9s %8.2f s %9.1f MB/s  (%s)", name, r.Seconds, r.MBps, what)
	}

	file := filepath.Join(work, "random.bin")
	logf("writing %d random bytes to %s", size, file)
	hash := sha256.New()
	if err := benchutil.WriteRandom(file, size, hash); err != nil {
		return err
	}
	sum := hash.Sum(nil)

	var nodes []*kubo.Node
	defer func() {
		for _, n := range nodes {
			if err := n.Stop(); err != nil {
				logf("%v", err)
			}
		}
	}()
	start := func(name string) (*kubo.Node, error) {
		n, err := kubo.Start(ctx, kubo.Config{Binary: bin, Dir: filepath.Join(work, name)})
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
		return n, nil
	}
	connect := func(from, to *kubo.Node) error {
		_, addrs, err := to.ID(ctx)
		if err != nil {
			return err
		}
		proto := map[string]string{"tcp": "/tcp/", "quic": "/quic-v1/"}[*transport]
		for _, a := range addrs {
			if strings.Contains(a, proto) {
				return from.SwarmConnect(ctx, a)
			}
		}
		return fmt.Errorf("no %s address among %q", *transport, addrs)
	}

	provider, err := start("provider")
	if err != nil {
		return err
	}
	t0 := time.Now()
	cid, err := provider.Add(ctx, file)
	if err != nil {
		return err
	}
	add("add", "ipfs add --cid-version=1 --raw-leaves (file in page cache)", time.Since(t0))
	rep.CID = cid

	pinner, err := start("pinner")
	if err != nil {
		return err
	}
	if err := connect(pinner, provider); err != nil {
		return err
	}
	t0 = time.Now()
	if err := pinner.PinAdd(ctx, cid); err != nil {
		return err
	}
	add("pin", "ipfs pin add, Kubo→Kubo over swarm connect "+*transport, time.Since(t0))

	catter, err := start("catter")
	if err != nil {
		return err
	}
	if err := connect(catter, provider); err != nil {
		return err
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devNull.Close()
	t0 = time.Now()
	if err := catter.CatTo(ctx, cid, devNull); err != nil {
		return err
	}
	add("cat", "ipfs cat >/dev/null on a fresh node, streamed over "+*transport, time.Since(t0))

	t0 = time.Now()
	if err := pinner.CatTo(ctx, cid, devNull); err != nil {
		return err
	}
	add("cat-local", "ipfs cat >/dev/null of pinned local data", time.Since(t0))

	add("sha256", "crypto/sha256 on one core, in memory", sha256Time(size))

	if *verify {
		h := sha256.New()
		if err := catter.CatTo(ctx, cid, h); err != nil {
			return err
		}
		if got := h.Sum(nil); !bytes.Equal(got, sum) {
			return fmt.Errorf("verify: fetcher's copy of %s has sha256 %x, want %x", cid, got, sum)
		}
		logf("verified: the fetcher's copy of %s matches the original", cid)
	}

	rep.LoadAvg = append(rep.LoadAvg, benchutil.LoadAvg())
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printTable(stdout, rep)
}

func printTable(w io.Writer, rep Report) error {
	fmt.Fprintf(w, "Kubo %s, %d bytes (%.2f GiB), transport %s, %d CPUs, %s %s\nCID %s\nload average (1/5/15 min) at start and end: %s\n\n",
		rep.KuboVersion, rep.SizeBytes, float64(rep.SizeBytes)/(1<<30), rep.Transport, rep.CPUs, rep.GoVersion, rep.Platform, rep.CID,
		strings.Join(rep.LoadAvg, " | "))
	fmt.Fprintf(w, "%-11s %9s %9s\n", "measurement", "seconds", "MB/s")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%-11s %9.2f %9.1f\n", r.Name, r.Seconds, r.MBps)
	}
	fmt.Fprintln(w)
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%-9s %s\n", r.Name, r.What)
	}
	return nil
}

// sha256Time hashes size bytes of a 16 MiB random buffer on the calling
// goroutine and returns how long that took.
func sha256Time(size int64) time.Duration {
	buf := make([]byte, 16<<20)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(buf)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h := sha256.New()
	t0 := time.Now()
	for left := size; left > 0; {
		b := buf[:min(int64(len(buf)), left)]
		h.Write(b)
		left -= int64(len(b))
	}
	h.Sum(nil)
	return time.Since(t0)
}
