// Package lab runs the real enxame binary in a network lab of namespaces
// (internal/netlabtest): public peers on distinct global /16s and peers behind
// Linux NAT routers. It needs root and fails, never skips, without it.
package lab

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/internal/netlabtest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node/control"
)

// bin is the enxame binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "enxame-lab-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "enxame")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/enxame/enxame")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "lab: build enxame:", err)
		return 1
	}
	return m.Run()
}

// peer is one daemon in the lab.
type peer struct {
	t    *testing.T
	host *netlabtest.Host
	home string
	id   string
	proc *netlabtest.Proc
	// started is when the daemon was started.
	started time.Time
}

const port = "4100"

// addr is the peer's TCP multiaddr as the internet sees a public peer.
func (p *peer) addr() string {
	return "/ip4/" + p.host.IP + "/tcp/" + port + "/p2p/" + p.id
}

func env(t *testing.T) []string {
	e := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	if v := os.Getenv("ENXAME_LIBP2P_LOG_LEVEL"); v != "" {
		e = append(e, "ENXAME_LIBP2P_LOG_LEVEL="+v)
	}
	return e
}

// startPeer starts `enxame daemon` in h on the default port, a worker
// with two slots when compute is set, and waits for its ready line.
func startPeer(t *testing.T, h *netlabtest.Host, compute bool, bootstrap ...string) *peer {
	t.Helper()
	p := &peer{t: t, host: h, home: t.TempDir(), started: time.Now()}
	args := []string{"daemon", "--home", p.home, "--json", "--no-mdns", "--no-port-map",
		"--listen", "/ip4/0.0.0.0/tcp/" + port, "--listen", "/ip4/0.0.0.0/udp/" + port + "/quic-v1"}
	if compute {
		args = append(args, "--compute-slots", "2")
	} else {
		args = append(args, "--no-compute")
	}
	for _, b := range bootstrap {
		args = append(args, "--bootstrap", b)
	}
	if v := os.Getenv("ENXAME_LAB_LOG_LEVEL"); v != "" { // debug a lab run
		args = append(args, "--log-level", v)
	}
	p.proc = h.Start(env(t), bin, args...)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("ENXAME_LAB_LOG_LEVEL") != "" {
			t.Logf("daemon %s (%s) output:\n%s", h.Name, h.IP, p.proc.Output())
		}
	})
	waittest.For(t, "daemon "+h.Name+" ready", func() bool {
		select {
		case <-p.proc.Done():
			t.Fatalf("daemon %s exited:\n%s", h.Name, p.proc.Output())
		default:
		}
		sc := bufio.NewScanner(strings.NewReader(p.proc.Output()))
		for sc.Scan() {
			var ev struct {
				Event  string `json:"event"`
				PeerID string `json:"peer_id"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == "ready" {
				p.id = ev.PeerID
				return true
			}
		}
		return false
	})
	return p
}

// cli runs an enxame command against p's daemon (through its API socket,
// from the root namespace) and returns stdout.
func (p *peer) cli(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"--home", p.home}, args...)...)
	cmd.Env = env(p.t)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("enxame %v: %w: %s", args, err, errb.String())
	}
	return out.Bytes(), nil
}

func (p *peer) json(v any, args ...string) error {
	ctx, cancel := context.WithTimeout(p.t.Context(), 30*time.Second)
	defer cancel()
	out, err := p.cli(ctx, append(args, "--json")...)
	if err != nil {
		return err
	}
	return json.Unmarshal(out, v)
}

// swarm is five public peers and NAT'd peers bootstrapped to all of them.
type swarm struct {
	pub []*peer
	nat []*peer
}

// natPeer is a NAT'd peer to build: the kind of its NAT and whether it
// works units.
type natPeer struct {
	kind    string
	compute bool
}

// buildSwarm starts five public peers (no compute: units must go to NAT'd
// workers) and the NAT'd peers of nats.
func buildSwarm(t *testing.T, lab *netlabtest.Lab, nats ...natPeer) swarm {
	t.Helper()
	var s swarm
	for i := range 5 {
		h := lab.AddPublic(fmt.Sprintf("p%d", i+1))
		var boot []string
		if i > 0 {
			boot = []string{s.pub[0].addr()}
		}
		s.pub = append(s.pub, startPeer(t, h, false, boot...))
	}
	// NAT'd peers know both transports of every public peer, so that
	// peers observe them over TCP and QUIC and DCUtR can punch either.
	var boot []string
	for _, p := range s.pub {
		boot = append(boot, p.addr(), "/ip4/"+p.host.IP+"/udp/"+port+"/quic-v1/p2p/"+p.id)
	}
	for i, np := range nats {
		h := lab.AddNAT(fmt.Sprintf("n%d", i+1), np.kind)
		s.nat = append(s.nat, startPeer(t, h, np.compute, boot...))
	}
	return s
}

// awaitBehindNAT waits until p knows it is private, runs the DHT as a
// client and advertises a relay address; it returns how long after its
// start each came.
func awaitBehindNAT(t *testing.T, p *peer) (private, relayed time.Duration) {
	t.Helper()
	waittest.For(t, p.host.Name+" private, DHT client and a relay address", func() bool {
		var st control.Status
		if err := p.json(&st, "status"); err != nil {
			t.Logf("status %s: %v", p.host.Name, err)
			return false
		}
		if st.Reachability == "private" && private == 0 {
			private = time.Since(p.started)
		}
		var id control.ID
		if err := p.json(&id, "id"); err != nil {
			return false
		}
		for _, a := range id.Addrs {
			if strings.Contains(a, "/p2p-circuit") && relayed == 0 {
				relayed = time.Since(p.started)
			}
		}
		return st.Reachability == "private" && st.DHTMode == "client" && relayed > 0
	})
	return private, relayed
}

// fetch runs `enxame get` on p and returns the time to the first byte and
// to completion.
func fetch(t *testing.T, p *peer, c, out string) (ttfb, total time.Duration) {
	t.Helper()
	ttfb, total, _ = fetchWatch(t, p, c, out, nil)
	return ttfb, total
}

// fetchWatch is fetch calling onEvent (when not nil) with every progress
// event as it arrives; it returns the last event too.
func fetchWatch(t *testing.T, p *peer, c, out string, onEvent func(control.FetchEvent)) (ttfb, total time.Duration, last control.FetchEvent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--home", p.home, "get", c, "-o", out, "--json", "--timeout", "120s")
	cmd.Env = env(t)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var ev control.FetchEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ttfb == 0 && ev.BytesDone > 0 {
			ttfb = time.Since(start)
		}
		if onEvent != nil {
			onEvent(ev)
		}
		last = ev
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("get %s on %s: %v: %s (last event %+v)", c, p.host.Name, err, errb.String(), last)
	}
	return ttfb, time.Since(start), last
}

// checkFile fails the test unless path holds size bytes hashing to want.
func checkFile(t *testing.T, path string, size int, want [32]byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != size || sha256.Sum256(got) != want {
		t.Fatalf("%s: %d bytes, not byte-exact (want %d bytes of sha256 %x)", path, len(got), size, want[:6])
	}
}

// jobEvent is one line of `compute run --json`.
type jobEvent struct {
	Job    string `json:"job"`
	Unit   int    `json:"unit"`
	Kind   string `json:"event"`
	Worker string `json:"worker"`
	Detail string `json:"detail"`
}

// primesJob is the lab's job: the primes below 2,000,000 counted in four
// units and added up by a reduce unit; the answer is known.
const (
	primesRange = "0:2000000/4"
	primesWant  = "count\t148933"
)

// runJob runs `compute run MODULE ARGS... --json` on p, calls onEvent
// (when not nil) with each event, and returns the job's result (from
// `compute result`), its events and how long it took.
func runJob(t *testing.T, p *peer, onEvent func(jobEvent), args ...string) (result string, events []jobEvent, took time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 240*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--home", p.home, "compute", "run", "--json"}, args...)...)
	cmd.Env = env(t)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var ev jobEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Kind == "" {
			continue
		}
		if onEvent != nil {
			onEvent(ev)
		}
		events = append(events, ev)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("compute run on %s: %v: %s (events %+v)", p.host.Name, err, errb.String(), events)
	}
	took = time.Since(start)
	if len(events) == 0 {
		t.Fatalf("compute run on %s printed no events", p.host.Name)
	}
	out, err := p.cli(ctx, "compute", "result", events[0].Job)
	if err != nil {
		t.Fatalf("compute result on %s: %v", p.host.Name, err)
	}
	return strings.TrimSpace(string(out)), events, took
}

// workersOf lists the workers whose output was accepted, by unit.
func workersOf(events []jobEvent) map[int]string {
	done := map[int]string{}
	for _, ev := range events {
		if ev.Kind == "done" && ev.Worker != "" {
			done[ev.Unit] = ev.Worker
		}
	}
	return done
}

// addFile writes size random bytes, adds them on p and returns the CID
// and the bytes' hash.
func addFile(t *testing.T, p *peer, size int) (string, [32]byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	out, err := p.cli(ctx, "add", path)
	if err != nil {
		t.Fatalf("add on %s: %v", p.host.Name, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "added":
			return f[1], sha256.Sum256(data)
		case len(f) == 1: // not a terminal: the CID alone
			return f[0], sha256.Sum256(data)
		}
	}
	t.Fatalf("add printed no CID: %q", out)
	return "", [32]byte{}
}

// pathTo is the path `enxame peers` reports for the connection of p to id.
func pathTo(t *testing.T, p *peer, id string) (path, addr string) {
	t.Helper()
	var peers []control.Peer
	if err := p.json(&peers, "peers"); err != nil {
		t.Fatalf("peers on %s: %v", p.host.Name, err)
	}
	for _, c := range peers {
		if c.ID == id {
			return c.Path, c.Addr
		}
	}
	return "", ""
}

// natToNAT is scenarios 1 and 2: n1 fetches 8 MiB added behind n2, the
// worker; n1 works no units.
func natToNAT(t *testing.T, kind2 string, wantPaths ...string) swarm {
	lab := netlabtest.New(t)
	s := buildSwarm(t, lab, natPeer{kind: netlabtest.PortPreserving}, natPeer{kind: kind2, compute: true})
	n1, n2 := s.nat[0], s.nat[1]
	for _, p := range s.nat {
		priv, rel := awaitBehindNAT(t, p)
		var id control.ID
		_ = p.json(&id, "id")
		t.Logf("FIGURE %s: %s private after %s, relay address after %s; addrs %v", t.Name(), p.host.Name, priv.Round(time.Millisecond), rel.Round(time.Millisecond), id.Addrs)
	}
	const size = 8 << 20
	c, want := addFile(t, n2, size)
	ready := time.Now()
	out := filepath.Join(t.TempDir(), "got")
	ttfb, total := fetch(t, n1, c, out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != size || sha256.Sum256(got) != want {
		t.Fatalf("fetched %d bytes, hash mismatch or short; want %d byte-exact", len(got), size)
	}
	path, addr := pathTo(t, n1, n2.id)
	t.Logf("FIGURE %s: NAT-to-NAT fetch of 8 MiB: first byte %s, done in %s (%.1f MB/s), %s after both peers ready; path %s via %s",
		t.Name(), ttfb.Round(time.Millisecond), total.Round(time.Millisecond), float64(size)/total.Seconds()/1e6,
		time.Since(ready).Round(time.Millisecond), path, addr)
	if !slices.Contains(wantPaths, path) {
		t.Errorf("connection n1 -> n2 path = %q (%s), want one of %v", path, addr, wantPaths)
	}
	// A job from a public peer, then one from n1, both with n2 as the
	// only worker: from p1 the units go over n2's own connection out, from
	// n1 over the path the fetch took.
	primes, sum := examplestest.Build(t, "primes"), examplestest.Build(t, "sum")
	for _, sub := range []*peer{s.pub[0], n1} {
		res, events, took := runJob(t, sub, nil, primes, "--range", primesRange, "--reduce", sum)
		if res != primesWant {
			t.Errorf("job from %s: result %q, want %q", sub.host.Name, res, primesWant)
		}
		ws := workersOf(events)
		for u, w := range ws {
			if w != n2.id {
				t.Errorf("job from %s: unit %d ran on %s, want n2 (%s), the only worker", sub.host.Name, u, w, n2.id)
			}
		}
		if len(ws) != 5 {
			t.Errorf("job from %s: %d units done, want 5 (4 + reduce): %+v", sub.host.Name, len(ws), events)
		}
		path, addr := pathTo(t, sub, n2.id)
		t.Logf("FIGURE %s: job from %s (5 units on n2 behind NAT): verified result in %s; path %s via %s",
			t.Name(), sub.host.Name, took.Round(time.Millisecond), path, addr)
	}
	return s
}

// throughput adds size bytes on from, fetches them on to, checks them and
// returns MB/s of the fetch.
func throughput(t *testing.T, from, to *peer, size int) float64 {
	t.Helper()
	c, want := addFile(t, from, size)
	out := filepath.Join(t.TempDir(), "got")
	_, total := fetch(t, to, c, out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != size || sha256.Sum256(got) != want {
		t.Fatalf("%s -> %s: fetched %d bytes, not byte-exact (want %d)", from.host.Name, to.host.Name, len(got), size)
	}
	return float64(size) / total.Seconds() / 1e6
}
