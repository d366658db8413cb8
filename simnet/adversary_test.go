package simnet

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestAdversary runs the adversary scenario (issue 5): silent DHT peers,
// providers serving bit-flipped blocks and workers returning wrong outputs.
// Nothing wrong may be accepted (no wrong result, no corrupt byte or block),
// the honest work must still complete, and something must have been caught
// in each category.
func TestAdversary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunAdversary(context.Background(), AdversaryConfig{
			Net: Config{Nodes: 16, Seed: 5, Tier: TierMem}, Settle: 5 * time.Second,
			Keys: 6, Lookups: 15, Units: 20,
		})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		rep.WriteTable(&b)
		t.Log("\n" + b.String())
		c, k := rep.Caught, rep.Checks
		if !k.Correct || k.WrongAccepted != 0 || k.CorruptBytesAccepted != 0 || k.CorruptBlocksStored != 0 {
			t.Errorf("accepted: %d wrong results, %d corrupt bytes, %d corrupt blocks (correct %v); want none",
				k.WrongAccepted, k.CorruptBytesAccepted, k.CorruptBlocksStored, k.Correct)
		}
		if k.LookupsOK != k.Lookups || k.ProvidesOK != k.Provides || k.FetchesOK != k.Fetches || k.Fetches == 0 || k.JobState != "done" {
			t.Errorf("honest work: lookups %d/%d, provides %d/%d, fetches %d/%d, job %s; want all done",
				k.LookupsOK, k.Lookups, k.ProvidesOK, k.Provides, k.FetchesOK, k.Fetches, k.JobState)
		}
		if c.Droppers == 0 || c.DroppersAsked == 0 || c.Unanswered == 0 {
			t.Errorf("dht: %d droppers, %d asked, %d requests unanswered; want some of each", c.Droppers, c.DroppersAsked, c.Unanswered)
		}
		if c.CorruptProviders == 0 || c.CorruptBlocks == 0 || c.CorruptDropped == 0 {
			t.Errorf("fetch: %d corrupt providers, %d blocks spoiled, %d dropped; want some of each",
				c.CorruptProviders, c.CorruptBlocks, c.CorruptDropped)
		}
		if c.Liars == 0 || c.LiarsOutvoted == 0 || c.HonestOutvoted != 0 {
			t.Errorf("compute: %d liars, %d outvoted, honest workers outvoted %d times; want liars outvoted, no honest one",
				c.Liars, c.LiarsOutvoted, c.HonestOutvoted)
		}
	})
}
