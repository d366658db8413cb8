package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/node/control"
	"github.com/enxame/enxame/share"
	"github.com/enxame/enxame/share/search"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// defaultPublishTimeout bounds a publish request with no timeout.
const defaultPublishTimeout = time.Minute

// share's caps on what it publishes are the DHT records' (a compile error
// here means they differ).
var (
	_ = [1]struct{}{}[share.MaxPublishName-dht.MaxNameLen]
	_ = [1]struct{}{}[share.MaxPublishDescription-dht.MaxDescriptionLen]
)

// openSearch builds keyword search: the dht service on the host, and
// share's publisher and searcher over it and the block store.
func (n *Node) openSearch() error {
	key := n.host.Peerstore().PrivKey(n.host.ID())
	if key == nil {
		return errors.New("start search: the host has no private key")
	}
	svc, err := dht.NewSearch(n.cfg.Search, dht.SearchDeps{Host: n.host, Router: n.router, Key: key, Logger: n.baseLog})
	if err != nil {
		return fmt.Errorf("start search: %w", err)
	}
	n.search = svc
	n.keywords, err = share.NewKeywords(share.KeywordConfig{RepublishInterval: svc.Config().RepublishInterval},
		share.KeywordDeps{Store: n.blocks, Datastore: n.store, Net: keywordNet{svc}, Router: n.router, Logger: n.baseLog})
	if err != nil {
		return fmt.Errorf("start search: %w", err)
	}
	return nil
}

// keywordNet adapts dht.Search to share.KeywordNet.
type keywordNet struct{ svc *dht.Search }

func (k keywordNet) Publish(ctx context.Context, recs []share.KeywordRecord) (map[string]int, error) {
	drecs := make([]dht.KeywordRecord, len(recs))
	for i, r := range recs {
		kind := dht.KindFile
		if r.Kind == dht.KindDir.String() {
			kind = dht.KindDir
		}
		drecs[i] = dht.KeywordRecord{Keyword: r.Keyword, CID: r.CID, Name: r.Name, Size: r.Size, Kind: kind,
			Description: r.Description, Tags: r.Tags}
	}
	res, err := k.svc.Publish(ctx, drecs)
	return res.Stored, noPeers(err)
}

func (k keywordNet) Find(ctx context.Context, keyword string, fn func(search.Hit)) (share.KeywordFindStats, error) {
	fr, err := k.svc.Find(ctx, keyword, func(_ peer.ID, rec *dht.KeywordRecord) {
		fn(search.Hit{CID: rec.CID.String(), Name: rec.Name, Size: rec.Size, Kind: rec.Kind.String(),
			Description: rec.Description, Keyword: rec.Keyword, Tags: rec.Tags, Publisher: rec.Publisher.String()})
	})
	return share.KeywordFindStats{Queried: fr.Queried, Answered: fr.Answered}, noPeers(err)
}

// noPeers marks dht's "no peers" as share's.
func noPeers(err error) error {
	if errors.Is(err, dht.ErrNoPeers) {
		return fmt.Errorf("%w: %w", share.ErrNoKeywordPeers, err)
	}
	return err
}

// Search is the node's keyword-search service in the DHT.
func (n *Node) Search() *dht.Search { return n.search }

// Publish announces the pinned file or directory c under keywords
// (share.Keywords.Publish).
func (n *Node) Publish(ctx context.Context, c cid.Cid, name string, keywords []string, description string) (control.PublishResult, error) {
	res, err := n.keywords.Publish(ctx, c, name, keywords, description)
	return control.PublishResult{CID: res.CID, Name: res.Name, Size: res.Size, Type: res.Kind, Keywords: res.Keywords,
		Stored: res.Stored, Deferred: res.Deferred}, apiError(err)
}

// SearchFiles searches (share.Keywords.Search), calling emit with a
// "result" event as each file is found and a "done" event at the end.
// emit is never called concurrently.
func (n *Node) SearchFiles(ctx context.Context, words []string, timeout time.Duration, limit int, emit func(control.SearchEvent)) error {
	sum, err := n.keywords.Search(ctx, words, timeout, limit, func(r search.Result) {
		cr := controlResult(r)
		emit(control.SearchEvent{Event: "result", Result: &cr})
	})
	if err != nil {
		return apiError(err)
	}
	done := control.SearchEvent{Event: "done", Lookup: sum.Lookup, Keywords: sum.Keywords, Queried: sum.Queried,
		Answered: sum.Answered, Results: []control.SearchResult{}}
	for _, r := range sum.Results {
		done.Results = append(done.Results, controlResult(r))
	}
	emit(done)
	return nil
}

// apiError answers share's errors from bad input as bad requests.
func apiError(err error) error {
	if errors.Is(err, share.ErrInvalid) {
		return control.Errorf(control.CodeBadRequest, "%w", err)
	}
	return err
}

func controlResult(r search.Result) control.SearchResult {
	return control.SearchResult{CID: r.CID, Name: r.Name, Size: r.Size, Type: r.Kind, Description: r.Description,
		Publishers: r.Publishers, Providers: r.Providers, Peers: r.Peers, NameMatch: r.NameMatch}
}
