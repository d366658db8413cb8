package simnet

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// svgText parses b as XML, checks that its root is an svg element and
// returns its text content, one text node a line.
func svgText(t testing.TB, b []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var text strings.Builder
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, b)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = x.Name.Local
			}
		case xml.CharData:
			if s := strings.TrimSpace(string(x)); s != "" {
				text.WriteString(s + "\n")
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return text.String()
}

// checkFinite fails if the SVG carries a NaN or an infinity anywhere.
func checkFinite(t testing.TB, svg string) {
	t.Helper()
	for _, bad := range []string{"NaN", "Inf", "inf"} {
		if strings.Contains(svg, bad) {
			t.Errorf("SVG contains %q:\n%s", bad, svg)
		}
	}
}

// twoWorkers is a report consistent with RunCompute's bounds: 41 units of
// 10 s on a 2-slot worker of speed 1 and a 1-slot worker of speed 2 (C = 4,
// f = 2): work ÷ speed 102.5 s, longest unit 5 s, whole units 105 s (20 on
// the first worker's slots, 21 on the second's).
func twoWorkers() ComputeReport {
	return ComputeReport{
		Scenario: "compute", Seed: 7, Units: 41, Replicas: 1, State: "done",
		Workers: []WorkerModel{
			{Node: 1, Slots: 2, Speed: 1, Units: 20},
			{Node: 2, Slots: 1, Speed: 2, Units: 21},
		},
		Makespan: 110 * time.Second, Bound: 102500 * time.Millisecond, UnitBound: 105 * time.Second,
		Ratio: 1.073, Busy: 0.95, Runs: 41,
	}
}

func TestWriteMakespan(t *testing.T) {
	withError := twoWorkers()
	withError.State, withError.Error = "failed", `unit 3: <timeout> & "more"`
	noUnitBound := twoWorkers()
	noUnitBound.UnitBound = 0
	// A whole-units bound that the derived unit time does not give back:
	// the picture must not split Bound into terms it cannot trust.
	inconsistent := twoWorkers()
	inconsistent.UnitBound = 300 * time.Second
	replicated := ComputeReport{
		Seed: 2, Units: 20, Replicas: 3, State: "done",
		Workers: []WorkerModel{
			{Node: 1, Slots: 4, Speed: 2, Units: 30},
			{Node: 2, Slots: 4, Speed: 2, Wrong: true, Units: 2},
			{Node: 3, Slots: 1, Speed: 0.5, Units: 28},
		},
		// C = 16.5, N = 60, u = 10 s: work 36.36 s > longest 5 s.
		Makespan: 50 * time.Second, Bound: 36363636364, // 600 s of work ÷ 16.5
	}
	tests := []struct {
		name string
		r    ComputeReport
		want []string // text the picture must show
		not  []string // text it must not show
	}{
		{"two workers", twoWorkers(),
			[]string{"1m50s", "1m42.5s", "1m45s", "5s (makespan 22.000 × this)", "work ÷ speed bound", "longest unit bound", "whole-units bound",
				"1 × 2: 1 worker", "2 × 1: 1 worker", "20 units (20.0/worker, share 20.5)", "21 units (21.0/worker, share 20.5)",
				"100s/slot, 91% of makespan", "105s/slot, 95% of makespan", "seed 7"},
			nil},
		{"error text escaped", withError,
			[]string{`error: unit 3: <timeout> & "more"`, "job failed"}, nil},
		{"no whole-units bound", noUnitBound,
			[]string{"1m42.5s", "longest unit bound"}, []string{"whole-units bound"}},
		{"inconsistent bounds", inconsistent,
			[]string{"lower bound", "1m42.5s", "5m0s", "20 units (20.0/worker, share 20.5)"},
			[]string{"longest unit bound", "/slot"}},
		{"replicas and wrong workers", replicated,
			[]string{"50s", "36.364s", "5s", "4 × 2: 2 workers (1 wrong)", "1 × 0.5: 1 worker", "3 replicas"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteMakespan(&b, tt.r); err != nil {
				t.Fatalf("WriteMakespan() = %v", err)
			}
			text := svgText(t, b.Bytes())
			checkFinite(t, b.String())
			for _, s := range tt.want {
				if !strings.Contains(text, s) {
					t.Errorf("WriteMakespan() text lacks %q; got:\n%s", s, text)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(text, s) {
					t.Errorf("WriteMakespan() text has %q; got:\n%s", s, text)
				}
			}
		})
	}
}

func TestWriteMakespanDeterministic(t *testing.T) {
	r := twoWorkers()
	for i := range 6 { // enough classes that map order would show
		r.Workers = append(r.Workers, WorkerModel{Node: 3 + i, Slots: []int{4, 1, 2}[i%3], Speed: []float64{0.5, 2, 1}[i/2%3], Units: i})
	}
	var first bytes.Buffer
	if err := WriteMakespan(&first, r); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		var b bytes.Buffer
		if err := WriteMakespan(&b, r); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), first.Bytes()) {
			t.Fatalf("WriteMakespan() differs between two calls on the same report:\n%s\n---\n%s", first.String(), b.String())
		}
	}
}

