package node

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/enxame/enxame/share"
	"io"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/enxame/enxame/dht"
	ma "github.com/multiformats/go-multiaddr"
	"go.yaml.in/yaml/v3"
)

// DefaultPort is the TCP and UDP port a daemon listens on by default.
const DefaultPort = 4100

// MaxConfigBytes caps the size of a config file.
const MaxConfigBytes = 1 << 20

// Config configures a Node. It is plain data, read from the home's
// config.yaml and flags. A zero field means "use the default" given in its
// comment; DefaultConfig returns every default filled in.
type Config struct {
	// Home is the node's home directory (identity, config, datastore, API
	// socket). Empty means an ephemeral node: a fresh identity, an in-memory
	// datastore and no API socket unless APISocket is absolute. Not read
	// from the config file.
	Home string `yaml:"-" json:"home,omitempty"`

	// Listen lists the multiaddrs to listen on. Default TCP and QUIC on
	// port 4100, IPv4 and IPv6, all interfaces.
	Listen []string `yaml:"listen" json:"listen"`
	// Bootstrap lists the peers to join the swarm through: multiaddrs each
	// ending in /p2p/PEERID. Default none.
	Bootstrap []string `yaml:"bootstrap" json:"bootstrap"`
	// APISocket is the control API's unix socket; a relative path is inside
	// Home. Default "api.sock".
	APISocket string `yaml:"api_socket" json:"api_socket"`
	// SwarmKey is the path of a libp2p private-network key file (a relative
	// path is inside Home). Only peers with the same key can connect. QUIC
	// is off in a private swarm (libp2p's PSK works over TCP only). Default
	// none: a public swarm.
	SwarmKey string `yaml:"swarm_key" json:"swarm_key,omitempty"`
	// DisableMDNS turns off LAN peer discovery by mDNS. Default false.
	DisableMDNS bool `yaml:"disable_mdns" json:"disable_mdns"`
	// MDNSService is the mDNS service name; peers only find others that use
	// the same one. Default "enxame".
	MDNSService string `yaml:"mdns_service" json:"mdns_service"`
	// NATPortMap is kept so that older config files still load; port
	// mapping is now on by default and turned off by nat.disable_port_map.
	NATPortMap bool `yaml:"nat_port_map" json:"nat_port_map,omitempty"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `yaml:"log_level" json:"log_level"`

	Connections ConnConfig     `yaml:"connections" json:"connections"`
	Resources   ResourceConfig `yaml:"resources" json:"resources"`
	DHT         dht.Config     `yaml:"dht" json:"dht"`
	Compute     ComputeConfig  `yaml:"compute" json:"compute"`
	Share       ShareConfig    `yaml:"share" json:"share"`
	Storage     StorageConfig  `yaml:"storage" json:"storage"`
	NAT         NATConfig      `yaml:"nat" json:"nat"`
}

// StorageConfig configures the block store.
type StorageConfig struct {
	// Max is the block store's quota: the most bytes of blocks it keeps.
	// Before a write (add, fetch, a work unit's output) would pass it, the
	// store removes unpinned blocks, oldest first, down to 90 %; when
	// pinned data alone would pass it the write fails. Written like 500MB
	// or 10GiB. Default 10GiB.
	Max ByteSize `yaml:"max" json:"max"`
}

// NATConfig configures reachability: port mapping, the relay service this
// peer offers when it is public, the relays it takes when it is not, and
// hole punching.
type NATConfig struct {
	// DisablePortMap turns off asking the LAN router for a port mapping
	// (UPnP, NAT-PMP). Default false: on.
	DisablePortMap bool `yaml:"disable_port_map" json:"disable_port_map"`
	// DisableRelayService stops this peer from relaying for NAT'd peers
	// when it is publicly reachable. Default false.
	DisableRelayService bool `yaml:"disable_relay_service" json:"disable_relay_service"`
	// DisableAutoRelay stops this peer, when it is behind NAT, from taking
	// relay reservations. Default false.
	DisableAutoRelay bool `yaml:"disable_auto_relay" json:"disable_auto_relay"`
	// DisableHolePunching turns off DCUtR. Default false.
	DisableHolePunching bool `yaml:"disable_hole_punching" json:"disable_hole_punching"`
	// StaticRelays are relays (multiaddrs ending in /p2p/PEERID) used
	// instead of ones found among connected and DHT peers. Default none.
	StaticRelays []string `yaml:"static_relays,omitempty" json:"static_relays,omitempty"`
	// Relay sizes the relay service.
	Relay RelayConfig `yaml:"relay" json:"relay"`
}

// RelayConfig sizes the circuit-relay v2 service of a public peer.
type RelayConfig struct {
	// MaxReservations is how many NAT'd peers may hold a slot at once.
	// Default 256.
	MaxReservations int `yaml:"max_reservations" json:"max_reservations"`
	// MaxCircuits is how many relayed connections one peer may have open
	// at once. Default 16.
	MaxCircuits int `yaml:"max_circuits" json:"max_circuits"`
	// Duration is how long one relayed connection may live. Default 2m:
	// long enough for hole punching and a small transfer.
	Duration time.Duration `yaml:"duration" json:"duration"`
	// Data is how many bytes one relayed connection may carry each way.
	// Default 64MiB: a file or unit fallback when hole punching fails.
	Data ByteSize `yaml:"data" json:"data"`
	// ReservationTTL is how long a reservation lasts before it must be
	// refreshed. Default 1h.
	ReservationTTL time.Duration `yaml:"reservation_ttl" json:"reservation_ttl"`
}

// ShareConfig configures file sharing.
type ShareConfig struct {
	// ReprovideInterval is how often every pinned root is announced in the
	// DHT again (provider records expire after 48h). Default 12h.
	ReprovideInterval time.Duration `yaml:"reprovide_interval" json:"reprovide_interval"`
	// Provide is what the peer announces in the DHT: "pinned" (pinned and
	// added content), "fetched" (also what it fetched, while the blocks
	// stay in the store: it shares back what it downloaded; enxame get
	// --no-share skips one fetch) or "all" (also every stored block, at
	// each reprovide). Default "fetched".
	Provide share.ProvideStrategy `yaml:"provide" json:"provide"`
	// Exchange tunes the block exchange with other enxame peers (streams,
	// timeouts, rate limit, peer gating, the multi-source planner). A zero
	// field takes share's default.
	Exchange share.ExchangeConfig `yaml:"exchange" json:"exchange"`
	// DisableBitswap turns off Bitswap, the IPFS block exchange this peer
	// speaks beside its own so that Kubo and other IPFS nodes can fetch from
	// it and it from them. Default false.
	DisableBitswap bool `yaml:"disable_bitswap" json:"disable_bitswap"`
}

// ComputeConfig configures this peer as a compute worker.
type ComputeConfig struct {
	// Disabled stops this peer from running other peers' work units (it
	// can still submit jobs). Default false: every daemon is a worker.
	Disabled bool `yaml:"disabled" json:"disabled"`
	// Slots is how many work units run at once. Default: the number of
	// CPU cores.
	Slots int `yaml:"slots" json:"slots"`
	// MemoryMiB is a unit's memory cap when its job states none, in MiB.
	// Default 256.
	MemoryMiB int `yaml:"memory_mib" json:"memory_mib"`
	// UnitTimeout is a unit's wall time when its job states none. Default
	// 60s.
	UnitTimeout time.Duration `yaml:"unit_timeout" json:"unit_timeout"`
	// Replicas is the trust setting of jobs submitted from this peer that
	// state none: each unit runs on this many distinct workers and the
	// output a majority of them agree on is accepted. 1 accepts one
	// worker's word unverified. Default 1; at most 15.
	Replicas int `yaml:"replicas" json:"replicas"`
	// OutputTTL is how long this worker keeps a unit's output that its
	// submitter has not fetched; a fetched output is dropped at once.
	// Default 1h.
	OutputTTL time.Duration `yaml:"output_ttl" json:"output_ttl"`
	// MaxInputMiB caps the total size of a unit's inputs, in MiB; a fetch
	// stops as soon as it passes the cap and the unit fails with
	// input-too-large. Default 1024.
	MaxInputMiB int `yaml:"max_input_mib" json:"max_input_mib"`
}

// ConnConfig configures the connection manager, which trims connections
// down to Low when there are more than High.
type ConnConfig struct {
	// Low is the number of connections trimming goes down to. Default 100.
	Low int `yaml:"low" json:"low"`
	// High is the number of connections that starts a trim. Default 400.
	High int `yaml:"high" json:"high"`
	// Grace is how long a new connection is safe from trimming. Default 1m.
	Grace time.Duration `yaml:"grace" json:"grace"`
}

// ResourceConfig sets the libp2p resource manager's budget; its per-peer,
// per-protocol and per-service limits scale from it.
type ResourceConfig struct {
	// MaxMemoryMiB is the memory libp2p may reserve, in MiB. Default 0:
	// one eighth of the machine's memory.
	MaxMemoryMiB int `yaml:"max_memory_mib" json:"max_memory_mib"`
	// MaxFileDescriptors is the number of file descriptors libp2p may use.
	// Default 0: half of the process limit.
	MaxFileDescriptors int `yaml:"max_file_descriptors" json:"max_file_descriptors"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config {
	p := strconv.Itoa(DefaultPort)
	return Config{
		Listen: []string{
			"/ip4/0.0.0.0/tcp/" + p,
			"/ip4/0.0.0.0/udp/" + p + "/quic-v1",
			"/ip6/::/tcp/" + p,
			"/ip6/::/udp/" + p + "/quic-v1",
		},
		Bootstrap:   []string{},
		APISocket:   "api.sock",
		MDNSService: "enxame",
		LogLevel:    "info",
		Connections: ConnConfig{Low: 100, High: 400, Grace: time.Minute},
		DHT:         dht.DefaultConfig(),
		Share: ShareConfig{
			ReprovideInterval: 12 * time.Hour,
			Provide:           share.DefaultProvideStrategy,
			Exchange:          share.DefaultExchangeConfig(),
		},
		Storage: StorageConfig{Max: share.DefaultMaxBytes},
		NAT:     NATConfig{Relay: defaultRelay},
		Compute: ComputeConfig{
			Slots:       runtime.NumCPU(),
			MemoryMiB:   256,
			UnitTimeout: time.Minute,
			Replicas:    1,
			OutputTTL:   time.Hour,
			MaxInputMiB: 1024,
		},
	}
}

// WithDefaults returns c with every zero field replaced by its default.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if len(c.Listen) == 0 {
		c.Listen = d.Listen
	}
	if c.Bootstrap == nil {
		c.Bootstrap = []string{}
	}
	if c.APISocket == "" {
		c.APISocket = d.APISocket
	}
	if c.MDNSService == "" {
		c.MDNSService = d.MDNSService
	}
	if c.LogLevel == "" {
		c.LogLevel = d.LogLevel
	}
	if c.Connections.Low == 0 {
		c.Connections.Low = d.Connections.Low
	}
	if c.Connections.High == 0 {
		c.Connections.High = d.Connections.High
	}
	if c.Connections.Grace == 0 {
		c.Connections.Grace = d.Connections.Grace
	}
	c.DHT = c.DHT.WithDefaults()
	if c.Share.ReprovideInterval == 0 {
		c.Share.ReprovideInterval = d.Share.ReprovideInterval
	}
	if c.Share.Provide == "" {
		c.Share.Provide = d.Share.Provide
	}
	if reflect.ValueOf(c.Share.Exchange).IsZero() {
		c.Share.Exchange = d.Share.Exchange
	}
	if c.Storage.Max == 0 {
		c.Storage.Max = d.Storage.Max
	}
	c.NAT.Relay = c.NAT.Relay.withDefaults()
	if c.Compute.Slots == 0 {
		c.Compute.Slots = d.Compute.Slots
	}
	if c.Compute.MemoryMiB == 0 {
		c.Compute.MemoryMiB = d.Compute.MemoryMiB
	}
	if c.Compute.UnitTimeout == 0 {
		c.Compute.UnitTimeout = d.Compute.UnitTimeout
	}
	if c.Compute.Replicas == 0 {
		c.Compute.Replicas = d.Compute.Replicas
	}
	if c.Compute.OutputTTL == 0 {
		c.Compute.OutputTTL = d.Compute.OutputTTL
	}
	if c.Compute.MaxInputMiB == 0 {
		c.Compute.MaxInputMiB = d.Compute.MaxInputMiB
	}
	return c
}

