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
