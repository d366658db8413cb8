package sched

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// linkWorker is one worker of a link-rate test: its bid speed, whether it
// holds the unit's input, the link rate its bids state (0: none) and the
// fetch it reports with a warm-up run (bytes, time; 0: none).
type linkWorker struct {
	speed   float64
	holds   bool
	bidLink float64
	fetched int64
	took    time.Duration
}

// linkPlace runs a warm-up job of one unit (no inputs) on each of a and b,
// completed with their fetch reports, then places one unit of cost 1 with
// one input of 125 MB (10 s at the default rate) and returns the worker it
// went to, and the scheduler.
func linkPlace(t *testing.T, cfg Config, a, b linkWorker) (peer.ID, *Scheduler) {
	t.Helper()
	s, err := New(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	ws := map[peer.ID]linkWorker{wa: a, wb: b}
	in := Input{CID: cidOf("input"), Bytes: 125_000_000}
	observe := func(evs ...Event) {
		t.Helper()
		for _, ev := range evs {
			if err := s.Observe(ev); err != nil {
				t.Fatalf("Observe(%#v): %v", ev, err)
			}
		}
	}
	bids := func(job JobID, now time.Time) {
		for _, id := range []peer.ID{wa, wb} {
			w := ws[id]
			// The warm-up bids speed 1, so that one unit goes to each;
			// its Took teaches the worker's speed.
			sp := w.speed
			if job != jobJ {
				sp = 1
			}
			b := BidReceived{Worker: id, Job: job, Slots: 1, FreeSlots: 1, Speed: sp, LinkRate: w.bidLink, At: now}
			if w.holds && job == jobJ {
				b.HasInputs = []cid.Cid{in.CID}
			}
			observe(b)
		}
	}
	observe(discover(wa, wb), JobSubmitted{Job: "warm", Units: []UnitSpec{{EstCost: 1}, {EstCost: 1}}})
	s.Next(at(0))
	bids("warm", at(0))
	placed := 0
	for _, act := range s.Next(at(0)) {
		if a, ok := act.(AssignUnit); ok {
			w := ws[a.Worker]
			took := secs(1 / w.speed)
			observe(UnitCompleted{Unit: a.Unit, Worker: a.Worker, Output: honestOutput(a.Unit), At: at(took), Took: took,
				FetchedBytes: w.fetched, FetchTook: w.took})
			placed++
		}
	}
	if placed != 2 {
		t.Fatalf("warm-up placed %d units, want 2", placed)
	}
	now := at(10 * time.Second)
	observe(JobSubmitted{Job: jobJ, Units: []UnitSpec{{EstCost: 1, Inputs: []Input{in}}}})
	s.Next(now)
	bids(jobJ, now)
	for _, act := range s.Next(now) {
		if a, ok := act.(AssignUnit); ok && a.Unit.Job == jobJ {
			return a.Worker, s
		}
	}
	t.Fatal("the unit was not placed")
	return "", nil
}

// TestLinkRatePlacement pins that the transfer of a unit's missing input
// is predicted at each worker's own link rate, measured from the fetches
// its completed runs report, else as its bid states, else at
// Config.TransferRate. The input is 125 MB; both workers run the unit in
// 1 s at speed 1.
func TestLinkRatePlacement(t *testing.T) {
	const mb = 1_000_000
	fast := linkWorker{speed: 1, fetched: 125 * mb, took: time.Second}       // 125 MB/s: 1 s for the input
	slow := linkWorker{speed: 1, fetched: 125 * mb, took: 100 * time.Second} // 1.25 MB/s: 100 s
	tests := []struct {
		name string
		cfg  Config
		a, b linkWorker
		want peer.ID
	}{
		// At the configured rate both take 10 s + 1 s: a, the lowest ID,
		// would win the tie.
		{name: "measured fast link wins", a: slow, b: fast, want: wb},
		{name: "measured fast link wins either way", a: fast, b: slow, want: wa},
		// a holds it: 1 s. b, 4× faster on a 125 MB/s link: 1 s + 0.25 s.
		{name: "slow-link holder beats a fast link that must fetch", a: with(slow, true, 1), b: with(fast, false, 4), want: wa},
		// b on a 1.25 GB/s link: 0.1 s + 0.25 s beats the holder's 1 s; at
		// the configured rate (10 s + 0.25 s) the holder would win.
		{name: "fast enough link beats the holder", a: with(slow, true, 1),
			b: linkWorker{speed: 4, fetched: 1250 * mb, took: time.Second}, want: wb},
		// The bid's figure stands for an unmeasured worker: b bids
		// 125 MB/s, a bids nothing and is predicted at the default
		// 12.5 MB/s (10 s).
		{name: "bid link rate counts", a: linkWorker{speed: 1}, b: linkWorker{speed: 1, bidLink: 125 * mb}, want: wb},
		// Measured beats bid: b bids 1.25 GB/s but was measured at 1.25 MB/s.
		{name: "measured rate beats the bid", a: linkWorker{speed: 1}, b: linkWorker{speed: 1, bidLink: 1250 * mb, fetched: 125 * mb, took: 100 * time.Second}, want: wa},
		// Unmeasured b goes at Config.TransferRate: 125 MB/s beats a's
		// measured 1.25 MB/s; 1 MB/s (125 s) loses to it (100 s).
		{name: "unmeasured at a fast TransferRate", cfg: Config{NearTie: -1, TransferRate: 125 * mb}, a: slow, b: linkWorker{speed: 1}, want: wb},
		{name: "unmeasured at a slow TransferRate", cfg: Config{NearTie: -1, TransferRate: 1 * mb}, a: linkWorker{speed: 1}, b: slow, want: wb},
		// Ignoring the measured rates, both take 10 s + 1 s: a wins the tie.
		{name: "ignoring link rates", cfg: Config{NearTie: -1, IgnoreLinkRates: true}, a: slow, b: fast, want: wa},
		// A fetch under MinLinkSample measures latency: ignored, b stays at
		// the default rate, as a does.
		{name: "tiny fetch ignored", a: linkWorker{speed: 1}, b: linkWorker{speed: 1, fetched: MinLinkSample - 1, took: 1000 * time.Second}, want: wa},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg == (Config{}) {
				cfg = exact
			}
			if got, _ := linkPlace(t, cfg, tt.a, tt.b); got != tt.want {
				t.Errorf("unit placed on %s, want %s", got, tt.want)
			}
		})
	}
}

