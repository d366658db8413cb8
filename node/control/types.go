package control

import (
	"time"
)

// ID describes the node: its peer ID and the addresses to dial it at.
type ID struct {
	ID           string   `json:"id"`
	Addrs        []string `json:"addrs"` // each ends in /p2p/ID
	AgentVersion string   `json:"agent_version"`
	Protocols    []string `json:"protocols"`
}

// Peer is one connected peer.
type Peer struct {
	ID        string        `json:"id"`
	Addr      string        `json:"addr"`
	Direction string        `json:"direction"` // "inbound" or "outbound"
	Latency   time.Duration `json:"latency_ns"`
	Agent     string        `json:"agent,omitempty"`
	// Path is how the connection reached the peer: "direct",
	// "hole-punched" or "relayed" (the best of its connections).
	Path string `json:"path,omitempty"`
}

// ConnectRequest asks the node to connect to a peer.
type ConnectRequest struct {
	// Addr is a multiaddr ending in /p2p/PEERID.
	Addr string `json:"addr"`
}

// ConnectResult reports a successful connection.
type ConnectResult struct {
	ID   string        `json:"id"`
	Took time.Duration `json:"took_ns"`
}

// FindPeerRequest asks the node to look a peer up in the DHT.
type FindPeerRequest struct {
	Peer string `json:"peer"`
	// Timeout bounds the lookup; zero means the server's default (1m).
	Timeout time.Duration `json:"timeout_ns,omitempty"`
}

// FindPeerResult is what a DHT lookup found.
type FindPeerResult struct {
	ID      string        `json:"id"`
	Addrs   []string      `json:"addrs"`
	Queried int           `json:"queried"` // peers sent a query; 0 when already connected
	Took    time.Duration `json:"took_ns"`
}

// TablePeer is one routing-table entry.
type TablePeer struct {
	ID         string    `json:"id"`
	AddedAt    time.Time `json:"added_at"`
	LastUseful time.Time `json:"last_useful,omitzero"`
	Connected  bool      `json:"connected"`
}

// Bucket is the routing-table peers sharing CPL leading bits with us.
type Bucket struct {
	CPL   int         `json:"cpl"`
	Peers []TablePeer `json:"peers"`
}

// BootstrapPeer is the state of one configured bootstrap peer.
type BootstrapPeer struct {
	ID        string    `json:"id"`
	Addrs     []string  `json:"addrs"`
	Connected bool      `json:"connected"`
	Attempts  int       `json:"failed_attempts"`
	LastError string    `json:"last_error,omitempty"`
	NextRetry time.Time `json:"next_retry,omitzero"`
}

// Status summarises the running node.
type Status struct {
	ID           string          `json:"id"`
	Version      string          `json:"version"`
	StartedAt    time.Time       `json:"started_at"`
	Uptime       time.Duration   `json:"uptime_ns"`
	Peers        int             `json:"peers"`
	RoutingTable int             `json:"routing_table"`
	DHTMode      string          `json:"dht_mode"`
	Reachability string          `json:"reachability"` // unknown, public or private
	Listen       []string        `json:"listen"`
	Observed     []string        `json:"observed"`
	Bootstrap    []BootstrapPeer `json:"bootstrap"`
	// PortMap is port mapping's state: "off", "no router answered", or
	// "mapped" and the router's external addresses, comma-separated.
	PortMap string `json:"port_map,omitempty"`
	// StorageBytes is the size of the stored blocks and StorageMax the
	// store's quota (see RepoStat).
	StorageBytes int64 `json:"storage_bytes"`
	StorageMax   int64 `json:"storage_max"`
}

// Version is the version of an enxame binary, from the build information
// the go command embeds in it.
type Version struct {
	// Version is the main module's version: a tag (v0.2.0), a
	// pseudo-version naming the commit (v0.0.0-20261206201352-0d59e59abcde,
	// with +dirty when the tree had changes), or "devel" when the build
	// carries none (go run, go test, a build outside a VCS checkout).
	Version string `json:"version"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"go_version"`
	// Revision is the VCS commit the binary was built from; empty when
	// unknown.
	Revision string `json:"revision,omitempty"`
	// Time is the commit's time (RFC 3339); empty when unknown.
	Time string `json:"time,omitempty"`
	// Modified reports that the working tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
}

// ErrorResponse is the body of every non-2xx response:
// {"error":{"code":"not_found","message":"..."}}.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is a typed error: a stable Code (one of the Code constants)
// for programs to branch on, and a Message for people.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes, each with its HTTP status.
const (
	CodeBadRequest       = "bad_request"        // 400
	CodeUnauthorized     = "unauthorized"       // 401: missing or wrong token (TCP only)
	CodeNotFound         = "not_found"          // 404: unknown CID, job, route
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeConflict         = "conflict"           // 409: not in a state for this (a job still running)
	CodeTooLarge         = "too_large"          // 413: request body over its cap
	CodeInternal         = "internal"           // 500
	CodeNotImplemented   = "not_implemented"    // 501: a documented route still to come
	CodeUnreached        = "unreachable"        // 502: a peer could not be reached
	CodeTimeout          = "timeout"            // 504: the network did not answer in time
)

// Routes of the node itself (the share and compute routes are in
// types_share.go and types_compute.go). Every route is under APIPrefix.
const (
	APIPrefix    = "/api/v1"
	PathID       = APIPrefix + "/id"            // GET → ID
	PathPeers    = APIPrefix + "/peers"         // GET → []Peer
	PathTable    = APIPrefix + "/dht/table"     // GET → []Bucket
	PathStatus   = APIPrefix + "/status"        // GET → Status
	PathVersion  = APIPrefix + "/version"       // GET → Version
	PathConnect  = APIPrefix + "/connect"       // POST ConnectRequest → ConnectResult
	PathFindPeer = APIPrefix + "/dht/find-peer" // POST FindPeerRequest → FindPeerResult
	PathOpenAPI  = APIPrefix + "/openapi.json"  // GET → the OpenAPI 3 document
	PathMetrics  = "/metrics"                   // GET → Prometheus text format
)
