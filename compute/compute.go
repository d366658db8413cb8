package compute

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/enxame/enxame/compute/sandbox"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mh "github.com/multiformats/go-multihash"
)

// ProtocolID is the compute protocol: bids, unit runs and their results.
const ProtocolID protocol.ID = "/enxame/compute/1.3.0"

// computeKeyName is hashed into ComputeKey.
const computeKeyName = "enxame/compute/v1"

// ComputeKey returns the well-known key under which workers announce
// themselves in the DHT: the CIDv1 (raw, sha2-256) of "enxame/compute/v1".
func ComputeKey() cid.Cid {
	sum := sha256.Sum256([]byte(computeKeyName))
	h, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		panic(fmt.Sprintf("compute: encode compute key: %v", err)) // a constant input
	}
	return cid.NewCidV1(cid.Raw, h)
}

// Content stores and retrieves content by CID; node backs it with share.
// If it also has a method Has(ctx, cid.Cid) (bool, error) that answers from
// the local store without the network, workers use it to tell submitters
// which inputs they already hold.
type Content interface {
	// Put stores r's bytes for good (pins them), makes them retrievable by
	// other peers (announces them) and returns their CID. Submitters store
	// split parts with it: the user's data. Safe for concurrent use.
	Put(ctx context.Context, r io.Reader) (cid.Cid, error)
	// PutTemp stores r's bytes and announces them like Put, but keeps them
	// only until release is called (and never past the process): then they
	// are garbage for the store's next GC unless a pin reaches them.
	// Workers store outputs with it. release may be called more than once.
	// Safe for concurrent use.
	PutTemp(ctx context.Context, r io.Reader) (c cid.Cid, release func(), err error)
	// Keep makes c's DAG local, fetching it from the swarm if needed (at
	// most maxBytes of it when maxBytes is positive, as Get), and pins it.
	// Submitters keep the outputs they receive with it. Safe for
	// concurrent use.
	Keep(ctx context.Context, c cid.Cid, maxBytes int64) error
	// Get returns c's bytes, from the local store or from the swarm,
	// verified against c as they are read: a read returns an error rather
	// than unverified bytes. When maxBytes is positive, content larger
	// than maxBytes fails with an error wrapping ErrTooLarge (from Get or
	// from a read) as soon as its declared size or the bytes received pass
	// maxBytes, so that no more than about maxBytes are fetched or stored
	// for it. The caller closes the reader. Safe for concurrent use.
	// It returns an error wrapping ErrIsDir when c is a UnixFS directory.
	Get(ctx context.Context, c cid.Cid, maxBytes int64) (io.ReadCloser, error)
	// PutDir stores a UnixFS directory of entries (content stored here
	// already, names unique and valid per ValidName), pins it, announces it
	// and returns its CID. Submitters store a job's outputs with it, and
	// named inputs. Safe for concurrent use.
	PutDir(ctx context.Context, entries []DirEntry) (cid.Cid, error)
	// ReadDir returns the entries of the UnixFS directory c sorted by
	// name, fetching its DAG from the swarm first when needed (at most
	// maxBytes of it when maxBytes is positive, as Get). Workers mount
	// directory inputs with it. Safe for concurrent use.
	ReadDir(ctx context.Context, c cid.Cid, maxBytes int64) ([]DirEntry, error)
}

// LocalContent is a Content that can also store and pin without
// announcing. A worker stores an output small enough to travel inline in
// its Result (wire.MaxInlineOutput) with PutTempLocal: its submitter gets
// the bytes with the Result, and could still fetch them from the worker,
// to which it is connected, were they not to match; a submitter keeps
// such an output, checked against its CID, with PutTempLocal and
// PinLocal: the job's result directory is announced, not each unit's
// tiny output. A DHT announcement per unit output was the largest cost
// of a job of many tiny units (issue 14). When a Content is not a
// LocalContent, outputs are announced and fetched as before.
type LocalContent interface {
	// PutTempLocal is PutTemp without the announcement.
	PutTempLocal(ctx context.Context, r io.Reader) (c cid.Cid, release func(), err error)
	// PinLocal pins c, whose DAG is stored here, without announcing it.
	PinLocal(ctx context.Context, c cid.Cid) error
}

// DirEntry is one named entry of a UnixFS directory.
type DirEntry struct {
	Name string  `json:"name"`
	CID  cid.Cid `json:"cid"`
}

// ErrIsDir is wrapped by Content.Get of a UnixFS directory.
var ErrIsDir = errors.New("compute: content is a directory")

// MaxNameLen caps an input's or a unit's file name, in bytes.
const MaxNameLen = 255

// ValidName reports whether name can name a file under /input and in a
// job's result directory: not empty, "." or "..", at most MaxNameLen
// bytes, valid UTF-8, and without '/', '\' or control characters.
func ValidName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > MaxNameLen || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// ErrTooLarge is wrapped by Content.Get when the content passes the size
// asked for.
var ErrTooLarge = errors.New("compute: content too large")

// localContent is optionally implemented by a Content that can say whether
// it holds c locally, without the network. Workers use it in bids.
type localContent interface {
	Has(ctx context.Context, c cid.Cid) (bool, error)
}

// heldSizer is optionally implemented by a localContent that can say how
// many bytes the content under a root it holds has (a UnixFS file's size),
// without the network. Workers put it in bids, so that submitters weigh
// what moving a unit's inputs costs.
type heldSizer interface {
	HeldSize(ctx context.Context, c cid.Cid) (int64, error)
}

// ErrAlone is wrapped by Discovery.Provide when the peer knows no other
// peer yet: a worker then retries its announcement quietly.
var ErrAlone = errors.New("compute: no peers to announce to")

// Discovery announces and finds workers; *dht.Router implements it.
type Discovery interface {
	// Provide announces this peer as a provider of c. It may block for a
	// DHT round trip. It returns an error wrapping ErrAlone while it knows
	// no peer to announce to. Safe for concurrent use.
	Provide(ctx context.Context, c cid.Cid) error
	// FindProviders returns up to count providers of c on a channel that is
	// closed when the lookup ends or ctx ends. Safe for concurrent use.
	FindProviders(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo
}

// Runner runs a unit in the sandbox; *sandbox.Pool implements it.
type Runner interface {
	// RunUnit runs u and waits for it to end; a nil error means it exited 0,
	// otherwise the error is a *sandbox.Error. It blocks while every slot
	// is busy. Safe for concurrent use.
	RunUnit(ctx context.Context, u sandbox.Unit) (sandbox.Result, error)
}

var _ Runner = (*sandbox.Pool)(nil)

// maxReplicas is the most replicas a job may ask for.
const maxReplicas = 15

// InputName is the file name of a unit's i-th input under /input, and of
// the i-th unit's output in a job's result directory when it has no name of
// its own: zero-padded so that lexical order is index order.
func InputName(i int) string { return fmt.Sprintf("%06d", i) }

// UnitCost is the estimated work of a unit with the given total input size,
// in the cost units of a bid's speed: one per run plus one per MiB of input.
func UnitCost(inputBytes int64) float64 {
	if inputBytes < 0 {
		inputBytes = 0
	}
	return 1 + float64(inputBytes)/(1<<20)
}