func with(w linkWorker, holds bool, speed float64) linkWorker {
	w.holds, w.speed = holds, speed
	return w
}

// TestLinkRateHostile pins that absurd fetch reports and bid rates give a
// link rate within [MinLinkRate, MaxLinkRate] or are ignored, and that the
// unit is still placed.
func TestLinkRateHostile(t *testing.T) {
	tests := []struct {
		name     string
		b        linkWorker
		rate     float64 // b's link rate in the snapshot
		measured bool
	}{
		{"bid NaN", linkWorker{speed: 1, bidLink: math.NaN()}, DefaultTransferRate, false},
		{"bid +Inf", linkWorker{speed: 1, bidLink: math.Inf(1)}, DefaultTransferRate, false},
		{"bid 0", linkWorker{speed: 1, bidLink: 0}, DefaultTransferRate, false},
		{"bid negative", linkWorker{speed: 1, bidLink: -5}, DefaultTransferRate, false},
		{"bid huge", linkWorker{speed: 1, bidLink: 1e300}, MaxLinkRate, false},
		{"bid tiny", linkWorker{speed: 1, bidLink: 1e-300}, MinLinkRate, false},
		{"fetch in a nanosecond", linkWorker{speed: 1, fetched: math.MaxInt64, took: 1}, MaxLinkRate, true},
		{"fetch taking forever", linkWorker{speed: 1, fetched: MinLinkSample, took: math.MaxInt64}, MinLinkRate, true},
		{"fetch of no time", linkWorker{speed: 1, fetched: 1 << 30}, DefaultTransferRate, false},
		{"fetch of negative time", linkWorker{speed: 1, fetched: 1 << 30, took: -time.Second}, DefaultTransferRate, false},
		{"negative bytes", linkWorker{speed: 1, fetched: -1 << 40, took: time.Second}, DefaultTransferRate, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s := linkPlace(t, exact, linkWorker{speed: 1}, tt.b)
			for _, w := range s.Workers() {
				if w.ID != wb {
					continue
				}
				if math.Abs(w.LinkRate-tt.rate) > 1e-9*tt.rate || w.LinkMeasured != tt.measured {
					t.Errorf("link rate %v (measured %v), want %v (%v)", w.LinkRate, w.LinkMeasured, tt.rate, tt.measured)
				}
			}
		})
	}
}

