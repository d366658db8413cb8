package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

func TestSimnetCommandRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--nodes", "1"},
		{"--churn", "1.5"},
		{"--regions", "mars"},
		{"--scenario", "nope"},
	} {
		e := &env{stdout: new(bytes.Buffer), stderr: new(bytes.Buffer)}
		cmd := newSimnetCmd(e)
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(context.Background())
		var ue usageError
		if err == nil || !errors.As(err, &ue) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}

func TestSimnetCommandCompute(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: new(bytes.Buffer)}
	cmd := newSimnetCmd(e)
	cmd.SetArgs([]string{"--scenario", "compute", "--workers", "4", "--units", "12", "--unit-seconds", "5", "--settle", "5s"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "job done") || !strings.Contains(out.String(), "wrong results accepted 0") {
		t.Errorf("report:\n%s", out.String())
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
