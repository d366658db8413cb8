package share

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the share service's Prometheus metrics. Build one with
// NewMetrics, hand it to the Exchange (ExchangeDeps.Metrics) and, when
// Bitswap runs, to AttachBitswap; a nil *Metrics records nothing. It is a
// prometheus.Collector; its methods are safe for concurrent use.
//
//	enxame_share_bytes_served_total{protocol}   block bytes sent to peers (exchange, bitswap)
//	enxame_share_bytes_fetched_total{protocol}  block bytes received from peers (exchange: verified)
//	enxame_share_blocks_verified_total          fetched blocks that matched their CID (exchange)
//	enxame_share_blocks_rejected_total          fetched blocks that did not; the sender is dropped
//	enxame_share_providers_dropped_total        providers a fetch dropped (bad block, stall, errors)
//	enxame_store_bytes                          size of the stored blocks
//	enxame_store_blocks                         number of stored blocks
//	enxame_store_max_bytes                      the store's quota (storage.max)
type Metrics struct {
	served, fetched          atomic.Int64 // exchange bytes
	verified, rejected, drop atomic.Int64
	bitswap                  atomic.Pointer[Bitswap]
	store                    *Store
}

var (
	descServed   = prometheus.NewDesc("enxame_share_bytes_served_total", "Block bytes sent to other peers, by protocol.", []string{"protocol"}, nil)
	descFetched  = prometheus.NewDesc("enxame_share_bytes_fetched_total", "Block bytes received from other peers, by protocol (exchange: verified ones).", []string{"protocol"}, nil)
	descVerified = prometheus.NewDesc("enxame_share_blocks_verified_total", "Fetched blocks whose bytes matched their CID.", nil, nil)
	descRejected = prometheus.NewDesc("enxame_share_blocks_rejected_total", "Fetched blocks whose bytes did not match their CID.", nil, nil)
	descDropped  = prometheus.NewDesc("enxame_share_providers_dropped_total", "Providers a fetch dropped (bad block, stall, errors).", nil, nil)
	descStore    = prometheus.NewDesc("enxame_store_bytes", "Size of the stored blocks in bytes.", nil, nil)
	descBlocks   = prometheus.NewDesc("enxame_store_blocks", "Number of stored blocks.", nil, nil)
	descMax      = prometheus.NewDesc("enxame_store_max_bytes", "The block store's quota in bytes (storage.max).", nil, nil)
)

// NewMetrics returns the share metrics of st (nil: no store gauges). Node
// registers the result with its registry.
func NewMetrics(st *Store) *Metrics { return &Metrics{store: st} }

// AttachBitswap adds b's byte counts to the metrics (protocol "bitswap").
func (m *Metrics) AttachBitswap(b *Bitswap) {
	if m != nil {
		m.bitswap.Store(b)
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descServed, descFetched, descVerified, descRejected, descDropped, descStore, descBlocks, descMax} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descServed, m.served.Load(), "exchange")
	counter(descFetched, m.fetched.Load(), "exchange")
	var bsSent, bsRecv int64
	if b := m.bitswap.Load(); b != nil {
		if st, err := b.bs.Stat(); err == nil && st != nil {
			bsSent, bsRecv = int64(st.DataSent), int64(st.DataReceived)
		}
	}
	counter(descServed, bsSent, "bitswap")
	counter(descFetched, bsRecv, "bitswap")
	counter(descVerified, m.verified.Load())
	counter(descRejected, m.rejected.Load())
	counter(descDropped, m.drop.Load())
	if st := m.store; st != nil {
		ch <- prometheus.MustNewConstMetric(descStore, prometheus.GaugeValue, float64(st.used.Load()))
		ch <- prometheus.MustNewConstMetric(descBlocks, prometheus.GaugeValue, float64(st.nblocks.Load()))
		ch <- prometheus.MustNewConstMetric(descMax, prometheus.GaugeValue, float64(st.cfg.MaxBytes))
	}
}

func (m *Metrics) blockServed(n int) {
	if m != nil && n > 0 {
		m.served.Add(int64(n))
	}
}

func (m *Metrics) blockVerified(n int) {
	if m != nil {
		m.verified.Add(1)
		m.fetched.Add(int64(n))
	}
}

func (m *Metrics) blockRejected() {
	if m != nil {
		m.rejected.Add(1)
	}
}

func (m *Metrics) providerDropped() {
	if m != nil {
		m.drop.Add(1)
	}
}