// ConfigError reports an invalid config value: the field's path in the
// config file (e.g. "dht.mode", "bootstrap[1]") and, when known, the line.
type ConfigError struct {
	File  string // file name, or "" when not from a file
	Line  int    // 1-based; 0 when unknown
	Field string
	Err   error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// Validate reports the first invalid field of c as a *ConfigError.
func (c Config) Validate() error {
	c = c.WithDefaults()
	for i, s := range c.Listen {
		if _, err := ma.NewMultiaddr(s); err != nil {
			return &ConfigError{Field: fmt.Sprintf("listen[%d]", i), Err: fmt.Errorf("malformed multiaddr %q: %w", s, err)}
		}
	}
	for i, s := range c.Bootstrap {
		if _, err := dht.ParsePeerAddr(s); err != nil {
			return &ConfigError{Field: fmt.Sprintf("bootstrap[%d]", i), Err: err}
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return &ConfigError{Field: "log_level", Err: fmt.Errorf("%q: want debug, info, warn or error", c.LogLevel)}
	}
	if c.Connections.Low < 0 || c.Connections.High < c.Connections.Low {
		return &ConfigError{Field: "connections.high", Err: fmt.Errorf("want 0 <= low (%d) <= high (%d)", c.Connections.Low, c.Connections.High)}
	}
	if c.Share.ReprovideInterval < 0 {
		return &ConfigError{Field: "share.reprovide_interval", Err: fmt.Errorf("must be >= 0, got %s", c.Share.ReprovideInterval)}
	}
	switch c.Share.Provide {
	case "", share.ProvidePinned, share.ProvideFetched, share.ProvideAll:
	default:
		return &ConfigError{Field: "share.provide", Err: fmt.Errorf("%q: want pinned, fetched or all", c.Share.Provide)}
	}
	if c.Storage.Max < 0 {
		return &ConfigError{Field: "storage.max", Err: fmt.Errorf("must be >= 0, got %d", c.Storage.Max)}
	}
	if c.Compute.Slots < 0 {
		return &ConfigError{Field: "compute.slots", Err: fmt.Errorf("must be >= 0, got %d", c.Compute.Slots)}
	}
	if c.Compute.MemoryMiB < 0 {
		return &ConfigError{Field: "compute.memory_mib", Err: fmt.Errorf("must be >= 0, got %d", c.Compute.MemoryMiB)}
	}
	if c.Compute.UnitTimeout < 0 {
		return &ConfigError{Field: "compute.unit_timeout", Err: fmt.Errorf("must be >= 0, got %s", c.Compute.UnitTimeout)}
	}
	if c.Compute.Replicas < 0 || c.Compute.Replicas > 15 {
		return &ConfigError{Field: "compute.replicas", Err: fmt.Errorf("want 1 to 15, got %d", c.Compute.Replicas)}
	}
	if c.Compute.MaxInputMiB < 0 {
		return &ConfigError{Field: "compute.max_input_mib", Err: fmt.Errorf("must be >= 0, got %d", c.Compute.MaxInputMiB)}
	}
	if c.Compute.OutputTTL < 0 {
		return &ConfigError{Field: "compute.output_ttl", Err: fmt.Errorf("must be >= 0, got %s", c.Compute.OutputTTL)}
	}
	if c.Connections.Grace < 0 {
		return &ConfigError{Field: "connections.grace", Err: errors.New("must be >= 0")}
	}
	if c.Resources.MaxMemoryMiB < 0 {
		return &ConfigError{Field: "resources.max_memory_mib", Err: errors.New("must be >= 0")}
	}
	if c.Resources.MaxFileDescriptors < 0 {
		return &ConfigError{Field: "resources.max_file_descriptors", Err: errors.New("must be >= 0")}
	}
	if err := c.NAT.validate(); err != nil {
		return err
	}
	if err := c.DHT.Validate(); err != nil {
		var fe *dht.FieldError
		if errors.As(err, &fe) {
			return &ConfigError{Field: "dht." + fe.Field, Err: errors.New(fe.Reason)}
		}
		return &ConfigError{Field: "dht", Err: err}
	}
	return nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// ParseConfig decodes a YAML config file over DefaultConfig and validates
// it. name is used in error messages. Unknown fields, wrong types and
// invalid values are errors of type *ConfigError naming the field and line.
func ParseConfig(name string, data []byte) (Config, error) {
	if len(data) > MaxConfigBytes {
		return Config{}, &ConfigError{File: name, Err: fmt.Errorf("file is over %d bytes", MaxConfigBytes)}
	}
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&cfg)
	if errors.Is(err, io.EOF) {
		err = nil // an empty file means all defaults
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	if err != nil {
		return Config{}, yamlError(name, &root, err)
	}
	// A second document is almost certainly a mistake.
	var extra yaml.Node
	if dec.Decode(&extra) == nil {
		return Config{}, &ConfigError{File: name, Line: extra.Line, Err: errors.New("more than one YAML document")}
	}
	if err := cfg.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.File = name
			ce.Line = lineOf(&root, ce.Field)
			return Config{}, ce
		}
		return Config{}, &ConfigError{File: name, Err: err}
	}
	return cfg.WithDefaults(), nil
}

// yamlError turns a yaml.v3 error into a *ConfigError with a line and,
// where it can be found, the field at that line.
func yamlError(name string, root *yaml.Node, err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	m := yamlLine.FindStringSubmatch(strings.TrimPrefix(msg, "yaml: "))
	if m == nil {
		return &ConfigError{File: name, Err: errors.New(strings.TrimPrefix(msg, "yaml: "))}
	}
	line, _ := strconv.Atoi(m[1])
	text := m[2]
	text = strings.Replace(text, " in type node.Config", "", 1)
	text = strings.Replace(text, " in type dht.Config", "", 1)
	text = strings.Replace(text, " in type node.ConnConfig", "", 1)
	text = strings.Replace(text, " in type node.ResourceConfig", "", 1)
	text = strings.Replace(text, " in type node.StorageConfig", "", 1)
	text = strings.Replace(text, " in type node.NATConfig", "", 1)
	text = strings.Replace(text, " in type node.RelayConfig", "", 1)
	return &ConfigError{File: name, Line: line, Field: fieldAt(root, line), Err: errors.New(text)}
}

// fieldAt returns the dotted path of the key or value on line, or "".
func fieldAt(n *yaml.Node, line int) string {
	var walk func(n *yaml.Node, path string) string
	walk = func(n *yaml.Node, path string) string {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if p := walk(c, path); p != "" {
					return p
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if sub := walk(v, p); sub != "" {
					return sub
				}
				if k.Line == line || (v.Kind == yaml.ScalarNode && v.Line == line) {
					return p
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if sub := walk(c, p); sub != "" {
					return sub
				}
				if c.Line == line {
					return p
				}
			}
		}
		return ""
	}
	return walk(n, "")
}

// lineOf returns the line of the field at path ("dht.mode", "bootstrap[1]")
// in the document, or 0 when it is not in the file.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, seg := range strings.Split(path, ".") {
		key, idx := seg, -1
		if i := strings.IndexByte(seg, '['); i >= 0 && strings.HasSuffix(seg, "]") {
			key = seg[:i]
			idx, _ = strconv.Atoi(seg[i+1 : len(seg)-1])
		}
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line = n.Content[i].Line
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line
		}
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

