// Command swarm measures the foundation of enxame on loopback: how long
// `enxame daemon` takes to be ready, the idle RSS of a daemon connected to N
// peers, and FindPeer latency and peers queried in an N-node swarm.
//
//	go run ./bench/swarm -nodes 20
//
// With -bin it also starts the real binary (go build -o /tmp/enxame . first)
// for the ready-time and RSS figures; without it, it builds one.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/enxame/enxame/internal/benchutil"
	"github.com/enxame/enxame/node"
	"github.com/libp2p/go-libp2p/core/peer"
)

func main() {
	nodes := flag.Int("nodes", 20, "swarm size")
	readyRuns := flag.Int("ready-runs", 5, "daemon starts to time")
	settle := flag.Duration("settle", 10*time.Second, "idle time before reading the daemon's RSS")
	bin := flag.String("bin", "", "enxame binary (default: build one)")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *nodes, *readyRuns, *settle, *bin, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "swarm:", err)
		os.Exit(1)
	}
}

// daemonArgs are the flags of every daemon the benchmark starts (compute
// on: the idle RSS figure includes its sandbox children).
var daemonArgs = []string{"--listen", benchutil.TCP, "--listen", "/ip4/127.0.0.1/udp/0/quic-v1"}

func run(ctx context.Context, n, readyRuns int, settle time.Duration, bin string, seed uint64) error {
	tmp, err := os.MkdirTemp("", "enxame-bench-swarm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		if bin, err = benchutil.BuildEnxame(ctx, tmp); err != nil {
			return err
		}
	}

	// 1. Time from exec of `enxame daemon` to its "ready" line.
	var wall, self []time.Duration
	for i := range readyRuns {
		d, err := benchutil.StartDaemon(ctx, bin, filepath.Join(tmp, fmt.Sprintf("ready%d", i)), daemonArgs...)
		if err != nil {
			return err
		}
		wall = append(wall, d.Wall)
		self = append(self, d.Self)
		d.Stop()
	}
	fmt.Printf("daemon start to ready (%d runs, fresh home each, includes init): exec→ready median %v (min %v max %v); as printed median %v\n",
		readyRuns, benchutil.Median(wall), slices.Min(wall), slices.Max(wall), benchutil.Median(self))
	d, err := benchutil.StartDaemon(ctx, bin, filepath.Join(tmp, "ready-again"), daemonArgs...)
	if err == nil {
		d.Stop()
		d, err = benchutil.StartDaemon(ctx, bin, filepath.Join(tmp, "ready-again"), daemonArgs...)
	}
	if err != nil {
		return err
	}
	d.Stop()
	fmt.Printf("daemon start to ready on an existing home: exec→ready %v; as printed %v\n", d.Wall, d.Self)

	// 2. An N-node swarm in this process, bootstrapped like the integration
	// test: each node from one random earlier node.
	rng := rand.New(rand.NewPCG(seed, 0))
	nodes := benchutil.NewNodes(ctx, nil)
	defer nodes.Close()
	for i := range n {
		cfg := benchutil.LoopbackConfig()
		cfg.Compute.Disabled = true // no sandbox children for 20 in-process peers
		if i > 0 {
			cfg.Bootstrap = nodes.All()[rng.IntN(i)].Addrs()[:1]
		}
		if _, err := nodes.Start(fmt.Sprintf("node %d", i), cfg, node.Deps{}); err != nil {
			return err
		}
	}
	swarm := nodes.All()
	if err := benchutil.WaitFor(ctx, 20*time.Second, "the swarm to join", func() bool {
		for _, nd := range swarm[1:] {
			if nd.Router().TableSize() == 0 {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("swarm did not join: %w", err)
	}

	// 3. FindPeer between every pair, after closing any direct connection so
	// that each lookup really walks the DHT.
	var took []time.Duration
	var queried []int
	fails := 0
	for i, a := range swarm {
		for j, b := range swarm {
			if i == j {
				continue
			}
			a.Host().Network().ClosePeer(b.Host().ID())
			lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
			res, err := a.Router().FindPeer(lctx, b.Host().ID())
			lcancel()
			if err != nil || res.Peer.ID != b.Host().ID() {
				fails++
				continue
			}
			took = append(took, res.Took)
			queried = append(queried, res.Queried)
		}
	}
	slices.Sort(took)
	slices.Sort(queried)
	fmt.Printf("FindPeer in a %d-node loopback swarm (%d lookups, direct connection closed first): p50 %v p95 %v p99 %v max %v; peers queried p50 %d p95 %d max %d; failures %d\n",
		n, len(took), pct(took, 50), pct(took, 95), pct(took, 99), took[len(took)-1],
		pct(queried, 50), pct(queried, 95), queried[len(queried)-1], fails)

	// 4. Idle RSS of a real daemon connected to every node of the swarm.
	d, err = benchutil.StartDaemon(ctx, bin, filepath.Join(tmp, "rss"), daemonArgs...)
	if err != nil {
		return err
	}
	defer d.Stop()
	ai, err := peer.AddrInfoFromString(d.Addr)
	if err != nil {
		return err
	}
	for _, nd := range swarm {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		err := nd.Host().Connect(cctx, *ai)
		ccancel()
		if err != nil {
			return fmt.Errorf("connect to daemon: %w", err)
		}
	}
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	conns := 0
	for _, nd := range swarm {
		if nd.Host().Network().Connectedness(ai.ID) == 1 {
			conns++
		}
	}
	rss, hwm := benchutil.RSS(d.Cmd.Process.Pid)
	// Children hang off whichever thread started them.
	var kids []string
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", d.Cmd.Process.Pid))
	for _, tf := range tasks {
		if data, err := os.ReadFile(tf); err == nil {
			kids = append(kids, strings.Fields(string(data))...)
		}
	}
	var kidRSS float64
	for _, k := range kids {
		pid, _ := strconv.Atoi(k)
		r, _ := benchutil.RSS(pid)
		kidRSS += r
	}
	fmt.Printf("idle daemon connected to %d peers (after %v): RSS %.1f MiB (peak %.1f MiB); its %d idle sandbox children %.1f MiB in all\n",
		conns, settle, rss, hwm, len(kids), kidRSS)
	return nil
}

func pct[T any](sorted []T, p int) T {
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i]
}
