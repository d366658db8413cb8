package simnet

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
)

// TestLocality is the data-locality figure in small: 8 inputs of 64 MiB
// (scaled) on 8 workers, one each, with the scheduler's locality on and
// off. With it, at least 3× fewer bytes move and the makespan is no worse
// (within 5 %: the run without locality is a different schedule on a
// network with its own timings). `enxame simnet --scenario locality`
// gives the full figure (64 inputs on 64 workers).
func TestLocality(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep := localityReport(t, LocalityConfig{Net: Config{Seed: 1}, Workers: 8, Inputs: 8})
		if rep.On.Moved*3 > rep.Off.Moved {
			t.Errorf("moved %d inputs with locality, %d without: want at least 3× fewer", rep.On.Moved, rep.Off.Moved)
		}
		if rep.On.Makespan > rep.Off.Makespan+rep.Off.Makespan/10 {
			t.Errorf("makespan %v with locality, worse than %v without", rep.On.Makespan, rep.Off.Makespan)
		}
	})
}

// TestLinkRates is the link-rate figure in small: 8 workers, half of them
// on links 10× slower, run 32 units whose 64 MiB inputs (scaled) sit on
// the submitter, with the link rates the scheduler measures from the
// workers' fetch reports and with the configured rate for every worker.
// Through the real worker, protocol and submitter, the scheduler measures
// each kind of link within 2× of its modelled rate (100 and 10 Mbit/s),
// and the makespan with the measured rates is no worse (within 10 %: each
// run is a schedule of its own on a network with its own timings, ±5 %
// seen either way; the scheduler's simulator pins the gain,
// TestSimLinkRates in compute/sched).
// `enxame simnet --scenario locality --slow-links 10` gives the full
// figure (64 workers).
func TestLinkRates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep := localityReport(t, LocalityConfig{Net: Config{Seed: 1}, Workers: 8, SlowLinks: 10})
		if !rep.On.LinkRates || rep.Off.LinkRates || rep.Inputs != 32 {
			t.Fatalf("report %+v: want On measured, Off not", rep)
		}
		if r := rep.On; r.FastMbps < 50 || r.FastMbps > 200 || r.SlowMbps < 5 || r.SlowMbps > 20 {
			t.Errorf("measured %.1f Mbit/s on fast links, %.1f on slow ones: want within 2× of 100 and 10", r.FastMbps, r.SlowMbps)
		}
		if rep.On.Makespan > rep.Off.Makespan+rep.Off.Makespan/10 {
			t.Errorf("makespan %v with measured link rates, worse than %v without", rep.On.Makespan, rep.Off.Makespan)
		}
	})
}

// localityReport runs the scenario, logs its table and fails the test unless
// both of its jobs are done.
func localityReport(t *testing.T, cfg LocalityConfig) LocalityReport {
	t.Helper()
	rep, err := RunLocality(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.WriteTable(&b)
	t.Log("\n" + b.String())
	for _, r := range []LocalityRun{rep.On, rep.Off} {
		if r.State != "done" {
			t.Fatalf("job with locality %v, measured link rates %v: %s (%s)", r.Locality, r.LinkRates, r.State, r.Error)
		}
	}
	return rep
}
