package simnet

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const ms1 = time.Millisecond

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want Dist
	}{
		{"empty", nil, Dist{}},
		{"one", []time.Duration{5 * ms1}, Dist{N: 1, Min: 5 * ms1, P50: 5 * ms1, P95: 5 * ms1, P99: 5 * ms1, Max: 5 * ms1}},
		{"unsorted", []time.Duration{4 * ms1, 1 * ms1, 3 * ms1, 2 * ms1}, Dist{N: 4, Min: ms1, P50: 2 * ms1, P95: 4 * ms1, P99: 4 * ms1, Max: 4 * ms1}},
		{"hundred", func() []time.Duration {
			var s []time.Duration
			for i := 100; i >= 1; i-- {
				s = append(s, time.Duration(i)*ms1)
			}
			return s
		}(), Dist{N: 100, Min: ms1, P50: 50 * ms1, P95: 95 * ms1, P99: 99 * ms1, Max: 100 * ms1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, Summarize(tc.in)); d != "" {
				t.Errorf("Summarize (-want +got):\n%s", d)
			}
		})
	}
}

func TestSummarizeInts(t *testing.T) {
	got := SummarizeInts([]int{3, 1, 2, 10})
	want := IntDist{N: 4, Min: 1, P50: 2, P95: 10, Max: 10, Mean: 4}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("SummarizeInts (-want +got):\n%s", d)
	}
	if d := cmp.Diff(IntDist{}, SummarizeInts(nil)); d != "" {
		t.Errorf("SummarizeInts(nil): %s", d)
	}
}

func TestHopBound(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{2, 2}, {20, 6}, {200, 9}, {1000, 11}, {10000, 15}} {
		if got := HopBound(tc.n); got != tc.want {
			t.Errorf("HopBound(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestPairLatency(t *testing.T) {
	for _, tc := range []struct {
		a, b   Region
		i, j   int
		spread time.Duration
		lo, hi time.Duration
	}{
		{EU, EU, 1, 2, 0, 8 * ms1, 8 * ms1},
		{EU, Asia, 1, 2, 0, 110 * ms1, 110 * ms1},
		{Asia, EU, 2, 1, 0, 110 * ms1, 110 * ms1},
		{USEast, USWest, 3, 9, 10 * ms1, 35 * ms1, 45 * ms1},
	} {
		got := PairLatency(tc.a, tc.b, tc.i, tc.j, tc.spread)
		if got < tc.lo || got > tc.hi {
			t.Errorf("PairLatency(%s,%s,%d,%d) = %v, want in [%v, %v]", tc.a, tc.b, tc.i, tc.j, got, tc.lo, tc.hi)
		}
		if back := PairLatency(tc.b, tc.a, tc.j, tc.i, tc.spread); back != got {
			t.Errorf("PairLatency not symmetric: %v vs %v", got, back)
		}
	}
	for _, a := range AllRegions() {
		for _, b := range AllRegions() {
			if RegionLatency(a, b) <= 0 || RegionLatency(a, b) != RegionLatency(b, a) {
				t.Errorf("RegionLatency(%s, %s) = %v", a, b, RegionLatency(a, b))
			}
		}
	}
}

func TestParseRegions(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []Region
		wantErr bool
	}{
		{"eu", []Region{EU}, false},
		{" eu, asia ,oc", []Region{EU, Asia, OC}, false},
		{"", nil, true},
		{",,", nil, true},
		{"eu,mars", nil, true},
	} {
		got, err := ParseRegions(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseRegions(%q) err = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("ParseRegions(%q) (-want +got):\n%s", tc.in, d)
		}
	}
}

func FuzzParseRegions(f *testing.F) {
	for _, s := range []string{"eu", "eu,asia", "", ",", "x,,y", "us-east, us-west"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := ParseRegions(s)
		if err == nil && len(rs) == 0 {
			t.Fatalf("ParseRegions(%q): no regions and no error", s)
		}
		for _, r := range rs {
			if RegionLatency(r, r) <= 0 {
				t.Fatalf("ParseRegions(%q) returned unknown region %q", s, r)
			}
		}
	})
}

// wellFormed reports whether b parses as XML from start to end.
func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := d.Token(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func TestWriteCDF(t *testing.T) {
	for _, tc := range []struct {
		name   string
		series []Series
	}{
		{"none", nil},
		{"empty series", []Series{{Name: "a"}}},
		{"two", []Series{{Name: "a<b>", Samples: []time.Duration{ms1, 30 * ms1, 7 * ms1}}, {Name: "c", Samples: []time.Duration{0}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteCDF(&b, "title & more", tc.series); err != nil {
				t.Fatal(err)
			}
			if err := wellFormed(b.Bytes()); err != nil {
				t.Fatalf("SVG is not well-formed XML: %v\n%s", err, b.String())
			}
			if got, want := bytes.Count(b.Bytes(), []byte("<polyline")), countNonEmpty(tc.series); got != want {
				t.Errorf("%d curves, want %d", got, want)
			}
		})
	}
}

func countNonEmpty(ss []Series) int {
	n := 0
	for _, s := range ss {
		if len(s.Samples) > 0 {
			n++
		}
	}
	return n
}

func TestWriteShares(t *testing.T) {
	var b bytes.Buffer
	rep := FetchReport{FileBytes: 1 << 20, Providers: []int{3, 5}, ProvRegs: []Region{EU, Asia},
		Results: []FetchResult{{Fetcher: 1, Region: EU, Shares: map[int]float64{3: 0.7, 5: 0.3}}}}
	if err := WriteShares(&b, rep); err != nil {
		t.Fatal(err)
	}
	if err := wellFormed(b.Bytes()); err != nil {
		t.Fatalf("SVG is not well-formed: %v", err)
	}
}

func TestNiceCeil(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{{0, 1}, {0.5, 1}, {1, 1}, {1.5, 2}, {3, 5}, {7, 10}, {11, 20}, {499, 500}, {501, 1000}} {
		if got := niceCeil(tc.in); got != tc.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
