package simnet

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestFetchMultiSourceRate checks issue 3's multi-source goal in virtual
// time, where CPU starvation cannot skew it: one fetcher, four providers in
// other regions whose uplinks are each capped at B, and the fetcher's own
// link wide enough for all four. The fetch, from the moment it starts to
// the last byte (finding the providers in the DHT and the QUIC handshakes
// included), must run at ≥ 0.8 × 4 × B.
func TestFetchMultiSourceRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const providerBps = 20_000_000
		rep, err := RunFetch(context.Background(), FetchConfig{
			Net:       Config{Nodes: 10, Seed: 3, BitsPerSecond: 200_000_000},
			Providers: 4, Fetchers: 1, FileBytes: 48 << 20,
			ProviderBitsPerSecond: providerBps,
		})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		rep.WriteTable(&b)
		t.Log("\n" + b.String())
		if len(rep.Results) != 1 {
			t.Fatalf("%d results, want 1", len(rep.Results))
		}
		r := rep.Results[0]
		if !r.OK || !r.Correct {
			t.Fatalf("fetch: ok %v correct %v err %q", r.OK, r.Correct, r.Err)
		}
		goal := 0.8 * 4 * providerBps / 8 // bytes per second
		got := float64(rep.FileBytes) / r.Took.Seconds()
		t.Logf("fetched %d MiB in %v of virtual time: %.1f MB/s; goal 0.8 × 4 × B = %.1f MB/s; ideal %v",
			rep.FileBytes>>20, r.Took.Round(time.Millisecond), got/1e6, goal/1e6, rep.Ideal.Round(time.Millisecond))
		if got < goal {
			t.Errorf("multi-source fetch ran at %.1f MB/s, want ≥ %.1f MB/s (0.8 × 4 × B)", got/1e6, goal/1e6)
		}
		for i, s := range r.Shares {
			if s < 0.125 {
				t.Errorf("provider %d served %.3f of the bytes, want each of 4 equal providers to serve ≥ 0.125", i, s)
			}
		}
	})
}
