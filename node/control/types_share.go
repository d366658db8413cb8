package control

import "time"

// Routes of the share service.
const (
	PathAdd       = APIPrefix + "/add"        // POST AddRequest → NDJSON AddEvent
	PathAddStream = APIPrefix + "/add/stream" // POST raw bytes, ?opts=JSON AddRequest → NDJSON AddEvent
	PathGet       = APIPrefix + "/get"        // POST GetRequest → NDJSON FetchEvent
	PathCat       = APIPrefix + "/cat"        // POST CatRequest → raw bytes
	PathLs        = APIPrefix + "/ls"         // POST CIDRequest → []LsEntry
	PathPinLs     = APIPrefix + "/pin/ls"     // GET → []string
	PathPinAdd    = APIPrefix + "/pin/add"    // POST CIDRequest → NDJSON FetchEvent
	PathPinRm     = APIPrefix + "/pin/rm"     // POST CIDRequest → {}
	PathGC        = APIPrefix + "/gc"         // POST → GCResult
	PathProviders = APIPrefix + "/providers"  // POST CIDRequest → []Provider
	PathExport    = APIPrefix + "/export"     // POST CIDRequest → raw CAR
	PathImport    = APIPrefix + "/import"     // POST raw CAR → ImportResult
	PathRepoStat  = APIPrefix + "/repo/stat"  // GET → RepoStat
	PathTransfers = APIPrefix + "/transfers"  // GET → []Transfer
)

// AddRequest asks the daemon to import files or directories.
type AddRequest struct {
	// Paths are absolute paths on the daemon's machine (the CLI runs
	// beside it). Ignored by PathAddStream.
	Paths []string `json:"paths,omitempty"`
	// Name names the content of PathAddStream (for -v output).
	Name string `json:"name,omitempty"`
	// ChunkSize is the leaf size in bytes; 0 means 256 KiB.
	ChunkSize int `json:"chunk_size,omitempty"`
	// CIDv0 makes directory and interior nodes CIDv0; NoRawLeaves makes
	// leaves dag-pb (Kubo's defaults with --cid-version=0).
	CIDv0       bool `json:"cid_v0,omitempty"`
	NoRawLeaves bool `json:"no_raw_leaves,omitempty"`
	Wrap        bool `json:"wrap,omitempty"`
	Hidden      bool `json:"hidden,omitempty"`
	NoPin       bool `json:"no_pin,omitempty"`
}

// AddEvent is one NDJSON event of an add: "progress" (Bytes of Total),
// "added" (one file or directory: Path, CID, Size), "done" (Root, Roots,
// Bytes) or "error" (Error). The last event is "done" or "error".
type AddEvent struct {
	Event string   `json:"event"`
	Bytes int64    `json:"bytes,omitempty"`
	Total int64    `json:"total,omitempty"`
	Path  string   `json:"path,omitempty"`
	CID   string   `json:"cid,omitempty"`
	Size  uint64   `json:"size,omitempty"`
	Root  string   `json:"root,omitempty"`
	Roots []string `json:"roots,omitempty"`
	Error string   `json:"error,omitempty"`
	// Code is the error's code (see ErrorBody) in an "error" event.
	Code string `json:"code,omitempty"`
}

// CIDRequest names one CID.
type CIDRequest struct {
	CID string `json:"cid"`
	// Timeout bounds the operation when it reaches the network; 0 means the
	// daemon's default.
	Timeout time.Duration `json:"timeout_ns,omitempty"`
}

// GetRequest asks the daemon to fetch a DAG and write it to Output.
type GetRequest struct {
	CID string `json:"cid"`
	// Output is the absolute path to write the file or directory to.
	Output  string        `json:"output"`
	Timeout time.Duration `json:"timeout_ns,omitempty"`
	// MaxBytes, when not zero, caps the size in bytes the DAG declares and
	// the bytes fetched (enxame get --max-size); 0: no cap but the free
	// space at Output.
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// NoShare keeps the daemon from announcing the fetched DAG (enxame get
	// --no-share; see the config key share.provide).
	NoShare bool `json:"no_share,omitempty"`
}

// CatRequest asks for a file's bytes, from Offset, at most Length (0: to
// the end).
type CatRequest struct {
	CID     string        `json:"cid"`
	Offset  int64         `json:"offset,omitempty"`
	Length  int64         `json:"length,omitempty"`
	Timeout time.Duration `json:"timeout_ns,omitempty"`
}

// FetchEvent is one NDJSON event of a fetch: "progress", "done" or
// "error".
type FetchEvent struct {
	Event        string          `json:"event"`
	BytesDone    int64           `json:"bytes_done"`
	BytesTotal   int64           `json:"bytes_total"`
	BytesFetched int64           `json:"bytes_fetched"`
	Blocks       int             `json:"blocks_fetched"`
	Rate         float64         `json:"rate"` // bytes per second
	Elapsed      time.Duration   `json:"elapsed_ns"`
	Providers    []FetchProvider `json:"providers,omitempty"`
	Path         string          `json:"path,omitempty"`
	Error        string          `json:"error,omitempty"`
	// Code is the error's code (see ErrorBody) in an "error" event.
	Code string `json:"code,omitempty"`
}

// FetchProvider is one provider of a fetch and its share of the bytes.
type FetchProvider struct {
	Peer  string  `json:"peer"`
	State string  `json:"state"`
	Bytes int64   `json:"bytes"`
	Share float64 `json:"share"`
	Rate  float64 `json:"rate"`
}

// LsEntry is one directory entry.
type LsEntry struct {
	Name string `json:"name"`
	CID  string `json:"cid"`
	Size uint64 `json:"size"`
	Type string `json:"type"` // file, dir or symlink
}

// GCResult reports a garbage collection.
type GCResult struct {
	Removed   int   `json:"removed"`
	Freed     int64 `json:"freed"`
	DiskFreed int64 `json:"disk_freed"`
}

// Provider is a peer that provides a CID.
type Provider struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
}

// ImportResult lists the roots of an imported CAR.
type ImportResult struct {
	Roots []string `json:"roots"`
}

// Transfer is a fetch in progress (PathTransfers): its root, when it
// started, and its latest progress, each provider's share included.
type Transfer struct {
	ID       int        `json:"id"`
	CID      string     `json:"cid"`
	Started  time.Time  `json:"started"`
	Progress FetchEvent `json:"progress"`
}
