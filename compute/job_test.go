package compute

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfs/go-cid"
)

func TestSplitData(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		n     int
		lines bool
		want  []string
	}{
		{"bytes even", "abcdef", 3, false, []string{"ab", "cd", "ef"}},
		{"bytes uneven", "abcdefg", 3, false, []string{"ab", "cd", "efg"}},
		{"bytes more parts than bytes", "ab", 4, false, []string{"", "a", "", "b"}},
		{"lines at line ends", "aa\nbb\ncc\n", 3, true, []string{"aa\n", "bb\n", "cc\n"}},
		{"lines moved forward", "a\nbbbbbb\nc\n", 2, true, []string{"a\nbbbbbb\n", "c\n"}},
		{"lines one long line", "abcdefgh", 3, true, []string{"abcdefgh", "", ""}},
		{"lines no final newline", "a\nb\nc", 3, true, []string{"a\n", "b\n", "c"}},
		{"empty", "", 2, true, []string{"", ""}},
		{"one part", "x\ny\n", 1, true, []string{"x\ny\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range splitData([]byte(tt.data), tt.n, tt.lines) {
				got = append(got, string(p))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("splitData(%q, %d, %v) mismatch (-want +got):\n%s", tt.data, tt.n, tt.lines, diff)
			}
		})
	}
}

