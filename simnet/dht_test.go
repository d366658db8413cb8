package simnet

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// checkDHT holds a report to the bars: every lookup succeeds on a
// steady network, at least 99% under churn, and the median hop count stays
// within HopBound.
func checkDHT(t *testing.T, rep DHTReport) {
	t.Helper()
	var b strings.Builder
	rep.WriteTable(&b)
	t.Log("\n" + b.String())
	for _, s := range []LookupStats{rep.Provide, rep.FindPeer, rep.FindProviders} {
		if s.Attempts == 0 || s.Success != 1 {
			t.Errorf("%s: %d/%d succeeded, want all (errors %v)", s.Kind, s.OK, s.Attempts, s.Errors)
		}
	}
	if rep.Churn > 0 {
		if rep.Left == 0 || rep.Joined != rep.Left {
			t.Errorf("churn: %d left, %d joined", rep.Left, rep.Joined)
		}
		for _, s := range []LookupStats{rep.ChurnFindPeer, rep.ChurnFindProviders} {
			if s.Attempts == 0 || s.Success < 0.99 {
				t.Errorf("churn %s: %d/%d succeeded, want >= 99%% (errors %v)", s.Kind, s.OK, s.Attempts, s.Errors)
			}
		}
	}
	for _, s := range []LookupStats{rep.FindPeer, rep.FindProviders, rep.ChurnFindPeer, rep.ChurnFindProviders} {
		if s.Hops.P50 > rep.HopBound {
			t.Errorf("%s: median hops %d > bound %d", s.Kind, s.Hops.P50, rep.HopBound)
		}
	}
	if rep.TableSize.Min == 0 {
		t.Errorf("a live node has an empty routing table: %+v", rep.TableSize)
	}
}

// TestDHTSmall runs the dht scenario with churn on a small network; it is
// the size that fits under -race (the 200-node run is in dht_big_test.go).
func TestDHTSmall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunDHT(context.Background(), DHTConfig{
			Net: Config{Nodes: 20, Seed: 7}, Settle: 5 * time.Second,
			Keys: 8, FindPeer: 25, FindProviders: 25, Churn: 0.1,
		})
		if err != nil {
			t.Fatal(err)
		}
		checkDHT(t, rep)
	})
}

// TestDHTSameSeedSameWorkload checks that a seed fixes the network and the
// workload: two runs place the same nodes, provide the same keys and run
// the same number of lookups with the same outcome.
func TestDHTSameSeedSameWorkload(t *testing.T) {
	run := func() DHTReport {
		var rep DHTReport
		synctest.Test(t, func(t *testing.T) {
			var err error
			rep, err = RunDHT(context.Background(), DHTConfig{
				Net: Config{Nodes: 10, Seed: 42, Regions: []Region{EU, Asia}}, Settle: 5 * time.Second,
				Keys: 4, FindPeer: 10, FindProviders: 10,
			})
			if err != nil {
				t.Fatal(err)
			}
		})
		return rep
	}
	a, b := run(), run()
	opts := cmp.Options{
		cmpopts.IgnoreFields(DHTReport{}, "Wall", "HeapMiB", "SysMiB", "Goroutes", "Phases", "Virtual"),
		// Latencies and hop counts depend on which concurrent reply is
		// handled first, which the Go scheduler decides.
		cmpopts.IgnoreFields(LookupStats{}, "Latencies", "Latency", "Hops", "Queried", "Local"),
		cmpopts.IgnoreFields(IntDist{}, "Mean"),
	}
	if d := cmp.Diff(a, b, opts); d != "" {
		t.Errorf("two runs with seed 42 differ (-first +second):\n%s", d)
	}
}

// TestDHTDroppers is the adversary scenario's DHT part: a fifth of the nodes
// keep their place in every routing table but swallow every query. Lookups
// from honest nodes must still all succeed (kad-dht queries alpha peers at
// once and routes around the silent ones), only slower.
// Light nodes keep silent peers in their tables too.
func TestDHTDroppers(t *testing.T) {
	for _, tier := range []string{TierFull, TierLight} {
		t.Run(tier, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rep, err := RunDHT(context.Background(), DHTConfig{
					Net: Config{Nodes: 30, Seed: 3, Tier: tier}, Settle: 5 * time.Second,
					Keys: 8, FindPeer: 25, FindProviders: 25, Droppers: 0.2,
				})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Droppers != 6 {
					t.Errorf("%d droppers, want 6", rep.Droppers)
				}
				if rep.DroppersAsked == 0 || rep.Unanswered == 0 {
					t.Errorf("%d droppers asked, %d requests unanswered; want some", rep.DroppersAsked, rep.Unanswered)
				}
				checkDHT(t, rep)
			})
		})
	}
}

// TestDHTMem runs the dht scenario with churn on whole nodes of the mem
// tier (mocknet hosts): the same bars as the full tier.
func TestDHTMem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunDHT(context.Background(), DHTConfig{
			Net: Config{Nodes: 30, Seed: 7, Tier: TierMem}, Settle: 5 * time.Second,
			Keys: 8, FindPeer: 30, FindProviders: 30, Churn: 0.1,
		})
		if err != nil {
			t.Fatal(err)
		}
		checkDHT(t, rep)
		if rep.Tier != TierMem || rep.Dials == 0 {
			t.Errorf("tier %q, %d dials", rep.Tier, rep.Dials)
		}
	})
}
