package compute

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the compute service's Prometheus metrics, shared by a peer's
// Worker (WorkerDeps.Metrics) and Submitter (SubmitterDeps.Metrics). A nil
// *Metrics records nothing. Its methods are safe for concurrent use.
//
//	enxame_compute_units_run_total                  units this worker ran to a signed output
//	enxame_compute_units_failed_total{reason}       units this worker failed, by reason (fetch, timeout, memory, crash, …)
//	enxame_compute_units_rejected_total             runs this worker refused (limits, no slot)
//	enxame_compute_unit_duration_seconds            run time of this worker's successful units
//	enxame_compute_worker_running, _queued, _slots  this worker's load (gauges, read at scrape)
//	enxame_compute_jobs_submitted_total             jobs submitted from this peer
//	enxame_compute_jobs_ended_total{state}          jobs ended, by state (done, failed, cancelled)
//	enxame_compute_job_duration_seconds{state}      submit to end of this peer's jobs
type Metrics struct {
	unitsRun      prometheus.Counter
	unitsFailed   *prometheus.CounterVec
	unitsRejected prometheus.Counter
	unitSeconds   prometheus.Histogram
	jobsSubmitted prometheus.Counter
	jobsEnded     *prometheus.CounterVec
	jobSeconds    *prometheus.HistogramVec
}

// latencyBuckets span a tenth of a second to an hour.
var latencyBuckets = prometheus.ExponentialBucketsRange(0.01, 3600, 20)

// NewMetrics builds the compute metrics and registers them with reg (nil:
// not registered). It fails when reg already holds metrics of these names.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		unitsRun: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enxame_compute_units_run_total", Help: "Units this worker ran to a signed output.",
		}),
		unitsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enxame_compute_units_failed_total", Help: "Units this worker failed, by reason.",
		}, []string{"reason"}),
		unitsRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enxame_compute_units_rejected_total", Help: "Runs this worker refused (over its limits, no slot).",
		}),
		unitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "enxame_compute_unit_duration_seconds", Help: "Run time of this worker's successful units.", Buckets: latencyBuckets,
		}),
		jobsSubmitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enxame_compute_jobs_submitted_total", Help: "Jobs submitted from this peer.",
		}),
		jobsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enxame_compute_jobs_ended_total", Help: "Jobs of this peer ended, by state.",
		}, []string{"state"}),
		jobSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "enxame_compute_job_duration_seconds", Help: "Time from submit to end of this peer's jobs, by state.", Buckets: latencyBuckets,
		}, []string{"state"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.unitsRun, m.unitsFailed, m.unitsRejected, m.unitSeconds, m.jobsSubmitted, m.jobsEnded, m.jobSeconds} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// RegisterWorkerGauges registers gauges of w's load with reg, read at each
// scrape: enxame_compute_worker_running, _queued and _slots.
func RegisterWorkerGauges(reg prometheus.Registerer, w *Worker) error {
	for _, g := range []struct {
		name, help string
		f          func(WorkerStats) int
	}{
		{"enxame_compute_worker_running", "Units this worker is running.", func(s WorkerStats) int { return s.Running }},
		{"enxame_compute_worker_queued", "Units this worker accepted and has not started (fetching inputs or waiting for a slot).", func(s WorkerStats) int { return s.Queued }},
		{"enxame_compute_worker_slots", "Units this worker runs at once.", func(s WorkerStats) int { return s.Slots }},
	} {
		if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: g.name, Help: g.help},
			func() float64 { return float64(g.f(w.Stats())) })); err != nil {
			return err
		}
	}
	return nil
}

func (m *Metrics) unitRun(d time.Duration) {
	if m != nil {
		m.unitsRun.Inc()
		m.unitSeconds.Observe(d.Seconds())
	}
}

func (m *Metrics) unitFailed(reason string) {
	if m != nil {
		m.unitsFailed.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) unitRejected() {
	if m != nil {
		m.unitsRejected.Inc()
	}
}

func (m *Metrics) jobSubmitted() {
	if m != nil {
		m.jobsSubmitted.Inc()
	}
}

func (m *Metrics) jobEnded(state JobState, d time.Duration) {
	if m != nil {
		m.jobsEnded.WithLabelValues(state.String()).Inc()
		m.jobSeconds.WithLabelValues(state.String()).Observe(d.Seconds())
	}
}