// TestSplitDataProperties: parts always concatenate to the input, there are
// always n of them, and line parts end at a newline (except the last).
func TestSplitDataProperties(t *testing.T) {
	text := genText(t, 64<<10, 11)
	for _, n := range []int{1, 2, 3, 7, 16, 100, 1000} {
		for _, lines := range []bool{false, true} {
			parts := splitData(text, n, lines)
			if len(parts) != n {
				t.Fatalf("splitData(n=%d) gave %d parts", n, len(parts))
			}
			if got := bytes.Join(parts, nil); !bytes.Equal(got, text) {
				t.Fatalf("splitData(n=%d, lines=%v) parts do not concatenate to the input", n, lines)
			}
			for i, p := range parts[:n-1] {
				if lines && len(p) > 0 && p[len(p)-1] != '\n' {
					t.Errorf("splitData(n=%d) part %d does not end at a newline", n, i)
				}
			}
		}
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in      string
		want    Split
		wantErr bool
	}{
		{"0:100/4", Split{Kind: SplitRange, From: 0, To: 100, N: 4}, false},
		{"-5:5/10", Split{Kind: SplitRange, From: -5, To: 5, N: 10}, false},
		{"0:100", Split{}, true},
		{"100/4", Split{}, true},
		{"a:b/c", Split{}, true},
		{"5:5/1", Split{}, true},
		{"0:3/4", Split{}, true},
		{"0:100/0", Split{}, true},
		{"0:100000/10000", Split{Kind: SplitRange, From: 0, To: 100000, N: 10000}, false},
		{"0:100000/10001", Split{}, true},
	}
	for _, tt := range tests {
		got, err := ParseRange(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseRange(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseRange(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestJobSpecValidate(t *testing.T) {
	m, in := rawCID([]byte("m")), rawCID([]byte("in"))
	tests := []struct {
		name string
		spec JobSpec
		ok   bool
	}{
		{"minimal", JobSpec{Module: m}, true},
		{"no module", JobSpec{Inputs: []cid.Cid{in}}, false},
		{"undefined input", JobSpec{Module: m, Inputs: []cid.Cid{cid.Undef}}, false},
		{"split lines of one input", JobSpec{Module: m, Inputs: []cid.Cid{in}, Split: Split{Kind: SplitLines, N: 4}}, true},
		{"split lines of two inputs", JobSpec{Module: m, Inputs: []cid.Cid{in, in}, Split: Split{Kind: SplitLines, N: 4}}, false},
		{"split bytes into 0", JobSpec{Module: m, Inputs: []cid.Cid{in}, Split: Split{Kind: SplitBytes}}, false},
		{"each input without inputs", JobSpec{Module: m, Split: Split{Kind: SplitEachInput}}, false},
		{"range", JobSpec{Module: m, Split: Split{Kind: SplitRange, From: 1, To: 9, N: 2}}, true},
		{"unknown split", JobSpec{Module: m, Split: Split{Kind: 99, N: 1}}, false},
		{"negative replicas", JobSpec{Module: m, Replicas: -1}, false},
		{"too many replicas", JobSpec{Module: m, Replicas: 16}, false},
		{"negative timeout", JobSpec{Module: m, Timeout: -1}, false},
		{"huge argument", JobSpec{Module: m, Args: []string{strings.Repeat("a", 5000)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.spec.validate(); (err == nil) != tt.ok {
				t.Errorf("validate(%s) = %v, want ok %v", tt.name, err, tt.ok)
			}
		})
	}
}

func TestPlanUnits(t *testing.T) {
	content := newMemContent()
	m := rawCID([]byte("m"))
	a := content.putBytes(t, []byte("l1\nl2\nl3\nl4\n"))
	b := content.putBytes(t, []byte("other"))
	tests := []struct {
		name string
		spec JobSpec
		want []unitPlan
	}{
		{"none", JobSpec{Module: m, Inputs: []cid.Cid{a, b}, Args: []string{"x"}}, []unitPlan{{Inputs: []cid.Cid{a, b}, Args: []string{"x"}}}},
		{"each input", JobSpec{Module: m, Inputs: []cid.Cid{a, b}, Split: Split{Kind: SplitEachInput}}, []unitPlan{{Inputs: []cid.Cid{a}}, {Inputs: []cid.Cid{b}}}},
		{"range", JobSpec{Module: m, Args: []string{"-list"}, Split: Split{Kind: SplitRange, From: 10, To: 20, N: 3}}, []unitPlan{
			{Args: []string{"-list", "10", "13"}}, {Args: []string{"-list", "13", "16"}}, {Args: []string{"-list", "16", "20"}},
		}},
		{"lines", JobSpec{Module: m, Inputs: []cid.Cid{a}, Split: Split{Kind: SplitLines, N: 2}}, []unitPlan{
			{Inputs: []cid.Cid{rawCID([]byte("l1\nl2\n"))}, Bytes: 6}, {Inputs: []cid.Cid{rawCID([]byte("l3\nl4\n"))}, Bytes: 6},
		}},
		{"lines per unit", JobSpec{Module: m, Inputs: []cid.Cid{a}, Split: Split{Kind: SplitLinesPerUnit, N: 3}}, []unitPlan{
			{Inputs: []cid.Cid{rawCID([]byte("l1\nl2\nl3\n"))}, Bytes: 9}, {Inputs: []cid.Cid{rawCID([]byte("l4\n"))}, Bytes: 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := planUnits(t.Context(), content, &tt.spec, 1<<20)
			if err != nil {
				t.Fatalf("planUnits() = %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(unitPlan{}), cmp.Comparer(cid.Cid.Equals)); diff != "" {
				t.Errorf("planUnits() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := planUnits(t.Context(), content, &JobSpec{Module: m, Inputs: []cid.Cid{a}, Split: Split{Kind: SplitBytes, N: 2}}, 4); err == nil {
		t.Error("planUnits() of an input over MaxSplitBytes = nil error")
	}
	if _, err := planUnits(t.Context(), content, &JobSpec{Module: m, Inputs: []cid.Cid{rawCID([]byte("missing"))}, Split: Split{Kind: SplitBytes, N: 2}}, 1<<20); err == nil {
		t.Error("planUnits() of a missing input = nil error")
	}
}

func TestComputeKey(t *testing.T) {
	if got, want := ComputeKey(), rawCID([]byte("enxame/compute/v1")); !got.Equals(want) {
		t.Errorf("ComputeKey() = %s, want %s", got, want)
	}
}

func TestWorkerConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  WorkerConfig
		ok   bool
	}{
		{"defaults", WorkerConfig{Dir: "/tmp/x"}, true},
		{"no dir", WorkerConfig{}, false},
		{"negative slots", WorkerConfig{Dir: "d", Slots: -1}, false},
		{"memory over max", WorkerConfig{Dir: "d", MemoryMiB: 2048, MaxMemoryMiB: 1024}, false},
		{"max memory over 4 GiB", WorkerConfig{Dir: "d", MaxMemoryMiB: 8192}, false},
		{"output over the sandbox's limit", WorkerConfig{Dir: "d", MaxOutputBytes: 2 << 30}, false},
		{"timeout over max", WorkerConfig{Dir: "d", UnitTimeout: time.Hour, MaxUnitTimeout: time.Minute}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.fill()
			if err := cfg.validate(); (err == nil) != tt.ok {
				t.Errorf("validate(%+v) = %v, want ok %v", tt.cfg, err, tt.ok)
			}
		})
	}
}

func TestNewSubmitterErrors(t *testing.T) {
	if _, err := NewSubmitter(SubmitterConfig{}, SubmitterDeps{}); err == nil {
		t.Error("NewSubmitter() without deps = nil error")
	}
}

// TestSubmitterStopped pins that calls after Run has ended return
// ErrStopped rather than block.
func TestSubmitterStopped(t *testing.T) {
	sw := newSwarm()
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	sub.stop()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := sub.s.List(ctx); !errors.Is(err, ErrStopped) {
		t.Errorf("List() after stop = %v, want ErrStopped", err)
	}
}

// TestJobSpecJSON: a JobSpec encodes with lowercase keys and the split
// kind as a word, decodes back, and a spec kept by an earlier version (Go
// field names, the kind as a number) still decodes whole.
func TestJobSpecJSON(t *testing.T) {
	mod, red := cidOfString(t, "module"), cidOfString(t, "reduce")
	spec := JobSpec{
		Module: mod, Inputs: []cid.Cid{cidOfString(t, "in")}, Split: Split{Kind: SplitRange, N: 4, From: 1, To: 9},
		Args: []string{"-x"}, Replicas: 3, Timeout: 90 * time.Second, MemoryMiB: 64, MaxOutputBytes: 1 << 20,
		Reduce: red, ReduceArgs: []string{"-sum"},
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"module":`, `"kind":"range"`, `"timeout_ns":90000000000`, `"memory_mib":64`, `"max_output_bytes":1048576`, `"reduce_args":["-sum"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("json.Marshal(spec) = %s, lacks %s", b, want)
		}
	}
	old := fmt.Sprintf(`{"Module":{"/":%q},"Inputs":[{"/":%q}],"Split":{"Kind":3,"N":4,"From":1,"To":9},"Args":["-x"],`+
		`"Replicas":3,"Timeout":90000000000,"MemoryMiB":64,"MaxOutputBytes":1048576,"Reduce":{"/":%q},"ReduceArgs":["-sum"]}`,
		mod, spec.Inputs[0], red)
	for name, in := range map[string][]byte{"new": b, "old": []byte(old)} {
		var got JobSpec
		if err := json.Unmarshal(in, &got); err != nil {
			t.Fatalf("%s: json.Unmarshal(%s): %v", name, in, err)
		}
		if !reflect.DeepEqual(got, spec) {
			t.Errorf("%s: decoded %+v, want %+v", name, got, spec)
		}
	}
	var bad JobSpec
	if err := json.Unmarshal([]byte(`{"split":{"kind":"sideways"}}`), &bad); err == nil {
		t.Errorf("json.Unmarshal of an unknown split kind: no error")
	}
}

// cidOfString returns a CIDv1 raw sha2-256 of s.
func cidOfString(t *testing.T, s string) cid.Cid {
	t.Helper()
	c, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: -1}.Sum([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSplitLinesPerUnit: --split-lines N cuts units of N lines, as
// split -l does; the parts concatenate to the input.
func TestSplitLinesPerUnit(t *testing.T) {
	tests := []struct {
		data string
		n    int
		want []string
	}{
		{"", 2, []string{""}},
		{"a\n", 2, []string{"a\n"}},
		{"a\nb\nc\n", 1, []string{"a\n", "b\n", "c\n"}},
		{"a\nb\nc\n", 2, []string{"a\nb\n", "c\n"}},
		{"a\nb\nc", 2, []string{"a\nb\n", "c"}},
		{"a\nb\nc", 10000, []string{"a\nb\nc"}},
		{"\n\n\n", 2, []string{"\n\n", "\n"}},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range splitLinesPerUnit([]byte(tt.data), tt.n) {
			got = append(got, string(p))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("splitLinesPerUnit(%q, %d) mismatch (-want +got):\n%s", tt.data, tt.n, diff)
		}
		if u := LineUnits(CountLines([]byte(tt.data)), tt.n); u != int64(len(tt.want)) {
			t.Errorf("LineUnits(CountLines(%q), %d) = %d, want %d", tt.data, tt.n, u, len(tt.want))
		}
		if c, err := CountLinesReader(strings.NewReader(tt.data)); err != nil || c != CountLines([]byte(tt.data)) {
			t.Errorf("CountLinesReader(%q) = %d, %v; want %d", tt.data, c, err, CountLines([]byte(tt.data)))
		}
	}
}

// TestPlanUnitsLinesCap: a --split-lines N that would make more than
// MaxUnits units is refused with the count and the smallest N that fits,
// before any part is stored.
func TestPlanUnitsLinesCap(t *testing.T) {
	content := newMemContent()
	data := strings.Repeat("x\n", int(MaxUnits)+1)
	in := content.putBytes(t, []byte(data))
	before := memLen(content)
	_, err := planUnits(t.Context(), content, &JobSpec{Module: rawCID([]byte("m")), Inputs: []cid.Cid{in}, Split: Split{Kind: SplitLinesPerUnit, N: 1}}, 1<<30)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("would make %d units, over the cap of %d; use at least 2 lines", int(MaxUnits)+1, MaxUnits)) {
		t.Fatalf("planUnits(--split-lines 1 of %d lines) = %v, want refused over the cap", int(MaxUnits)+1, err)
	}
	if memLen(content) != before {
		t.Errorf("a refused split stored %d parts", memLen(content)-before)
	}
	plans, err := planUnits(t.Context(), content, &JobSpec{Module: rawCID([]byte("m")), Inputs: []cid.Cid{in}, Split: Split{Kind: SplitLinesPerUnit, N: 2}}, 1<<30)
	if err != nil || len(plans) != int(MaxUnits)/2+1 {
		t.Errorf("planUnits(--split-lines 2) = %d units, %v; want %d", len(plans), err, int(MaxUnits)/2+1)
	}
}

func memLen(m *memContent) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.data)
}
