// Command import measures `enxame add` against its baselines, on this
// machine and in one run, for one random file:
//
//   - enxame: share.Store.Add of the file into a fresh Store on disk (pack
//     files and pebble index in a temporary directory), root pinned, with the
//     default options (CIDv1, raw leaves, 256 KiB chunks), hashing on every
//     core;
//   - sha256: crypto/sha256 of the same bytes on one core, in memory;
//   - kubo: `ipfs add --cid-version=1 --raw-leaves` of the file on a fresh
//     Kubo v0.43.1 daemon (internal/kubo), as bench/kubo measures it.
//
// The file is in the page cache for every measurement. It also checks that
// enxame and Kubo print the same root CID, and reports the peak RSS of the
// process (the enxame add runs in it). MB/s means 10^6 bytes per second.
//
// Usage, from the repository root:
//
//	go run ./bench/import [-size 1GiB] [-dir DIR] [-kubo=true] [-json]
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/enxame/enxame/internal/benchutil"
	"github.com/enxame/enxame/internal/kubo"
	"github.com/enxame/enxame/share"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/import: %v\n", err)
		os.Exit(1)
	}
}

// Report is the -json output.
type Report struct {
	SizeBytes int64     `json:"size_bytes"`
	CID       string    `json:"cid"`
	KuboCID   string    `json:"kubo_cid,omitempty"`
	CPUs      int       `json:"cpus"`
	GoVersion string    `json:"go_version"`
	Date      time.Time `json:"date"`
	LoadAvg   []string  `json:"loadavg,omitempty"`
	// PeakRSSMiB is the process's peak resident set (VmHWM) after the
	// enxame add, in MiB.
	PeakRSSMiB float64  `json:"peak_rss_mib"`
	Results    []Result `json:"results"`
}

// Result is one measurement.
type Result struct {
	Name    string  `json:"name"`
	What    string  `json:"what"`
	Seconds float64 `json:"seconds"`
	MBps    float64 `json:"mb_per_s"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizeFlag := fs.String("size", "1GiB", "size of the random file (bytes, or with a suffix: KB MB GB, KiB MiB GiB)")
	dir := fs.String("dir", os.TempDir(), "directory for the file, the store and the Kubo repository (needs about 3×size free)")
	withKubo := fs.Bool("kubo", true, "also measure Kubo's ipfs add")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	size, err := benchutil.ParseSize(*sizeFlag)
	if err != nil {
		return fmt.Errorf("-size: %w", err)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "bench/import: "+format+"\n", a...) }
	work, err := os.MkdirTemp(*dir, "enxame-import-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	rep := Report{SizeBytes: size, CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Date: time.Now().UTC().Truncate(time.Second)}
	rep.LoadAvg = append(rep.LoadAvg, benchutil.LoadAvg())
	add := func(name, what string, d time.Duration) {
		r := Result{Name: name, What: what, Seconds: d.Seconds(), MBps: float64(size) / 1e6 / d.Seconds()}
		rep.Results = append(rep.Results, r)
		logf("%-7s %8.2f s %9.1f MB/s  (%s)", name, r.Seconds, r.MBps, what)
	}

	file := filepath.Join(work, "random.bin")
	logf("writing %d random bytes to %s", size, file)
	if err := benchutil.WriteRandom(file, size, nil); err != nil {
		return err
	}
	if err := warm(file); err != nil {
		return err
	}

	s, err := share.OpenStore(share.StoreConfig{Dir: filepath.Join(work, "store")}, share.StoreDeps{})
	if err != nil {
		return err
	}
	t0 := time.Now()
	res, err := s.Add(ctx, []string{file}, share.AddOptions{})
	d := time.Since(t0)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	add("enxame", fmt.Sprintf("share.Store.Add, %d cores, fresh store on disk", runtime.GOMAXPROCS(0)), d)
	rep.CID = res.Root.String()
	rep.PeakRSSMiB = peakRSSMiB()

	d, err = hashFile(file)
	if err != nil {
		return err
	}
	add("sha256", "crypto/sha256, one core, in memory", d)

	if *withKubo {
		bin, err := kubo.Binary(ctx)
		if err != nil {
			return err
		}
		n, err := kubo.Start(ctx, kubo.Config{Binary: bin, Dir: filepath.Join(work, "kubo")})
		if err != nil {
			return err
		}
		defer n.Stop()
		t0 := time.Now()
		c, err := n.Add(ctx, file)
		if err != nil {
			return err
		}
		add("kubo", "ipfs add --cid-version=1 --raw-leaves", time.Since(t0))
		rep.KuboCID = c
		if c != rep.CID {
			return fmt.Errorf("root CIDs differ: enxame %s, kubo %s", rep.CID, c)
		}
	}
	rep.LoadAvg = append(rep.LoadAvg, benchutil.LoadAvg())

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(stdout, "import of %d bytes, CID %s, %d CPUs, peak RSS %.0f MiB, load %s\n", size, rep.CID, rep.CPUs, rep.PeakRSSMiB, strings.Join(rep.LoadAvg, " → "))
	for _, r := range rep.Results {
		fmt.Fprintf(stdout, "%-7s %8.2f s %9.1f MB/s  %s\n", r.Name, r.Seconds, r.MBps, r.What)
	}
	return nil
}

// warm reads the file once so that every measurement finds it in the page
// cache.
func warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

func hashFile(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	sum := sha256.Sum256(b)
	d := time.Since(t0)
	_ = sum
	return d, nil
}
