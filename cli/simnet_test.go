//go:build !race

// The simnet command's tests run simulated swarms in testing/synctest
// bubbles with thousands of goroutines, where the race runtime itself
// crashes now and then (ThreadSanitizer: CHECK failed, no race reported), as
// it does in package simnet. They run without -race, with simnet's tests
// (see the README's test command); the code they drive runs under -race in
// its own packages.

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSimnetCommand(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "cdf.svg")
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	cmd := newSimnetCmd(e)
	cmd.SetArgs([]string{"--nodes", "12", "--seed", "3", "--keys", "4", "--lookups", "10", "--settle", "5s", "--plot", plot})
	cmd.SetOut(&out)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("simnet: %v (stderr %q)", err, errOut.String())
	}
	for _, want := range []string{"simnet dht: 12 nodes", "find-peer", "find-providers", "routing table"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	svg, err := os.ReadFile(plot)
	if err != nil || !bytes.HasPrefix(svg, []byte("<svg")) {
		t.Fatalf("plot: %v, %.40q", err, svg)
	}

	out.Reset()
	e.json = true
	cmd = newSimnetCmd(e)
	cmd.SetArgs([]string{"--nodes", "8", "--keys", "2", "--lookups", "4", "--settle", "5s"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Nodes    int `json:"nodes"`
		FindPeer struct {
			Attempts int `json:"attempts"`
		} `json:"find_peer"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Nodes != 8 || rep.FindPeer.Attempts != 4 {
		t.Fatalf("json report: %v, %+v\n%s", err, rep, out.String())
	}
}

// TestSimnetCommandRejectsBadFlags checks that every bad numeric flag, and
// every flag the scenario would ignore, is a usage error (exit 2) before
// anything runs; some of these used to panic (--keys -1, --lookups -1,
// --bootstrap -2) or fail with exit 1 (--mbps -5).
func TestSimnetCommandRejectsBadFlags(t *testing.T) {
	tests := [][]string{
		{"--nodes", "1"},
		{"--nodes", "-3"},
		{"--churn", "1.5"},
		{"--churn", "NaN"},
		{"--droppers", "-0.1"},
		{"--loss", "NaN"},
		{"--churn", "0.5", "--droppers", "0.5"},
		{"--scenario", "adversary", "--churn", "0.75"}, // + the preset's 0.2 droppers
		{"--regions", "mars"},
		{"--scenario", "nope"},
		{"--keys", "-1"},
		{"--keys", "0"},
		{"--lookups", "-1"},
		{"--bootstrap", "-2"},
		{"--bootstrap", "0"},
		{"--nodes", "4", "--bootstrap", "4"},
		{"--mbps", "-5"},
		{"--mbps", "0"},
		{"--settle", "-1s"},
		{"--join-spread", "-1s"},
		{"--scenario", "fetch", "--providers", "0"},
		{"--scenario", "fetch", "--fetchers", "-1"},
		{"--scenario", "fetch", "--file-mib", "0"},
		{"--scenario", "fetch", "--file-mib", "1000000"},
		{"--scenario", "fetch", "--provider-mbps", "-1"},
		{"--scenario", "fetch", "--nodes", "6", "--providers", "2", "--fetchers", "2"},
		{"--scenario", "compute", "--workers", "0"},
		{"--scenario", "search", "--plot", "x.svg"},
		{"--scenario", "compute", "--units", "-1"},
		{"--scenario", "compute", "--unit-seconds", "0"},
		{"--scenario", "compute", "--unit-seconds", "NaN"},
		{"--scenario", "compute", "--unit-seconds", "+Inf"},
		{"--scenario", "compute", "--workers", "2", "--replicas", "3"},
		{"--scenario", "compute", "--wrong", "1"},
		{"--scenario", "fetch", "--corrupt", "1"},
		{"--scenario", "adversary", "--droppers", "0"},
		{"--scenario", "adversary", "--corrupt", "0"},
		{"--scenario", "adversary", "--wrong", "0"},
		{"--scenario", "adversary", "--workers", "2"}, // the preset's 3 replicas
		// Flags the scenario would silently ignore.
		{"--scenario", "compute", "--nodes", "20"},
		{"--scenario", "compute", "--tier", "mem"},
		{"--scenario", "compute", "--droppers", "0.1"},
		{"--scenario", "fetch", "--keys", "5"},
		{"--scenario", "fetch", "--workers", "5"},
		{"--scenario", "dht", "--providers", "5"},
		{"--scenario", "dht", "--wrong", "0.1"},
		{"--scenario", "compute", "--corrupt", "0.5"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			e := &env{stdout: new(bytes.Buffer), stderr: new(bytes.Buffer)}
			cmd := newSimnetCmd(e)
			cmd.SetArgs(args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.ExecuteContext(context.Background())
			var ue usageError
			if err == nil || !errors.As(err, &ue) {
				t.Errorf("simnet %v: err = %v, want a usage error", args, err)
			}
		})
	}
}

func TestSimnetCommandCompute(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: new(bytes.Buffer)}
	cmd := newSimnetCmd(e)
	plot := filepath.Join(t.TempDir(), "makespan.svg")
	cmd.SetArgs([]string{"--scenario", "compute", "--workers", "4", "--units", "12", "--unit-seconds", "5", "--settle", "5s", "--plot", plot})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "job done") || !strings.Contains(out.String(), "wrong results accepted 0") {
		t.Errorf("report:\n%s", out.String())
	}
	// --plot draws the makespan (it used to write nothing for compute).
	svg, err := os.ReadFile(plot)
	if err != nil || !bytes.HasPrefix(svg, []byte("<svg")) {
		t.Fatalf("plot: %v, %.40q", err, svg)
	}
}

// TestSimnetCommandAdversary runs the adversary preset's three phases
// through the command and reads its JSON report.
func TestSimnetCommandAdversary(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: new(bytes.Buffer), json: true}
	cmd := newSimnetCmd(e)
	cmd.SetArgs([]string{"--scenario", "adversary", "--tier", "mem", "--nodes", "12", "--keys", "4", "--lookups", "8",
		"--settle", "5s", "--file-mib", "1", "--workers", "5", "--units", "9"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Scenario string `json:"scenario"`
		Caught   struct {
			Droppers         int `json:"droppers"`
			CorruptProviders int `json:"corrupt_providers"`
			Liars            int `json:"liars"`
		} `json:"caught"`
		Checks struct {
			Fetches              int    `json:"fetches"`
			CorruptBytesAccepted int64  `json:"corrupt_bytes_accepted"`
			WrongAccepted        int    `json:"wrong_accepted"`
			JobState             string `json:"job_state"`
			Correct              bool   `json:"correct"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("json report: %v\n%s", err, out.String())
	}
	c, k := rep.Caught, rep.Checks
	// --droppers 0.2 of 12, --corrupt 0.5 of 4, --wrong 0.25 of 5: the
	// preset's defaults.
	if rep.Scenario != "adversary" || c.Droppers != 2 || c.CorruptProviders != 2 || c.Liars != 1 {
		t.Errorf("report: scenario %q, %d droppers, %d corrupt providers, %d liars; want adversary, 2, 2, 1",
			rep.Scenario, c.Droppers, c.CorruptProviders, c.Liars)
	}
	if !k.Correct || k.CorruptBytesAccepted != 0 || k.WrongAccepted != 0 || k.Fetches != 2 || k.JobState != "done" {
		t.Errorf("checks: %+v", k)
	}
}

// TestSimnetCommandChurn checks that --churn reaches the fetch and compute
// scenarios (it was silently ignored there).
func TestSimnetCommandChurn(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"fetch", []string{"--scenario", "fetch", "--nodes", "9", "--providers", "4", "--fetchers", "1", "--file-mib", "2", "--churn", "0.5"},
			"churn 50%: providers"},
		{"compute", []string{"--scenario", "compute", "--workers", "4", "--units", "12", "--unit-seconds", "5", "--churn", "0.25"},
			"churn 25%: 1 workers left during the job, 1 joined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			e := &env{stdout: &out, stderr: new(bytes.Buffer)}
			cmd := newSimnetCmd(e)
			cmd.SetArgs(append(tt.args, "--settle", "5s"))
			if err := cmd.ExecuteContext(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("simnet %v: report lacks %q:\n%s", tt.args, tt.want, out.String())
			}
		})
	}
}

