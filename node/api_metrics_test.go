package node_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/control"
	"github.com/enxame/enxame/share"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches /metrics from the API at base and parses it.
func scrape(t *testing.T, base, token string) map[string]*dto.MetricFamily {
	t.Helper()
	status, body := apiCall(t, "GET", base+control.PathMetrics, "Bearer "+token, "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// metricValue is the value of the sample of family name whose labels
// include labels (name=value pairs): a counter's or gauge's value, a
// histogram's count. ok is false when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsAfterFetchAndJob (issue 13): after B fetches a file A holds
// and runs a job on A's worker, both peers' /metrics show counters that
// match: the bytes B fetched and verified equal the file's size and A
// served as many; B submitted and finished one job, A ran its one unit.
// libp2p's own families are there too. The job goes through the API as a
// program would: a multipart submit with the module uploaded, its events
// followed as NDJSON, its result downloaded.
func TestMetricsAfterFetchAndJob(t *testing.T) {
	deps := node.Deps{SandboxCommand: nodetest.SandboxCommand(t), WasmCacheDir: nodetest.WasmCacheDir(t)}
	acfg := nodetest.Config(t)
	acfg.Compute.Disabled = false
	acfg.Compute.Slots = 1
	a, abase := apiNode(t, acfg, deps)
	bcfg := nodetest.Config(t)
	bcfg.Bootstrap = a.Addrs()[:1]
	b, bbase := apiNode(t, bcfg, deps)
	waittest.For(t, "B to join A", func() bool { return b.Router().TableSize() > 0 })
	ctx := t.Context()

	// One raw block (under a chunk): the bytes fetched are the file's.
	data := randomData(100<<10, 7)
	res, err := a.AddReader(ctx, bytes.NewReader(data), "f", share.AddOptions{})
	if err != nil {
		t.Fatalf("AddReader: %v", err)
	}
	status, got := apiCall(t, "POST", bbase+control.PathCat, "Bearer "+b.APIToken(), "application/json",
		strings.NewReader(`{"cid":"`+res.Root.String()+`"}`))
	if status != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("cat on B: status %d, %d bytes; want 200 and the %d bytes A added", status, len(got), len(data))
	}
	bm, am := scrape(t, bbase, b.APIToken()), scrape(t, abase, a.APIToken())
	counters := []struct {
		fams   map[string]*dto.MetricFamily
		peer   string
		name   string
		labels []string
		want   float64
	}{
		{bm, "B", "enxame_share_bytes_fetched_total", []string{"protocol", "exchange"}, float64(len(data))},
		{bm, "B", "enxame_share_blocks_verified_total", nil, 1},
		{bm, "B", "enxame_share_blocks_rejected_total", nil, 0},
		{bm, "B", "enxame_share_providers_dropped_total", nil, 0},
		{am, "A", "enxame_share_bytes_served_total", []string{"protocol", "exchange"}, float64(len(data))},
		{bm, "B", "enxame_store_bytes", nil, float64(len(data))},
	}
	for _, c := range counters {
		if v, ok := metricValue(c.fams, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("after the fetch, %s's %s%v = %v (present %v), want %v", c.peer, c.name, c.labels, v, ok, c.want)
		}
	}
	// libp2p's own, kad-dht's (through OpenTelemetry: rpc_*), Go's, the worker's gauges.
	for _, fam := range []string{"libp2p_rcmgr_streams", "libp2p_swarm_connections_opened_total", "libp2p_holepunch_outcomes_total", "libp2p_relaysvc_status", "rpc_inbound_messages_total", "libp2p_identify_identify_pushes_triggered_total", "go_goroutines", "enxame_compute_worker_slots"} {
		if am[fam] == nil {
			t.Errorf("A's /metrics has no %s", fam)
		}
	}

	// A job through the API: upload the module with the spec.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	spec, _ := json.Marshal(control.SubmitRequest{Args: []string{"0", "100"}})
	if err := mw.WriteField("spec", string(spec)); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("module", "primes.wasm")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(readFile(t, examplestest.Build(t, "primes")))
	mw.Close()
	status, resp := apiCall(t, "POST", bbase+control.PathSubmit, "Bearer "+b.APIToken(), mw.FormDataContentType(), &body)
	if status != http.StatusOK {
		t.Fatalf("multipart submit: %d %s", status, resp)
	}
	var sub control.SubmitResult
	if err := json.Unmarshal(resp, &sub); err != nil || sub.Job == "" {
		t.Fatalf("submit answer %s: %v", resp, err)
	}
	cl := control.NewTCPClient(strings.TrimPrefix(bbase, "http://"), b.APIToken())
	defer cl.Close()
	var last compute.Event
	err = cl.Stream(ctx, "POST", control.PathWatch, control.JobRequest{Job: sub.Job}, func(line []byte) error {
		return json.Unmarshal(line, &last)
	})
	if err != nil || last.Kind != compute.EventJobDone {
		t.Fatalf("watch: last event %+v, err %v; want job-done", last, err)
	}
	out, err := cl.Raw(ctx, "POST", control.PathResult, control.JobRequest{Job: sub.Job})
	if err != nil {
		t.Fatalf("result: %v", err)
	}
	var result bytes.Buffer
	result.ReadFrom(out)
	out.Close()
	if want := "count\t25\n"; result.String() != want {
		t.Errorf("result = %q, want %q", result.String(), want)
	}

	bm, am = scrape(t, bbase, b.APIToken()), scrape(t, abase, a.APIToken())
	jobs := []struct {
		fams   map[string]*dto.MetricFamily
		peer   string
		name   string
		labels []string
		want   float64
	}{
		{bm, "B", "enxame_compute_jobs_submitted_total", nil, 1},
		{bm, "B", "enxame_compute_jobs_ended_total", []string{"state", "done"}, 1},
		{bm, "B", "enxame_compute_job_duration_seconds", []string{"state", "done"}, 1},
		{am, "A", "enxame_compute_units_run_total", nil, 1},
		{am, "A", "enxame_compute_unit_duration_seconds", nil, 1},
		{am, "A", "enxame_compute_worker_running", nil, 0},
	}
	for _, c := range jobs {
		if v, ok := metricValue(c.fams, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("after the job, %s's %s%v = %v (present %v), want %v", c.peer, c.name, c.labels, v, ok, c.want)
		}
	}
	if f := am["enxame_compute_units_failed_total"]; f != nil && len(f.GetMetric()) > 0 {
		t.Errorf("A failed units: %v", f)
	}
}
