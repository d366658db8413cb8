package node

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/share"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// newRegistry is a node's Prometheus registry, with the Go runtime's and
// the process's collectors. libp2p (PrometheusRegisterer), share and
// compute register into it; kad-dht's metrics come from OpenTelemetry
// (dhtGatherer).
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// registerMetrics registers the share and compute metrics and the node's
// own gauges, once the services are open.
func (n *Node) registerMetrics() error {
	if err := n.reg.Register(n.shareMet); err != nil {
		return fmt.Errorf("register share metrics: %w", err)
	}
	if n.worker != nil {
		if err := compute.RegisterWorkerGauges(n.reg, n.worker); err != nil {
			return fmt.Errorf("register worker metrics: %w", err)
		}
	}
	return n.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "enxame_provide_queue_length", Help: "Roots waiting to be announced in the DHT.",
	}, func() float64 { return float64(n.share.ProvideQueueLen()) }))
}

// newComputeMetrics builds the compute metrics in the node's registry.
func (n *Node) newComputeMetrics() (*compute.Metrics, error) {
	m, err := compute.NewMetrics(n.reg)
	if err != nil {
		return nil, fmt.Errorf("register compute metrics: %w", err)
	}
	return m, nil
}

var _ prometheus.Collector = (*share.Metrics)(nil)

var (
	dhtMetricsOnce sync.Once
	dhtMetrics     *prometheus.Registry
)

// dhtGatherer gathers kad-dht's metrics. kad-dht v0.42 records them with
// OpenTelemetry's global meter provider (go.opentelemetry.io/otel), so the
// first node to serve an API installs a provider exporting to a registry
// of its own: the metrics are process-wide (labelled by DHT instance when
// a process runs several nodes).
func dhtGatherer() prometheus.Gatherer {
	dhtMetricsOnce.Do(func() {
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			dhtMetrics = reg // empty: the exporter could not be built
			return
		}
		otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)))
		dhtMetrics = reg
	})
	return dhtMetrics
}

// metricsHandler serves /metrics: the node's registry and kad-dht's.
func (n *Node) metricsHandler() http.Handler {
	return promhttp.HandlerFor(prometheus.Gatherers{n.reg, dhtGatherer()},
		promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
