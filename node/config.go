package node

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/enxame/enxame/share"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/compute/sched"
	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/node/gateway"
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
	// mapping is now on by default.
	//
	// Deprecated: use nat.disable_port_map.
	NATPortMap bool `yaml:"nat_port_map" json:"nat_port_map,omitempty"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `yaml:"log_level" json:"log_level"`

	// Connections is the connection manager: it trims connections down to
	// low when there are more than high.
	Connections ConnConfig `yaml:"connections" json:"connections"`
	// Resources is the libp2p resource manager's budget (0: scale to this
	// machine).
	Resources ResourceConfig `yaml:"resources" json:"resources"`
	// DHT is the Kademlia DHT.
	DHT dht.Config `yaml:"dht" json:"dht"`
	// Compute is this peer as a compute worker for the swarm, and the jobs
	// it submits.
	Compute ComputeConfig `yaml:"compute" json:"compute"`
	// Share is file sharing.
	Share ShareConfig `yaml:"share" json:"share"`
	// Storage is the block store.
	Storage StorageConfig `yaml:"storage" json:"storage"`
	// NAT is reachability behind NAT: a public peer relays for NAT'd ones
	// (within the limits below), a NAT'd peer takes relays among its peers
	// and then punches a hole for a direct connection (DCUtR).
	NAT NATConfig `yaml:"nat" json:"nat"`
	// Gateway is the IPFS HTTP gateway (/ipfs/CID over HTTP, read-only).
	// Off unless gateway.listen is set.
	Gateway gateway.Config `yaml:"gateway" json:"gateway"`
	// Search is keyword search: record lifetime, republishing, and the
	// caps on records stored for others.
	Search dht.SearchConfig `yaml:"search" json:"search"`
	// API is the HTTP API on TCP, for programs and the dashboard.
	API APIConfig `yaml:"api" json:"api"`
}

// APIConfig configures the HTTP API on TCP (the unix socket is APISocket).
type APIConfig struct {
	// Listen is the multiaddr the API listens on over TCP, such as
	// /ip4/127.0.0.1/tcp/5001; every request needs the home's token
	// (api.token). Default "": no TCP API, only the unix socket.
	Listen string `yaml:"listen" json:"listen,omitempty"`
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
	// QueueLen is how many accepted units may wait for a slot beyond those
	// running. Default 0: as many as slots.
	QueueLen int `yaml:"queue_len" json:"queue_len"`
	// PeerShare is the most units one submitting peer may hold here at
	// once, running or queued, so that one peer cannot starve others.
	// Default 0: as many as slots.
	PeerShare int `yaml:"peer_share" json:"peer_share"`
	// MaxMemoryMiB is the most memory, in MiB, a unit may ask for; units
	// asking more are rejected. Default 1024.
	MaxMemoryMiB int `yaml:"max_memory_mib" json:"max_memory_mib"`
	// MaxUnitTimeout is the most wall time a unit may ask for. Default 30m.
	MaxUnitTimeout time.Duration `yaml:"max_unit_timeout" json:"max_unit_timeout"`
	// MaxOutput caps a unit's output; units asking more are rejected.
	// Default 64MiB.
	MaxOutput ByteSize `yaml:"max_output" json:"max_output"`
	// MaxModule caps a module's size. Default 64MiB.
	MaxModule ByteSize `yaml:"max_module" json:"max_module"`
	// Cache caps the worker's cache of fetched modules and inputs; the
	// least recently used are removed past it. Default 4GiB.
	Cache ByteSize `yaml:"cache" json:"cache"`
	// FetchTimeout bounds fetching a unit's module and inputs. Default 10m.
	FetchTimeout time.Duration `yaml:"fetch_timeout" json:"fetch_timeout"`
	// AnnounceInterval is how often the worker announces itself in the DHT
	// again. Default 10m.
	AnnounceInterval time.Duration `yaml:"announce_interval" json:"announce_interval"`
	// HeartbeatInterval is how often the worker tells a submitter that a
	// unit it holds is alive; keep it well below sched.stall_timeout.
	// Default 5s.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval" json:"heartbeat_interval"`
	// Submitter tunes how this peer submits jobs.
	Submitter SubmitterConfig `yaml:"submitter" json:"submitter"`
	// Sched tunes the scheduler of the jobs this peer submits: bids,
	// retries, deadlines, stalls, replicas, backups.
	Sched sched.Config `yaml:"sched" json:"sched"`
}