// TestWriteMakespanDegenerate feeds reports with nothing or nonsense to
// plot: each must give a well-formed picture without NaN or infinity.
func TestWriteMakespanDegenerate(t *testing.T) {
	tests := []struct {
		name string
		r    ComputeReport
		want string
	}{
		{"zero report", ComputeReport{}, "no units: nothing to plot"},
		{"zero units with error", ComputeReport{Units: 0, State: "failed", Error: "submit: <no workers>", Workers: []WorkerModel{{Slots: 1, Speed: 1}}},
			"error: submit: <no workers>"},
		{"units but no workers", ComputeReport{Units: 5, State: "failed", Error: "wait: deadline"}, "on 0 workers (0 slots)"},
		{"one worker", ComputeReport{Units: 5, Workers: []WorkerModel{{Slots: 2, Speed: 1}}}, "on 1 worker (2 slots)"},
		{"units but no times", ComputeReport{Units: 5, Workers: []WorkerModel{{Slots: 2, Speed: 1}}}, "0s"},
		{"zero speeds and slots", ComputeReport{Units: 5, Makespan: time.Second, Bound: time.Second,
			Workers: []WorkerModel{{Slots: 0, Speed: 1, Units: 2}, {Slots: 2, Speed: 0, Units: 3}}}, "1s"},
		{"only wrong workers", ComputeReport{Units: 5, Replicas: 1, Makespan: time.Second, Bound: time.Second, UnitBound: time.Second,
			Workers: []WorkerModel{{Slots: 2, Speed: 1, Wrong: true}}}, "1 wrong"},
		{"negative times", ComputeReport{Units: 3, Makespan: -time.Second, Bound: -2 * time.Second, UnitBound: -time.Second,
			Workers: []WorkerModel{{Slots: 1, Speed: 1, Units: 3}}}, "-1s"},
		{"one huge unit", ComputeReport{Units: 1, Makespan: 1000 * time.Hour, Bound: 1000 * time.Hour,
			Workers: []WorkerModel{{Slots: 1, Speed: 0.5, Units: 1}}}, "1000h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteMakespan(&b, tt.r); err != nil {
				t.Fatalf("WriteMakespan() = %v", err)
			}
			text := svgText(t, b.Bytes())
			checkFinite(t, b.String())
			if !strings.Contains(text, tt.want) {
				t.Errorf("WriteMakespan() text lacks %q; got:\n%s", tt.want, text)
			}
		})
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriteMakespanWriterError(t *testing.T) {
	want := errors.New("disk full")
	for _, r := range []ComputeReport{{}, twoWorkers()} {
		if err := WriteMakespan(failWriter{want}, r); !errors.Is(err, want) {
			t.Errorf("WriteMakespan(units %d) = %v, want %v", r.Units, err, want)
		}
	}
}

// TestWriteMakespanFromRun plots a real compute run: the picture must
// split the run's bound into its two terms, which holds only while
// newMakespanModel inverts RunCompute's bound formula correctly.
func TestWriteMakespanFromRun(t *testing.T) {
	var rep ComputeReport
	synctest.Test(t, func(t *testing.T) {
		var err error
		rep, err = RunCompute(context.Background(), ComputeConfig{Net: Config{Seed: 3}, Workers: 3, Units: 8, UnitSeconds: 4})
		if err != nil {
			t.Fatal(err)
		}
	})
	if rep.State != "done" {
		t.Fatalf("job %s (%s)", rep.State, rep.Error)
	}
	m := newMakespanModel(rep)
	if !m.split {
		t.Fatalf("newMakespanModel() did not split bound %v of %+v", rep.Bound, rep.Workers)
	}
	if d := m.unitSec - 4; d > 1e-6 || d < -1e-6 {
		t.Errorf("newMakespanModel() unit time %vs, want 4s", m.unitSec)
	}
	if got := max(m.work, m.longest); got-rep.Bound > time.Microsecond || rep.Bound-got > time.Microsecond {
		t.Errorf("max(work %v, longest %v) = %v, want the bound %v", m.work, m.longest, got, rep.Bound)
	}
	var b bytes.Buffer
	if err := WriteMakespan(&b, rep); err != nil {
		t.Fatal(err)
	}
	text := svgText(t, b.Bytes())
	checkFinite(t, b.String())
	for _, s := range []string{fmtDur(rep.Makespan), fmtDur(rep.UnitBound), fmtDur(m.work), fmtDur(m.longest)} {
		if !strings.Contains(text, s) {
			t.Errorf("WriteMakespan() text lacks %q; got:\n%s", s, text)
		}
	}
}

func TestMakespanNiceStep(t *testing.T) {
	tests := []struct{ in, want float64 }{
		{0, 0.001}, {-3, 0.001}, {0.0004, 0.001}, {0.003, 0.005}, {1, 1}, {1.1, 2}, {2.2, 2.5}, {22, 25}, {30, 50}, {51, 100}, {720000, 1e6},
	}
	for _, tt := range tests {
		if got := niceStep(tt.in); got != tt.want {
			t.Errorf("niceStep(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestMakespanTickLabel(t *testing.T) {
	tests := []struct {
		x, step float64
		want    string
	}{
		{0, 1, "0"}, {25, 25, "25"}, {125, 25, "125"}, {1e6, 1e6, "1000000"},
		{0.002, 0.001, "0.002"}, {0.5, 0.25, "0.5"}, {0.75, 0.25, "0.75"}, {0.3, 0.1, "0.3"}, {7.5, 2.5, "7.5"},
	}
	for _, tt := range tests {
		if got := tickLabel(tt.x, tt.step); got != tt.want {
			t.Errorf("tickLabel(%v, %v) = %q, want %q", tt.x, tt.step, got, tt.want)
		}
	}
}