func TestPickTier(t *testing.T) {
	for _, tc := range []struct {
		tier  string
		nodes int
		loss  float64
		want  string // "" for an error
	}{
		{"auto", 2, 0, "full"},
		{"auto", 100, 0, "full"},
		{"auto", 101, 0, "mem"},
		{"auto", 1000, 0, "mem"},
		{"auto", 1001, 0, "light"},
		{"auto", 300, 0.01, "full"},
		{"auto", 501, 0.01, "light"},
		{"full", 5000, 0, "full"},
		{"mem", 10, 0, "mem"},
		{"mem", 10, 0.01, ""},
		{"light", 10, 0, "light"},
		{"quic", 10, 0, ""},
	} {
		got, err := pickTier(tc.tier, tc.nodes, tc.loss)
		if (err != nil) != (tc.want == "") || got != tc.want {
			t.Errorf("pickTier(%q, %d, %v) = %q, %v; want %q", tc.tier, tc.nodes, tc.loss, got, err, tc.want)
		}
	}
}

func TestSimnetCommandMemTier(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: new(bytes.Buffer)}
	cmd := newSimnetCmd(e)
	cmd.SetArgs([]string{"--tier", "mem", "--scenario", "churn", "--nodes", "16", "--keys", "4", "--lookups", "10", "--settle", "5s"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "16 nodes (mem tier)") || !strings.Contains(out.String(), "churn find-peer") {
		t.Errorf("report:\n%s", out.String())
	}
}