// ConfigTemplate is the commented config file `enxame init` writes. It
// decodes to DefaultConfig.
func ConfigTemplate() string {
	d := DefaultConfig()
	var b strings.Builder
	fmt.Fprintf(&b, `# enxame configuration. Durations are written like 30s, 5m, 1h.
# Every field may be removed: a missing field takes its default.

# Multiaddrs this peer listens on (TCP and QUIC, IPv4 and IPv6).
listen:
`)
	for _, l := range d.Listen {
		fmt.Fprintf(&b, "  - %s\n", l)
	}
	fmt.Fprintf(&b, `
# Peers to join the swarm through: multiaddrs ending in /p2p/PEERID, as
# printed by another peer's 'enxame daemon' or 'enxame id'.
bootstrap: []

# The local control API's unix socket (relative paths are in this home).
api_socket: %s

# A libp2p private-network key file; only peers with the same key connect.
# Empty: a public swarm.
swarm_key: ""

# mDNS discovery of peers on the local network.
disable_mdns: false
mdns_service: %s

# debug, info, warn or error.
log_level: %s

# The connection manager trims down to 'low' connections above 'high'.
connections:
  low: %d
  high: %d
  grace: %s

# The libp2p resource manager's budget (0: scale to this machine).
resources:
  max_memory_mib: 0
  max_file_descriptors: 0

# The Kademlia DHT.
dht:
  protocol_prefix: %s
  # server answers other peers' queries; client only asks; auto follows AutoNAT.
  mode: %s
  bucket_size: %d
  concurrency: %d
  refresh_interval: %s
  # The diversity filter admits at most diversity_max_per_table peers from
  # one /16 (IPv4) into the routing table. Set disable_diversity_filter to
  # true only for LAN or loopback swarms.
  disable_diversity_filter: false
  diversity_max_per_cpl: %d
  diversity_max_per_table: %d
  # Bootstrap peers are dialled again while we have fewer connections.
  min_peers: %d
  dial_timeout: %s
  # An unreachable bootstrap peer is retried after retry_min, doubling up
  # to retry_max.
  retry_min: %s
  retry_max: %s
  check_interval: %s
  # A peer that does not answer one request within request_timeout is
  # dropped from the routing table and muted for mute_min, doubling up to
  # mute_max while it stays silent; a provide's lookup stops after
  # lookup_timeout and stores the record on the closest peers found.
  request_timeout: %s
  lookup_timeout: %s
  mute_min: %s
  mute_max: %s

# This peer as a compute worker for the swarm.
compute:
  # true: run no work units for other peers (jobs can still be submitted).
  disabled: false
  # Work units run at once (default: one per CPU core).
  slots: %d
  # A unit's memory cap in MiB and wall time, when its job states none.
  memory_mib: %d
  unit_timeout: %s

# File sharing.
share:
  # How often pinned content is announced in the DHT again.
  reprovide_interval: %s
  # What is announced: pinned (and added) content, fetched (also what this
  # peer fetched, while it keeps the blocks) or all (every stored block).
  provide: fetched
  # Speak Bitswap too, for IPFS (Kubo) interop.
  disable_bitswap: false
  # exchange: tunables of the block exchange (see 'enxame config show').

# The block store.
storage:
  # Quota of the stored blocks, like 500MB or 10GiB. Past it, unpinned
  # blocks are removed oldest first; when pinned data alone would pass it,
  # writes fail ('enxame repo stat' shows the use).
  max: %s

# Reachability behind NAT: a public peer relays for NAT'd ones (within the
# limits below), a NAT'd peer takes relays among its peers and then punches
# a hole for a direct connection (DCUtR).
nat:
  # Ask the LAN router for a port mapping (UPnP / NAT-PMP).
  disable_port_map: false
  disable_relay_service: false
  disable_auto_relay: false
  disable_hole_punching: false
  # Relays to use instead of ones found in the swarm (multiaddrs ending in
  # /p2p/PEERID).
  # static_relays: [/ip4/…/tcp/4100/p2p/12D3Koo…]
  relay:
    max_reservations: %d
    max_circuits: %d
    # One relayed connection's lifetime and bytes each way.
    duration: %s
    data: %s
    reservation_ttl: %s
`, d.APISocket, d.MDNSService, d.LogLevel,
		d.Connections.Low, d.Connections.High, d.Connections.Grace,
		d.DHT.ProtocolPrefix, d.DHT.Mode, d.DHT.BucketSize, d.DHT.Concurrency, d.DHT.RefreshInterval,
		d.DHT.DiversityMaxPerCPL, d.DHT.DiversityMaxPerTable, d.DHT.MinPeers, d.DHT.DialTimeout,
		d.DHT.RetryMin, d.DHT.RetryMax, d.DHT.CheckInterval,
		d.DHT.RequestTimeout, d.DHT.LookupTimeout, d.DHT.MuteMin, d.DHT.MuteMax,
		d.Compute.Slots, d.Compute.MemoryMiB, d.Compute.UnitTimeout,
		d.Share.ReprovideInterval, d.Storage.Max,
		d.NAT.Relay.MaxReservations, d.NAT.Relay.MaxCircuits, d.NAT.Relay.Duration, d.NAT.Relay.Data,
		d.NAT.Relay.ReservationTTL)
	return b.String()
}