// TestLinkMeter pins the measured rate: bytes over seconds of the recent
// fetches, each weighted by its bytes, older ones decayed by 1-linkWeight.
func TestLinkMeter(t *testing.T) {
	var w LinkMeter
	w.Add(100<<20, time.Second) // 100 MiB/s
	if got, want := w.Rate(), float64(100<<20); got != want {
		t.Fatalf("after one fetch: %v, want %v", got, want)
	}
	// A 1 MiB fetch at 1 MiB/s weighs 1/70 of the decayed 70 MiB: the
	// rate drops to 71 MiB over 1.7 s, not to the mean of the two rates.
	w.Add(1<<20, time.Second)
	if got, want := w.Rate(), float64(71<<20)/1.7; math.Abs(got-want) > 1 {
		t.Fatalf("after a small slow fetch: %v, want %v", got, want)
	}
	// Large slow fetches take over within a few.
	for range 10 {
		w.Add(100<<20, 100*time.Second)
	}
	if got := w.Rate(); got > 1.1*(1<<20) {
		t.Fatalf("after ten slow fetches: %v, want about 1 MiB/s", got)
	}
}

// TestSimLinkRates pins what measured link rates buy: 32 workers (1 or 2
// slots, speed 1 or 2), half of them on links 10× slower than
// Config.TransferRate (1.25 MB/s against 12.5 MB/s), run 512 units of cost
// 10 (5 to 10 s), each with its own 64 MiB input that no worker holds (5.4 s
// to fetch on a fast link, 54 s on a slow one). Predicting every transfer
// at the configured rate, units go to slow links as readily as to fast
// ones; with the rates measured from the workers' fetch reports, or stated
// in their bids, a slow link gets a unit only when the fast workers'
// queues would end later than its transfer and run. Over three seeds the
// makespan with measured rates must be at least 5 % shorter in total and
// never longer, and the bids' rates no worse than measured ones.
func TestSimLinkRates(t *testing.T) {
	var confTotal, measTotal time.Duration
	for _, seed := range []uint64{1, 2, 3} {
		run := func(mode string) (time.Duration, int64) {
			rng := rand.New(rand.NewPCG(seed, 11))
			var workers []*simWorker
			for i := range 32 {
				link := DefaultTransferRate
				if i%2 == 1 {
					link /= 10
				}
				workers = append(workers, &simWorker{
					id: wid(i), slots: 1 + rng.IntN(2), speed: float64(1 + rng.IntN(2)),
					lat: time.Duration(1+rng.IntN(20)) * time.Millisecond, link: link,
					quiet: mode == "configured", bidLink: mode == "bid",
				})
			}
			j := &simJob{id: "job", replicas: 1}
			for i := range 512 {
				in := Input{CID: cidOf(fmt.Sprintf("input %d", i)), Bytes: 64 << 20}
				j.units = append(j.units, UnitSpec{EstCost: 10, Inputs: []Input{in}})
			}
			m := newSim(t, Config{}, seed, workers, []*simJob{j})
			m.run()
			m.fail()
			var slow int64
			for i, w := range workers {
				if i%2 == 1 {
					slow += w.moved
				}
			}
			return m.makespan("job"), slow
		}
		confSpan, confSlow := run("configured")
		measSpan, measSlow := run("measured")
		bidSpan, bidSlow := run("bid")
		t.Logf("seed %d: makespan at the configured rate %v (%d MiB over slow links), measured %v (%d MiB), bid %v (%d MiB)",
			seed, confSpan, confSlow>>20, measSpan, measSlow>>20, bidSpan, bidSlow>>20)
		if confSpan < 0 || measSpan < 0 || bidSpan < 0 {
			t.Fatalf("seed %d: job did not finish", seed)
		}
		if measSpan > confSpan {
			t.Errorf("seed %d: makespan %v with measured link rates, longer than %v at the configured rate", seed, measSpan, confSpan)
		}
		if bidSpan > measSpan {
			t.Errorf("seed %d: makespan %v with the bids' link rates, longer than %v measured", seed, bidSpan, measSpan)
		}
		confTotal += confSpan
		measTotal += measSpan
	}
	if float64(measTotal) > 0.95*float64(confTotal) {
		t.Errorf("makespans with measured link rates sum to %v, not 5 %% under %v at the configured rate", measTotal, confTotal)
	}
}
