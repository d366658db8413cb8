//go:build !race

package simnet

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestDHT200 is the 200-node dht scenario: 200 real nodes join
// through 3 bootstrap peers, 50 keys are provided, 100 FindPeer and 100
// FindProviders lookups run on the steady network, then 100 + 100 more
// while 10% of the nodes leave and are replaced by new ones. Every steady
// lookup must succeed, at least 99% under churn, with median hops within
// HopBound. It is excluded under -race: the race detector multiplies the
// ~150 s of CPU the 200 nodes' joining costs by 5-10 (TestDHTSmall runs the
// same checks on 20 nodes under -race).
func TestDHT200(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunDHT(context.Background(), DHTConfig{
			Net: Config{Nodes: 200, Seed: 1}, Settle: 10 * time.Second,
			Keys: 50, FindPeer: 100, FindProviders: 100, Churn: 0.1,
		})
		if err != nil {
			t.Fatal(err)
		}
		checkDHT(t, rep)
	})
}

// TestCompute1000On50 is the compute scenario: 1000 units of 10 s
// (on a speed-1 worker) on 50 heterogeneous workers (1, 2 or 4 slots; speed
// 0.5, 1 or 2), every result correct, makespan within 15% of the lower
// bound (measured 1.10 with seed 1; against the bound of whole units, which
// no schedule can beat, 1.014). Excluded under -race with TestDHT200
// (TestComputeSmall runs under -race).
func TestCompute1000On50(t *testing.T) {
	rep := runComputeTest(t, ComputeConfig{Net: Config{Seed: 1}, Workers: 50, Units: 1000})
	if rep.State != "done" || rep.WrongAccepted != 0 {
		t.Fatalf("job %s (%s), %d wrong results accepted", rep.State, rep.Error, rep.WrongAccepted)
	}
	t.Logf("makespan %v, lower bound %v, ratio %.3f (goal 1.15)", rep.Makespan, rep.Bound, rep.Ratio)
	if rep.Ratio > 1.15 {
		t.Errorf("makespan %v is %.3fx the lower bound %v, want <= 1.15", rep.Makespan, rep.Ratio, rep.Bound)
	}
}

// TestDHTMem200 is TestDHT200 on whole nodes of the mem tier (mocknet
// hosts): the same checks for ~60 s of CPU where the full tier takes ~150 s
// (TestDHTMem runs 30 nodes under -race).
func TestDHTMem200(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunDHT(context.Background(), DHTConfig{
			Net: Config{Nodes: 200, Seed: 1, Tier: TierMem}, Settle: 10 * time.Second,
			Keys: 50, FindPeer: 100, FindProviders: 100, Churn: 0.1,
		})
		if err != nil {
			t.Fatal(err)
		}
		checkDHT(t, rep)
	})
}
