package simnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"image/png"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/examples/wasm"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The local demo swarm of `enxame demo`: real nodes on loopback (not the
// simulated network of the scenarios), in this process like them.

// DemoConfig sizes the demo: Peers nodes, a shared file of FileMiB MiB,
// a Width×Height Mandelbrot image of Iter iterations per pixel rendered in
// Units units and stitched by a reduce, written to Out.
type DemoConfig struct {
	Peers, FileMiB, Units int
	Width, Height, Iter   int
	Out                   string
}

// Demo starts a swarm of f.Peers peers on loopback in this process (real
// libp2p hosts, real DHT, real block store and sandbox), shares a file
// from one peer and fetches it from others, then publishes a Mandelbrot
// job split into units that run across the peers and are stitched into
// one PNG written to f.Out. It prints each step and where each unit ran to
// stdout, a peer's failure to stderr, and removes everything it made but
// the image.
func Demo(ctx context.Context, f DemoConfig, stdout, stderr io.Writer) (err error) {
	if f.Peers < 2 || f.Units < 1 || f.FileMiB < 1 || f.Width < 1 || f.Height < f.Units {
		return errors.New("demo needs at least 2 peers, 1 unit, 1 MiB and a height of at least the units")
	}
	start := time.Now()
	step := func(format string, args ...any) {
		fmt.Fprintf(stdout, "[%6.2fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	tmp, err := os.MkdirTemp("", "enxame-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// 1. The swarm: peer 0 is everyone's bootstrap peer. Peers get 1 or 2
	// compute slots, so the swarm is heterogeneous.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	var nodes []*node.Node
	names := map[peer.ID]string{}
	defer func() {
		cancel()
		wg.Wait()
		for _, n := range nodes {
			if cerr := n.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	for i := range f.Peers {
		cfg := node.DefaultConfig()
		cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
		cfg.DisableMDNS = true
		cfg.DHT.DisableDiversityFilter = true
		cfg.Compute.Slots = 1 + i%2
		if i > 0 {
			cfg.Bootstrap = nodes[0].Addrs()[:1]
		}
		n, err := node.New(cfg, node.Deps{DataDir: filepath.Join(tmp, fmt.Sprintf("peer%d", i)),
			WasmCacheDir: filepath.Join(tmp, "wazero-cache")})
		if err != nil {
			return fmt.Errorf("demo: start peer %d: %w", i, err)
		}
		nodes = append(nodes, n)
		names[n.Host().ID()] = fmt.Sprintf("peer%d", i)
		wg.Go(func() {
			if err := n.Run(runCtx); err != nil {
				fmt.Fprintf(stderr, "demo: peer %d: %v\n", i, err)
			}
		})
	}
	if err := demoWait(ctx, 20*time.Second, func() bool {
		for _, n := range nodes[1:] {
			if n.Router().TableSize() < 1 {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("demo: peers did not join: %w", err)
	}
	step("swarm of %d peers up on loopback (peer0 is the bootstrap peer)", f.Peers)
	for i, n := range nodes {
		fmt.Fprintf(stdout, "          peer%d %s  %d slots\n", i, n.Host().ID(), 1+i%2)
	}

	// 2. Share a file: peer1 adds it, peer2 fetches it, then the last peer
	// fetches it from both.
	data := make([]byte, f.FileMiB<<20)
	rand.Read(data)
	t0 := time.Now()
	res, err := nodes[1].AddReader(ctx, bytes.NewReader(data), "demo.bin", share.AddOptions{})
	if err != nil {
		return fmt.Errorf("demo: add: %w", err)
	}
	step("peer1 added %d MiB as %s in %v (%.0f MB/s)", f.FileMiB, res.Root, time.Since(t0).Round(time.Millisecond),
		float64(len(data))/time.Since(t0).Seconds()/1e6)
	have := []peer.AddrInfo{{ID: nodes[1].Host().ID(), Addrs: nodes[1].Host().Addrs()}}
	for _, i := range []int{2, len(nodes) - 1} {
		if i == 2 && len(nodes) < 4 {
			continue
		}
		n := nodes[i]
		var last share.Progress
		t0 = time.Now()
		err := n.Fetch(ctx, res.Root, share.FetchOptions{
			Providers: have,
			Progress:  func(p share.Progress) { last = p },
		})
		if err != nil {
			return fmt.Errorf("demo: peer%d fetch: %w", i, err)
		}
		took := time.Since(t0)
		if err := demoCheck(ctx, n, res.Root, data); err != nil {
			return err
		}
		step("peer%d fetched and verified it in %v (%.0f MB/s)%s", i, took.Round(time.Millisecond),
			float64(len(data))/took.Seconds()/1e6, providerShares(last, names))
		if err := n.Blocks().Pin(ctx, res.Root); err != nil {
			return fmt.Errorf("demo: pin: %w", err)
		}
		have = append(have, peer.AddrInfo{ID: n.Host().ID(), Addrs: n.Host().Addrs()})
	}

	// 3. Compute: peer0 publishes a Mandelbrot job split into row bands,
	// stitched by a reduce unit.
	sub := nodes[0]
	mod, err := sub.AddReader(ctx, bytes.NewReader(wasm.Mandelbrot), "mandelbrot.wasm", share.AddOptions{})
	if err != nil {
		return fmt.Errorf("demo: add module: %w", err)
	}
	red, err := sub.AddReader(ctx, bytes.NewReader(wasm.Stitch), "stitch.wasm", share.AddOptions{})
	if err != nil {
		return fmt.Errorf("demo: add module: %w", err)
	}
	// A one-unit job first: its worker compiles the module into the
	// compile cache the peers of this process share, so the split job's
	// units load it compiled (tens of ms) instead of each compiling it.
	t0 = time.Now()
	warm, err := sub.Submitter().Submit(ctx, compute.JobSpec{Module: mod.Root, Args: []string{"-w", "8", "-h", "8", "-iter", "10"}})
	if err == nil {
		_, err = sub.Submitter().Wait(ctx, warm)
	}
	if err != nil {
		return fmt.Errorf("demo: warm-up job: %w", err)
	}
	step("warm-up unit compiled the module into the shared compile cache in %v", time.Since(t0).Round(time.Millisecond))
	spec := compute.JobSpec{
		Module: mod.Root,
		Split:  compute.Split{Kind: compute.SplitRange, N: f.Units, From: 0, To: int64(f.Height)},
		Args:   []string{"-w", fmt.Sprint(f.Width), "-h", fmt.Sprint(f.Height), "-iter", fmt.Sprint(f.Iter)},
		Reduce: red.Root,
	}
	t0 = time.Now()
	id, err := sub.Submitter().Submit(ctx, spec)
	if err != nil {
		return fmt.Errorf("demo: submit: %w", err)
	}
	step("peer0 published job %s: a %dx%d Mandelbrot image in %d units + a stitch reduce", id, f.Width, f.Height, f.Units)
	info, err := sub.Submitter().Wait(ctx, id)
	if err != nil {
		return fmt.Errorf("demo: job %s: %w", id, err)
	}
	if info.State != compute.JobDone {
		return fmt.Errorf("demo: job %s %s: %s", id, info.State, info.Error)
	}
	step("job done in %v", time.Since(t0).Round(time.Millisecond))
	perPeer := map[string]int{}
	for _, u := range info.Units {
		label := fmt.Sprintf("unit %2d", u.Index)
		if u.Reduce {
			label = "reduce "
		}
		for _, r := range u.Receipts {
			perPeer[names[r.Worker]]++
			fmt.Fprintf(stdout, "          %s ran on %-6s in %7v (peak memory %d MiB)\n", label, names[r.Worker],
				r.Took.Round(time.Millisecond), r.PeakMemory>>20)
		}
		for _, fl := range u.Failures {
			fmt.Fprintf(stdout, "          %s retried after: %s\n", label, fl)
		}
	}
	var counts []string
	for _, name := range slices.Sorted(maps.Keys(perPeer)) {
		counts = append(counts, fmt.Sprintf("%s %d", name, perPeer[name]))
	}
	fmt.Fprintf(stdout, "          units per peer: %s\n", strings.Join(counts, ", "))

	out := info.Output()
	r, err := sub.Open(ctx, out)
	if err != nil {
		return fmt.Errorf("demo: read result: %w", err)
	}
	img, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return fmt.Errorf("demo: read result: %w", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		return fmt.Errorf("demo: result is not a PNG: %w", err)
	}
	if cfg.Width != f.Width || cfg.Height != f.Height {
		return fmt.Errorf("demo: result is %dx%d, want %dx%d", cfg.Width, cfg.Height, f.Width, f.Height)
	}
	if err := os.WriteFile(f.Out, img, 0o644); err != nil {
		return fmt.Errorf("demo: write %s: %w", f.Out, err)
	}
	step("wrote %s (%dx%d PNG, %d bytes, CID %s)", f.Out, cfg.Width, cfg.Height, len(img), out)
	return nil
}

// demoCheck reads root back from n and compares it with want.
func demoCheck(ctx context.Context, n *node.Node, root cid.Cid, want []byte) error {
	r, err := n.Blocks().Open(ctx, root)
	if err != nil {
		return fmt.Errorf("demo: read back: %w", err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("demo: read back: %w", err)
	}
	if !bytes.Equal(got, want) {
		return errors.New("demo: fetched bytes differ from the original")
	}
	return nil
}

func providerShares(p share.Progress, names map[peer.ID]string) string {
	if len(p.Providers) == 0 {
		return ""
	}
	s := "; from"
	for _, fp := range p.Providers {
		s += fmt.Sprintf(" %s %.0f%%", names[fp.Peer], 100*fp.Share)
	}
	return s
}

func demoWait(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
