package plan

import (
	"errors"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrNotFound is the error a shell wraps into BlockFailed.Err when a
// provider answers that it does not have a block. The planner then never
// asks that provider for that block again, as if it had not advertised it.
var ErrNotFound = errors.New("plan: block not found at provider")

// Event is an input to Planner.Observe: something that happened. The
// concrete types are WantAdded, ProviderJoined, ProviderHas, ProviderLeft,
// BlockReceived, BlockFailed and BlockInvalid.
type Event interface{ isEvent() }

// WantAdded says a block is needed. Blocks are discovered progressively
// while walking the DAG: the root first, then the links of each node as it
// arrives. Adding a key that is already known does nothing, except that it
// sets the size of a block whose size was unknown.
type WantAdded struct {
	// Key names the block; the shell verifies every received block
	// against it.
	Key cid.Cid
	// Size is the block's size in bytes, or 0 if unknown
	// (Config.BlockSize is assumed until it arrives).
	Size int64
	// Priority orders blocks first: higher is requested earlier. Give
	// interior DAG nodes a higher priority than leaves so that the whole
	// tree is known early and every provider has work.
	Priority int
	// Order orders blocks of one priority: lower is requested earlier. Use
	// the block's byte offset in the file so that leaves arrive roughly in
	// file order and can be written sequentially. Ties go to the block
	// added first.
	Order uint64
}

// ProviderJoined says a peer can serve blocks. With HasAll it serves every
// block of the DAG (it announced the root); otherwise it serves only the
// keys given in ProviderHas events. Joining again after ProviderLeft is
// allowed; a peer the planner dropped for invalid data stays dropped.
type ProviderJoined struct {
	Peer   peer.ID
	HasAll bool
}

// ProviderHas says a partial provider has these blocks. It implies
// ProviderJoined{Peer, HasAll: false} if the peer was not active. Keys not
// yet wanted are remembered.
type ProviderHas struct {
	Peer peer.ID
	Keys []cid.Cid
}

// ProviderLeft says a provider is gone (disconnected, stream refused, or
// the shell gave up on it). Its outstanding blocks are reassigned without a
// cancel; it is not penalised.
type ProviderLeft struct {
	Peer peer.ID
}

// BlockReceived says a block arrived from a provider and matched its CID.
// Report only verified blocks, including blocks that arrive after they were
// cancelled. At is when the block arrived (the shell's clock); Bytes is its
// size.
type BlockReceived struct {
	Peer  peer.ID
	Key   cid.Cid
	Bytes int64
	At    time.Time
}

// BlockFailed says a provider could not deliver a requested block: a stream
// error, a per-request timeout of the shell's own, or "not found" (wrap
// ErrNotFound). The block is reassigned and the provider counts a failure.
// A failure for a block not in flight at that provider (cancelled before)
// is ignored.
type BlockFailed struct {
	Peer peer.ID
	Key  cid.Cid
	Err  error
}

// BlockInvalid says a provider misbehaved: a block that did not match its
// CID, a block that was not requested, or a malformed message. Key may be
// cid.Undef. The provider is dropped at once and never asked again.
type BlockInvalid struct {
	Peer peer.ID
	Key  cid.Cid
	Err  error
}

func (WantAdded) isEvent()      {}
func (ProviderJoined) isEvent() {}
func (ProviderHas) isEvent()    {}
func (ProviderLeft) isEvent()   {}
func (BlockReceived) isEvent()  {}
func (BlockFailed) isEvent()    {}
func (BlockInvalid) isEvent()   {}

// Action is an output of Planner.Next: something the shell must do, in the
// order given. The concrete types are RequestBlocks, CancelBlocks,
// DropPeer, Done and Stuck.
type Action interface{ isAction() }

// RequestBlocks asks the shell to request Keys from Peer in one batch; the
// provider streams them back in this order. The shell owns Keys.
type RequestBlocks struct {
	Peer peer.ID
	Keys []cid.Cid
}

// CancelBlocks tells the shell that Keys are no longer wanted from Peer:
// another provider delivered them (endgame), or Peer stalled and its blocks
// were reassigned. The shell should tell the provider if the protocol
// allows, and must still report any of them that arrive (BlockReceived) or
// fail; late arrivals are harmless.
type CancelBlocks struct {
	Peer peer.ID
	Keys []cid.Cid
}

// DropPeer tells the shell to disconnect Peer and stop using it. With
// DropInvalid the shell should also gate the peer and score it down. The
// planner will never request from Peer again; the shell must not report
// further events for it.
type DropPeer struct {
	Peer   peer.ID
	Reason DropReason
}

// Done says every wanted block has been received. It is returned once per
// completion: a later WantAdded reopens the fetch.
type Done struct{}

// Stuck says Missing wanted blocks cannot be fetched from any active
// provider: none advertises them, or all that did left, were dropped or
// answered ErrNotFound. Other blocks may still be in progress. The shell
// should look for more providers (and feed ProviderJoined/ProviderHas) and
// give up after its own deadline. Stuck is returned once each time the
// planner becomes stuck.
type Stuck struct {
	Missing int
	Reason  string
}

func (RequestBlocks) isAction() {}
func (CancelBlocks) isAction()  {}
func (DropPeer) isAction()      {}
func (Done) isAction()          {}
func (Stuck) isAction()         {}

// DropReason says why a provider was dropped.
type DropReason int

// Drop reasons.
const (
	// DropInvalid: the provider sent invalid data (BlockInvalid).
	DropInvalid DropReason = iota + 1
	// DropFailures: the provider failed Config.FailureThreshold times in a
	// row (BlockFailed or stalls).
	DropFailures
)

// String returns "invalid" or "failures".
func (r DropReason) String() string {
	switch r {
	case DropInvalid:
		return "invalid"
	case DropFailures:
		return "failures"
	}
	return "unknown"
}