// SubmitterConfig tunes the job submitter.
type SubmitterConfig struct {
	// RequestTimeout bounds a bid request and the sending of a unit.
	// Default 10s.
	RequestTimeout time.Duration `yaml:"request_timeout" json:"request_timeout"`
	// DiscoverCount is how many workers one DHT lookup asks for. Default 32.
	DiscoverCount int `yaml:"discover_count" json:"discover_count"`
	// DiscoverTimeout bounds one lookup of workers. Default 10s.
	DiscoverTimeout time.Duration `yaml:"discover_timeout" json:"discover_timeout"`
	// MaxSplit caps the input a job may split (it is read into memory).
	// Default 1GiB.
	MaxSplit ByteSize `yaml:"max_split" json:"max_split"`
	// WatchBuffer is how many events a watcher of a job may fall behind
	// before it is cut off, and how many past events a new watcher gets.
	// Default 4096.
	WatchBuffer int `yaml:"watch_buffer" json:"watch_buffer"`
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
		Search:      dht.DefaultSearchConfig(),
		Share: ShareConfig{
			ReprovideInterval: 12 * time.Hour,
			Provide:           share.DefaultProvideStrategy,
			Exchange:          share.DefaultExchangeConfig(),
		},
		Storage: StorageConfig{Max: share.DefaultMaxBytes},
		NAT:     NATConfig{Relay: defaultRelay},
		Gateway: gateway.Config{}.WithDefaults(),
		Compute: defaultCompute(),
	}
}

// defaultCompute takes compute's own defaults, so that they live in one
// place.
func defaultCompute() ComputeConfig {
	w, s := compute.DefaultWorkerConfig(), compute.DefaultSubmitterConfig()
	return ComputeConfig{
		Slots:             w.Slots,
		MemoryMiB:         w.MemoryMiB,
		UnitTimeout:       w.UnitTimeout,
		Replicas:          s.Replicas,
		OutputTTL:         w.OutputTTL,
		MaxInputMiB:       int(w.MaxInputBytes >> 20),
		MaxMemoryMiB:      w.MaxMemoryMiB,
		MaxUnitTimeout:    w.MaxUnitTimeout,
		MaxOutput:         ByteSize(w.MaxOutputBytes),
		MaxModule:         ByteSize(w.MaxModuleBytes),
		Cache:             ByteSize(w.CacheBytes),
		FetchTimeout:      w.FetchTimeout,
		AnnounceInterval:  w.AnnounceInterval,
		HeartbeatInterval: w.HeartbeatInterval,
		Submitter: SubmitterConfig{
			RequestTimeout:  s.RequestTimeout,
			DiscoverCount:   s.DiscoverCount,
			DiscoverTimeout: s.DiscoverTimeout,
			MaxSplit:        ByteSize(s.MaxSplitBytes),
			WatchBuffer:     s.WatchBuffer,
		},
		Sched: s.Sched,
	}
}

// WithDefaults returns c with every zero field replaced by its default
// (DefaultConfig's): numbers, durations, sizes and strings that are zero,
// and lists that are empty. Booleans are never replaced: false is a value.
func (c Config) WithDefaults() Config {
	fillDefaults(reflect.ValueOf(&c).Elem(), reflect.ValueOf(DefaultConfig()))
	if c.Bootstrap == nil {
		c.Bootstrap = []string{}
	}
	c.DHT = c.DHT.WithDefaults()
	c.Search = c.Search.WithDefaults()
	return c
}

// fillDefaults sets every zero leaf of v to the same leaf of d.
func fillDefaults(v, d reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillDefaults(v.Field(i), d.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 && d.Len() > 0 {
			v.Set(d)
		}
	case reflect.Bool:
	default:
		if v.IsZero() {
			v.Set(d)
		}
	}
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
	for _, f := range []struct {
		name string
		bad  bool
	}{
		{"compute.queue_len", c.Compute.QueueLen < 0},
		{"compute.peer_share", c.Compute.PeerShare < 0},
		{"compute.max_memory_mib", c.Compute.MaxMemoryMiB < 0},
		{"compute.max_unit_timeout", c.Compute.MaxUnitTimeout < 0},
		{"compute.max_output", c.Compute.MaxOutput < 0},
		{"compute.max_module", c.Compute.MaxModule < 0},
		{"compute.cache", c.Compute.Cache < 0},
		{"compute.fetch_timeout", c.Compute.FetchTimeout < 0},
		{"compute.announce_interval", c.Compute.AnnounceInterval < 0},
		{"compute.heartbeat_interval", c.Compute.HeartbeatInterval < 0},
		{"compute.submitter.request_timeout", c.Compute.Submitter.RequestTimeout < 0},
		{"compute.submitter.discover_count", c.Compute.Submitter.DiscoverCount < 0},
		{"compute.submitter.discover_timeout", c.Compute.Submitter.DiscoverTimeout < 0},
		{"compute.submitter.max_split", c.Compute.Submitter.MaxSplit < 0},
		{"compute.submitter.watch_buffer", c.Compute.Submitter.WatchBuffer < 0},
	} {
		if f.bad {
			return &ConfigError{Field: f.name, Err: errors.New("must be >= 0")}
		}
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
	if err := c.Gateway.Validate(); err != nil {
		var fe *gateway.FieldError
		if errors.As(err, &fe) {
			return &ConfigError{Field: "gateway." + fe.Field, Err: fe.Err}
		}
		return &ConfigError{Field: "gateway", Err: err}
	}
	if c.API.Listen != "" {
		if _, err := apiListenAddr(c.API.Listen); err != nil {
			return &ConfigError{Field: "api.listen", Err: err}
		}
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

var (
	yamlLine   = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	yamlInType = regexp.MustCompile(` in type [\w.]+`)
)

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
	text = yamlInType.ReplaceAllString(text, "")
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
