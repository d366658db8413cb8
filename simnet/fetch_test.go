package simnet

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
)

// TestFetch fetches a file from four providers with capped uplinks.
func TestFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunFetch(context.Background(), FetchConfig{
			Net: Config{Nodes: 12, Seed: 1}, Providers: 4, Fetchers: 2, FileBytes: 4 << 20,
		})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		rep.WriteTable(&b)
		t.Log("\n" + b.String())
		if len(rep.Results) != 2 {
			t.Fatalf("%d results, want 2", len(rep.Results))
		}
		for _, r := range rep.Results {
			if !r.OK || !r.Correct {
				t.Errorf("fetcher %d: ok %v correct %v err %q", r.Fetcher, r.OK, r.Correct, r.Err)
			}
			sum, used := 0.0, 0
			for _, s := range r.Shares {
				sum += s
				if s > 0 {
					used++
				}
			}
			if sum < 0.98 || sum > 1.02 || used < 2 {
				t.Errorf("fetcher %d: shares %v: sum %.3f over %d providers, want ~1 over >= 2", r.Fetcher, r.Shares, sum, used)
			}
			// Four 20 Mbit/s uplinks shared by two fetchers: the ideal is
			// rep.Ideal; a fetch within 4x of it used several providers.
			if r.Took > 4*rep.Ideal {
				t.Errorf("fetcher %d took %v, ideal %v", r.Fetcher, r.Took, rep.Ideal)
			}
		}
	})
}

// TestFetchLossy fetches over links that drop 1% of packets: QUIC
// retransmits, every byte still arrives intact (slower: at 100-200 ms RTT
// a 1% loss rate caps a connection's congestion window).
func TestFetchLossy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunFetch(context.Background(), FetchConfig{
			Net: Config{Nodes: 12, Seed: 1, Loss: 0.01}, Providers: 4, Fetchers: 2, FileBytes: 2 << 20,
		})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		rep.WriteTable(&b)
		t.Log("\n" + b.String())
		for _, r := range rep.Results {
			if !r.OK || !r.Correct {
				t.Errorf("fetcher %d: ok %v correct %v err %q", r.Fetcher, r.OK, r.Correct, r.Err)
			}
		}
	})
}

func TestDiffBytes(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int64
	}{
		{"equal", "abcd", "abcd", 0},
		{"one flipped", "abcd", "abXd", 1},
		{"shorter", "ab", "abcd", 2},
		{"longer and flipped", "Xbcde", "abcd", 2},
		{"empty", "", "", 0},
	}
	for _, tt := range tests {
		if got := diffBytes([]byte(tt.a), []byte(tt.b)); got != tt.want {
			t.Errorf("%s: diffBytes(%q, %q) = %d, want %d", tt.name, tt.a, tt.b, got, tt.want)
		}
	}
}

// TestFetchChurn makes half the providers leave while a fetch runs (issue
// 5's churn during fetches): the fetch must complete byte-exact from the
// rest and see them leave.
func TestFetchChurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunFetch(context.Background(), FetchConfig{
			Net: Config{Nodes: 10, Seed: 4}, Providers: 4, Fetchers: 1, FileBytes: 4 << 20, Churn: 0.5,
		})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		rep.WriteTable(&b)
		t.Log("\n" + b.String())
		if len(rep.Left) != 2 || rep.Joined != 2 {
			t.Errorf("providers %v left and %d nodes joined, want 2 and 2", rep.Left, rep.Joined)
		}
		for _, r := range rep.Results {
			if !r.OK || !r.Correct || r.BadBytes != 0 {
				t.Errorf("fetcher %d: ok %v correct %v, %d bad bytes, err %q", r.Fetcher, r.OK, r.Correct, r.BadBytes, r.Err)
			}
			if len(r.Left) == 0 {
				t.Errorf("fetcher %d saw no provider leave (left %v during the fetch)", r.Fetcher, rep.Left)
			}
		}
	})
}

// TestFetchSharingBack fetches in three waves from one provider: each
// fetcher shares back what it fetched (share.provide: fetched, the
// default), so each wave finds more providers than the last and, every
// uplink capped alike, fetches faster. Issue 15, "Sharing back".
func TestFetchSharingBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rep, err := RunFetch(context.Background(), FetchConfig{
			Net: Config{Nodes: 14, Seed: 1}, Providers: 1, Fetchers: 6, Waves: 3, FileBytes: 2 << 20,
		})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		rep.WriteTable(&b)
		t.Log("\n" + b.String())
		for _, r := range rep.Results {
			if !r.OK || !r.Correct {
				t.Errorf("fetcher %d: ok %v correct %v err %q", r.Fetcher, r.OK, r.Correct, r.Err)
			}
		}
		if len(rep.Waves) != 3 {
			t.Fatalf("%d waves reported, want 3", len(rep.Waves))
		}
		for i, w := range rep.Waves {
			// Before wave i, the provider and the 2i fetchers of the waves
			// before it provide the file.
			if want := 1 + 2*i; w.Providers < want {
				t.Errorf("wave %d: %d providers found, want >= %d", w.Wave, w.Providers, want)
			}
		}
		if first, last := rep.Waves[0].MeanTook, rep.Waves[2].MeanTook; last >= first {
			t.Errorf("mean fetch time: wave 1 %v, wave 3 %v; want it to fall as providers grow", first, last)
		}
	})
}
