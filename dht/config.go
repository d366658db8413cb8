package dht

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Mode values for Config.Mode.
const (
	ModeServer = "server" // answer queries from other peers (the default)
	ModeClient = "client" // query only; never answer
	ModeAuto   = "auto"   // server when AutoNAT says we are reachable
)

// DefaultProtocolPrefix makes the DHT speak /enxame/kad/1.0.0, so an enxame
// swarm never mixes into the public IPFS DHT by accident.
const DefaultProtocolPrefix = "/enxame"

// Config configures a Router. A zero field means "use the default" given in
// its comment; DefaultConfig returns every default filled in.
type Config struct {
	// ProtocolPrefix is prepended to /kad/1.0.0. Default "/enxame".
	ProtocolPrefix string `yaml:"protocol_prefix" json:"protocol_prefix"`
	// Mode is "server", "client" or "auto". Default "auto": a server
	// until AutoNAT finds this peer unreachable (behind NAT), then a client
	// until it is reachable again.
	Mode string `yaml:"mode" json:"mode"`
	// BucketSize is Kademlia's k. Default 20.
	BucketSize int `yaml:"bucket_size" json:"bucket_size"`
	// Concurrency is Kademlia's alpha: queries in flight per lookup. Default 10.
	Concurrency int `yaml:"concurrency" json:"concurrency"`
	// RefreshInterval is the period of the routing-table refresh. Default 10m.
	RefreshInterval time.Duration `yaml:"refresh_interval" json:"refresh_interval"`
	// DisableDiversityFilter turns off the routing-table peer-diversity
	// filter, which admits at most DiversityMaxPerTable peers from one IP
	// group (/16 for IPv4). Turn it off only for LAN or loopback swarms where
	// every peer shares one group. Default false (filter on).
	DisableDiversityFilter bool `yaml:"disable_diversity_filter" json:"disable_diversity_filter"`
	// DiversityMaxPerCPL caps peers of one IP group per bucket. Default 2.
	DiversityMaxPerCPL int `yaml:"diversity_max_per_cpl" json:"diversity_max_per_cpl"`
	// DiversityMaxPerTable caps peers of one IP group in the table. Default 3.
	DiversityMaxPerTable int `yaml:"diversity_max_per_table" json:"diversity_max_per_table"`
	// MinPeers: while the host has fewer connections than this, disconnected
	// bootstrap peers are dialled again. Default 4.
	MinPeers int `yaml:"min_peers" json:"min_peers"`
	// DialTimeout bounds one dial of a bootstrap peer. Default 10s.
	DialTimeout time.Duration `yaml:"dial_timeout" json:"dial_timeout"`
	// RetryMin is the first retry delay for an unreachable bootstrap peer;
	// it doubles on each failure up to RetryMax. Defaults 1s and 2m.
	RetryMin time.Duration `yaml:"retry_min" json:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max" json:"retry_max"`
	// CheckInterval is how often the bootstrap loop checks connectivity.
	// Default 30s.
	CheckInterval time.Duration `yaml:"check_interval" json:"check_interval"`
	// RequestTimeout bounds one DHT request to one peer, whatever the
	// caller's deadline: opening the stream, sending, and reading the
	// answer. A peer that misses it is taken out of the routing table and
	// muted (see MuteMin), and the lookup goes on without it. Default 3s:
	// a DHT answer is computed from memory and the local datastore, so it
	// takes one round trip once the stream is open; 3s is 7× a 400ms
	// intercontinental RTT and twice a fresh QUIC or TCP+TLS handshake
	// (about 4 RTT) opened for the request at that RTT. kad-dht's own
	// sender waits 10s and then retries once (20s per silent peer).
	RequestTimeout time.Duration `yaml:"request_timeout" json:"request_timeout"`
	// LookupTimeout bounds the closest-peers lookup of Provide; when it
	// passes, the record goes to the closest peers found so far. A
	// caller's earlier deadline shortens it, keeping a tenth (at most 1s)
	// for storing the record. Default 15s: a lookup takes about log2(N/k)
	// rounds of one RTT each, plus at most one RequestTimeout for each
	// round that a silent peer holds up.
	LookupTimeout time.Duration `yaml:"lookup_timeout" json:"lookup_timeout"`
	// MuteMin is how long requests to a peer that let a request time out
	// fail at once, so that no lookup of this node waits on it again; each
	// further timeout in a row doubles it, up to MuteMax; an answer clears
	// it. Defaults 30s and 10m (the routing-table refresh period): an
	// overloaded but honest peer loses half a minute, a silent one is
	// asked about once per refresh.
	MuteMin time.Duration `yaml:"mute_min" json:"mute_min"`
	MuteMax time.Duration `yaml:"mute_max" json:"mute_max"`
	// MaxProviderRecordsPerPeer caps the provider records one peer may
	// store on this node (one per key it announces); its records past it
	// are dropped until some expire. Default 4096.
	MaxProviderRecordsPerPeer int `yaml:"max_provider_records_per_peer" json:"max_provider_records_per_peer"`
	// MaxProvidersPerKey caps the providers of one key this node stores;
	// lookups return 20 at most. Default 256.
	MaxProvidersPerKey int `yaml:"max_providers_per_key" json:"max_providers_per_key"`

	// Bootstrap lists the multiaddrs, each ending in /p2p/PEERID, of the
	// peers to join through. node fills it from its own top-level setting.
	Bootstrap []string `yaml:"-" json:"-"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	return Config{
		ProtocolPrefix:       DefaultProtocolPrefix,
		Mode:                 ModeAuto,
		BucketSize:           20,
		Concurrency:          10,
		RefreshInterval:      10 * time.Minute,
		DiversityMaxPerCPL:   2,
		DiversityMaxPerTable: 3,
		MinPeers:             4,
		DialTimeout:          10 * time.Second,
		RetryMin:             time.Second,
		RetryMax:             2 * time.Minute,
		CheckInterval:        30 * time.Second,
		RequestTimeout:       3 * time.Second,
		LookupTimeout:        15 * time.Second,
		MuteMin:              30 * time.Second,
		MuteMax:              10 * time.Minute,

		MaxProviderRecordsPerPeer: 4096,
		MaxProvidersPerKey:        256,
	}
}

// WithDefaults returns c with zero fields replaced by defaults.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.ProtocolPrefix == "" {
		c.ProtocolPrefix = d.ProtocolPrefix
	}
	if c.Mode == "" {
		c.Mode = d.Mode
	}
	if c.BucketSize == 0 {
		c.BucketSize = d.BucketSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = d.RefreshInterval
	}
	if c.DiversityMaxPerCPL == 0 {
		c.DiversityMaxPerCPL = d.DiversityMaxPerCPL
	}
	if c.DiversityMaxPerTable == 0 {
		c.DiversityMaxPerTable = d.DiversityMaxPerTable
	}
	if c.MinPeers == 0 {
		c.MinPeers = d.MinPeers
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.RetryMin == 0 {
		c.RetryMin = d.RetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = d.RetryMax
	}
	if c.CheckInterval == 0 {
		c.CheckInterval = d.CheckInterval
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.LookupTimeout == 0 {
		c.LookupTimeout = d.LookupTimeout
	}
	if c.MuteMin == 0 {
		c.MuteMin = d.MuteMin
	}
	if c.MuteMax == 0 {
		c.MuteMax = d.MuteMax
	}
	if c.MaxProviderRecordsPerPeer == 0 {
		c.MaxProviderRecordsPerPeer = d.MaxProviderRecordsPerPeer
	}
	if c.MaxProvidersPerKey == 0 {
		c.MaxProvidersPerKey = d.MaxProvidersPerKey
	}
	return c
}

// FieldError reports an invalid Config field. Field is the field's name in
// the config file (e.g. "mode").
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "dht: config: " + e.Field + ": " + e.Reason }

// Validate reports the first invalid field of c (after defaults are applied)
// as a *FieldError.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch c.Mode {
	case ModeServer, ModeClient, ModeAuto:
	default:
		return &FieldError{"mode", fmt.Sprintf("%q: want server, client or auto", c.Mode)}
	}
	if c.ProtocolPrefix[0] != '/' {
		return &FieldError{"protocol_prefix", fmt.Sprintf("%q must start with /", c.ProtocolPrefix)}
	}
	ints := []struct {
		name string
		v    int
	}{
		{"bucket_size", c.BucketSize}, {"concurrency", c.Concurrency},
		{"diversity_max_per_cpl", c.DiversityMaxPerCPL}, {"diversity_max_per_table", c.DiversityMaxPerTable},
		{"min_peers", c.MinPeers},
		{"max_provider_records_per_peer", c.MaxProviderRecordsPerPeer}, {"max_providers_per_key", c.MaxProvidersPerKey},
	}
	for _, f := range ints {
		if f.v < 0 {
			return &FieldError{f.name, fmt.Sprintf("must be > 0, got %d", f.v)}
		}
	}
	durs := []struct {
		name string
		v    time.Duration
	}{
		{"refresh_interval", c.RefreshInterval}, {"dial_timeout", c.DialTimeout},
		{"retry_min", c.RetryMin}, {"retry_max", c.RetryMax}, {"check_interval", c.CheckInterval},
		{"request_timeout", c.RequestTimeout}, {"lookup_timeout", c.LookupTimeout},
		{"mute_min", c.MuteMin}, {"mute_max", c.MuteMax},
	}
	for _, f := range durs {
		if f.v < 0 {
			return &FieldError{f.name, fmt.Sprintf("must be > 0, got %s", f.v)}
		}
	}
	if c.RetryMax < c.RetryMin {
		return &FieldError{"retry_max", fmt.Sprintf("%s is below retry_min %s", c.RetryMax, c.RetryMin)}
	}
	if c.MuteMax < c.MuteMin {
		return &FieldError{"mute_max", fmt.Sprintf("%s is below mute_min %s", c.MuteMax, c.MuteMin)}
	}
	if _, err := ParseBootstrap(c.Bootstrap); err != nil {
		return fmt.Errorf("dht: config: %w", err)
	}
	return nil
}

// ParseBootstrap parses bootstrap multiaddrs; each must end in /p2p/PEERID.
// Several addresses of one peer are merged into one AddrInfo, in first-seen
// order.
func ParseBootstrap(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	index := map[peer.ID]int{}
	for i, s := range addrs {
		ai, err := ParsePeerAddr(s)
		if err != nil {
			return nil, fmt.Errorf("bootstrap[%d]: %w", i, err)
		}
		if j, ok := index[ai.ID]; ok {
			out[j].Addrs = append(out[j].Addrs, ai.Addrs...)
			continue
		}
		index[ai.ID] = len(out)
		out = append(out, ai)
	}
	return out, nil
}

// ParsePeerAddr parses one multiaddr that must end in /p2p/PEERID.
func ParsePeerAddr(s string) (peer.AddrInfo, error) {
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("malformed multiaddr %q: %w", s, err)
	}
	if _, err := m.ValueForProtocol(ma.P_P2P); err != nil {
		return peer.AddrInfo{}, fmt.Errorf("multiaddr %q has no /p2p/PEERID part: add the peer ID it prints at start", s)
	}
	ai, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("multiaddr %q: %w", s, err)
	}
	return *ai, nil
}
