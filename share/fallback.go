// The fetch policy of a peer that speaks both the exchange and Bitswap:
// which protocol a fetch waits on, and for how long. Change how a fetch
// falls back to Bitswap here.

package share

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// BitswapProtocol is the newest Bitswap protocol; a connected peer that
// speaks it but not ProtocolID is an IPFS node (Kubo).
const BitswapProtocol protocol.ID = "/ipfs/bitswap/1.2.0"

// Bitswap fallback bounds.
const (
	// ipfsFirstTry is how long the exchange looks for enxame providers
	// before Bitswap takes over, when IPFS peers are connected; at most
	// half the fetch's no-providers deadline.
	ipfsFirstTry = 3 * time.Second
	// bitswapParallel is how many blocks the Bitswap walk wants at once.
	bitswapParallel = 64
)

// FetchFallback makes the DAG under root local: it runs Fetch and, when
// Fetch finds no enxame provider while IPFS peers (Bitswap but not
// ProtocolID) are connected, walks the DAG over bs, both within one
// no-providers deadline (opts.NoProvidersTimeout, else the exchange's, also
// capped by ctx's deadline): the exchange gets the first ipfsFirstTry of it
// (at most half), Bitswap the rest, each of whose blocks must arrive within
// it. Bitswap finds providers in the same DHT as the exchange, whose
// providers all speak the exchange, so without IPFS peers it could not help
// and the exchange gets the whole deadline. bs may be nil (Bitswap off).
// The walk gets each distinct block once (Walk), at most opts.MaxBytes
// bytes when set, and every block it brings is held in hold (in a hold of
// its own when hold is nil, released on return). A fetch that ran out of
// time says after how long.
func (e *Exchange) FetchFallback(ctx context.Context, bs *Bitswap, root cid.Cid, opts FetchOptions, hold *Hold) error {
	start := time.Now()
	err := e.fetchEither(ctx, bs, root, opts, hold)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return fmt.Errorf("gave up after %v: %w", roundDur(time.Since(start)), err)
	}
	return err
}

func (e *Exchange) fetchEither(ctx context.Context, bs *Bitswap, root cid.Cid, opts FetchOptions, hold *Hold) error {
	if bs == nil || !bs.ipfsPeers() {
		return e.Fetch(ctx, root, opts)
	}
	start := time.Now()
	budget := opts.NoProvidersTimeout
	if budget <= 0 {
		budget = e.cfg.NoProvidersTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		budget = max(min(budget, time.Until(dl)), time.Millisecond)
	}
	first := max(min(ipfsFirstTry, roundDur(budget/2)), time.Millisecond)
	opts.NoProvidersTimeout = first
	err := e.Fetch(ctx, root, opts)
	if err == nil || !errors.Is(err, ErrNoProviders) || ctx.Err() != nil {
		return err
	}
	// The exchange had nothing for first: Bitswap gets the rest.
	rest := max(budget-first, time.Millisecond)
	e.log.Info("no enxame provider; trying Bitswap", "cid", root, "for", rest)
	if berr := bs.fetch(ctx, root, WalkOptions{Parallel: bitswapParallel, Wait: rest, MaxBytes: opts.MaxBytes}, hold); berr != nil {
		return fmt.Errorf("no provider after %v: %w; then Bitswap for %v: %w",
			roundDur(time.Since(start)), err, roundDur(rest), berr)
	}
	if opts.Progress != nil {
		opts.Progress(Progress{Root: root, Done: true})
	}
	return nil
}

// roundDur rounds d for a message: to 100 ms under a minute, to seconds
// above.
func roundDur(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
