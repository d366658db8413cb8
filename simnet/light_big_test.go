//go:build !race

package simnet

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestLightDHT300 is TestDHT200's workload on 300 light nodes joining over
// 5 s: every steady lookup succeeds, at least 99% under 10% churn, median
// hops within HopBound. ~35 s of CPU; excluded under -race with TestDHT200
// (TestLightDHT runs 40 light nodes under -race).
func TestLightDHT300(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunDHT(context.Background(), DHTConfig{
			Net: Config{Nodes: 300, Seed: 5, Tier: TierLight, JoinSpread: 5 * time.Second}, Settle: 15 * time.Second,
			Keys: 20, FindPeer: 100, FindProviders: 100, Churn: 0.1,
		})
		if err != nil {
			t.Fatal(err)
		}
		checkDHT(t, rep)
	})
}
