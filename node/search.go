package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/node/control"
	"github.com/enxame/enxame/share"
	"github.com/enxame/enxame/share/search"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"
)

// publishedPrefix is where the datastore keeps what this peer publishes:
// /enxame/search/published/<cid> → publication (JSON).
const publishedPrefix = "/enxame/search/published/"

// Search defaults.
const (
	defaultSearchTimeout  = 30 * time.Second
	maxSearchTimeout      = 5 * time.Minute
	defaultPublishTimeout = time.Minute
	// searchProviderChecks is how many of the best results a search
	// looks up providers for; providerCheckTimeout bounds each lookup.
	searchProviderChecks = 20
	providerCheckTimeout = 5 * time.Second
	defaultSearchLimit   = 100
	// republishCheck is how often the republish loop looks for due or
	// unpinned publications; republishPending, while one was never stored
	// (published before this peer had peers).
	republishCheck   = time.Minute
	republishPending = 5 * time.Second
)

// publication is one file this peer publishes.
type publication struct {
	CID         string   `json:"cid"`
	Name        string   `json:"name"`
	Size        uint64   `json:"size"`
	Kind        string   `json:"type"`
	Description string   `json:"description,omitempty"`
	Keywords    []string `json:"keywords"`
	// Tags are the extra keywords given, normalised.
	Tags []string `json:"tags,omitempty"`
}

// searchState is the node's keyword search: the dht service and when
// each publication was last stored.
type searchState struct {
	svc *dht.Search

	mu   sync.Mutex
	last map[string]time.Time // CID → last successful publication
}

// openSearch builds the keyword-search service on the host.
func (n *Node) openSearch() error {
	key := n.host.Peerstore().PrivKey(n.host.ID())
	if key == nil {
		return errors.New("start search: the host has no private key")
	}
	svc, err := dht.NewSearch(n.cfg.Search, dht.SearchDeps{Host: n.host, Router: n.router, Key: key, Logger: n.baseLog})
	if err != nil {
		return fmt.Errorf("start search: %w", err)
	}
	n.search = &searchState{svc: svc, last: map[string]time.Time{}}
	return nil
}

// Search is the node's keyword-search service.
func (n *Node) Search() *dht.Search { return n.search.svc }

// describe returns the type and size of the DAG at c, which must be local.
func (n *Node) describe(ctx context.Context, c cid.Cid) (dht.Kind, uint64, error) {
	if ents, err := n.blocks.List(ctx, c); err == nil {
		var size uint64
		for _, e := range ents {
			size += e.Size
		}
		return dht.KindDir, size, nil
	}
	r, err := n.blocks.Open(ctx, c)
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	return dht.KindFile, r.Size(), nil
}

// Publish announces the pinned file or directory c under the keywords of
// name and keywords, and keeps announcing it (every RepublishInterval)
// while it stays pinned. With no peers yet, it is published as soon as
// there are (Deferred).
func (n *Node) Publish(ctx context.Context, c cid.Cid, name string, keywords []string, description string) (control.PublishResult, error) {
	pinned, err := n.blocks.IsPinned(ctx, c)
	if err != nil {
		return control.PublishResult{}, fmt.Errorf("publish %s: %w", c, err)
	}
	if !pinned {
		return control.PublishResult{}, control.Errorf(control.CodeBadRequest, "publish %s: not pinned here (add or pin it first)", c)
	}
	kind, size, err := n.describe(ctx, c)
	if err != nil {
		return control.PublishResult{}, control.Errorf(control.CodeBadRequest, "publish %s: %v", c, err)
	}
	if len(name) > dht.MaxNameLen || len(description) > dht.MaxDescriptionLen {
		return control.PublishResult{}, control.Errorf(control.CodeBadRequest, "publish %s: name over %d bytes or description over %d", c, dht.MaxNameLen, dht.MaxDescriptionLen)
	}
	kws := search.Keywords(name, strings.Join(keywords, " "))
	if len(kws) == 0 {
		return control.PublishResult{}, control.Errorf(control.CodeBadRequest, "publish %s: no keywords in name %q (words under 3 letters and stop words do not count): pass --keywords", c, name)
	}
	tags := search.Keywords(strings.Join(keywords, " "))
	if t := strings.Join(tags, " "); len(t) > dht.MaxDescriptionLen {
		return control.PublishResult{}, control.Errorf(control.CodeBadRequest, "publish %s: keywords over %d bytes", c, dht.MaxDescriptionLen)
	}
	pub := publication{CID: c.String(), Name: name, Size: size, Kind: kind.String(), Description: description, Keywords: kws, Tags: tags}
	data, err := json.Marshal(pub)
	if err != nil {
		return control.PublishResult{}, fmt.Errorf("publish %s: %w", c, err)
	}
	if err := n.store.Put(ctx, ds.NewKey(publishedPrefix+pub.CID), data); err != nil {
		return control.PublishResult{}, fmt.Errorf("publish %s: save: %w", c, err)
	}
	res := control.PublishResult{CID: pub.CID, Name: name, Size: size, Type: pub.Kind, Keywords: kws, Stored: map[string]int{}}
	stored, err := n.publishOnce(ctx, c, pub)
	res.Stored = stored
	if errors.Is(err, dht.ErrNoPeers) {
		res.Deferred = true
		return res, nil
	}
	return res, err
}

// publishOnce signs and stores pub's records, noting the time on success.
func (n *Node) publishOnce(ctx context.Context, c cid.Cid, pub publication) (map[string]int, error) {
	kind := dht.KindFile
	if pub.Kind == dht.KindDir.String() {
		kind = dht.KindDir
	}
	recs := make([]dht.KeywordRecord, len(pub.Keywords))
	for i, kw := range pub.Keywords {
		recs[i] = dht.KeywordRecord{Keyword: kw, CID: c, Name: pub.Name, Size: pub.Size, Kind: kind, Description: pub.Description,
			Tags: strings.Join(pub.Tags, " ")}
	}
	res, err := n.search.svc.Publish(ctx, recs)
	if err != nil {
		return res.Stored, err
	}
	n.search.mu.Lock()
	n.search.last[pub.CID] = time.Now()
	n.search.mu.Unlock()
	n.log.Info("published", "cid", c, "name", pub.Name, "keywords", len(pub.Keywords))
	return res.Stored, nil
}

// publications lists what this peer publishes.
func (n *Node) publications(ctx context.Context) ([]publication, error) {
	res, err := n.store.Query(ctx, dsq.Query{Prefix: publishedPrefix})
	if err != nil {
		return nil, fmt.Errorf("list publications: %w", err)
	}
	defer res.Close()
	var out []publication
	for r := range res.Next() {
		if r.Error != nil {
			return nil, fmt.Errorf("list publications: %w", r.Error)
		}
		var p publication
		if err := json.Unmarshal(r.Value, &p); err != nil {
			n.log.Warn("publication unreadable; dropped", "key", r.Key, "err", err)
			_ = n.store.Delete(ctx, ds.NewKey(r.Key))
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// runSearch expires stored records and republishes this peer's
// publications every RepublishInterval (and those never stored, once
// there are peers), dropping those no longer pinned, until ctx ends.
func (n *Node) runSearch(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { _ = n.search.svc.Run(ctx) })
	every := n.search.svc.Config().RepublishInterval
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		next := min(republishCheck, every)
		if n.republishDue(ctx, every) {
			next = min(next, republishPending) // some never stored yet
		}
		t.Reset(next)
	}
}

// republishDue publishes what is due and reports whether a publication
// has still never been stored.
func (n *Node) republishDue(ctx context.Context, every time.Duration) (pending bool) {
	pubs, err := n.publications(ctx)
	if err != nil {
		n.log.Warn("republish", "err", err)
		return false
	}
	if n.router.TableSize() == 0 {
		return len(pubs) > 0
	}
	for _, p := range pubs {
		c, err := cid.Decode(p.CID)
		if err != nil {
			_ = n.store.Delete(ctx, ds.NewKey(publishedPrefix+p.CID))
			continue
		}
		n.search.mu.Lock()
		last := n.search.last[p.CID]
		n.search.mu.Unlock()
		if !last.IsZero() && time.Since(last) < every {
			continue
		}
		if pinned, err := n.blocks.IsPinned(ctx, c); err == nil && !pinned {
			n.log.Info("unpinned; no longer published", "cid", c)
			_ = n.store.Delete(ctx, ds.NewKey(publishedPrefix+p.CID))
			n.search.mu.Lock()
			delete(n.search.last, p.CID)
			n.search.mu.Unlock()
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		if _, err := n.publishOnce(pctx, c, p); err != nil && ctx.Err() == nil {
			n.log.Info("republish failed; will retry", "cid", c, "err", err)
			pending = pending || last.IsZero()
		}
		cancel()
	}
	return pending
}

// SearchFiles looks the query's rarest keyword up, keeps the records
// holding every keyword, ranks them (search.Ranker) and calls emit with a
// "result" event as each file is found and a "done" event at the end,
// within timeout. emit is never called concurrently.
func (n *Node) SearchFiles(ctx context.Context, words []string, timeout time.Duration, limit int, emit func(control.SearchEvent)) error {
	q, err := searchQuery(words)
	if err != nil {
		return err
	}
	if timeout <= 0 {
		timeout = defaultSearchTimeout
	}
	timeout = min(timeout, maxSearchTimeout)
	if limit <= 0 {
		limit = defaultSearchLimit
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The lookup gets three quarters of the deadline, the provider checks
	// the rest.
	fctx, fcancel := context.WithTimeout(ctx, timeout*3/4)
	defer fcancel()
	rk := search.NewRanker(q)
	var mu sync.Mutex
	fr, err := n.search.svc.Find(fctx, q.Lookup, func(_ peer.ID, rec *dht.KeywordRecord) {
		h := search.Hit{CID: rec.CID.String(), Name: rec.Name, Size: rec.Size, Kind: rec.Kind.String(),
			Description: rec.Description, Keyword: rec.Keyword, Tags: rec.Tags, Publisher: rec.Publisher.String()}
		mu.Lock()
		defer mu.Unlock()
		if res, ok := rk.Observe(h); ok {
			cr := controlResult(res)
			emit(control.SearchEvent{Event: "result", Result: &cr})
		}
	})
	if err != nil && !errors.Is(err, dht.ErrNoPeers) {
		return fmt.Errorf("search %q: %w", q.Lookup, err)
	}
	mu.Lock()
	results := rk.Results()
	mu.Unlock()
	// How many peers provide the best results (a CID nobody provides
	// ranks last).
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, r := range results[:min(len(results), searchProviderChecks)] {
		c, err := cid.Decode(r.CID)
		if err != nil {
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(ctx, providerCheckTimeout)
			defer cancel()
			var ids []string
			for ai := range n.router.FindProviders(pctx, c, 20) {
				ids = append(ids, ai.ID.String())
			}
			mu.Lock()
			rk.ObserveProviders(r.CID, ids)
			mu.Unlock()
		})
	}
	wg.Wait()
	mu.Lock()
	results = rk.Results()
	mu.Unlock()
	done := control.SearchEvent{Event: "done", Lookup: q.Lookup, Keywords: q.Keywords, Queried: fr.Queried, Answered: fr.Answered,
		Results: []control.SearchResult{}}
	for _, r := range results[:min(len(results), limit)] {
		done.Results = append(done.Results, controlResult(r))
	}
	emit(done)
	return nil
}

// searchQuery parses a search's words, answering a bad request for none.
func searchQuery(words []string) (search.Query, error) {
	q, err := search.ParseQuery(words...)
	if err != nil {
		return q, control.Errorf(control.CodeBadRequest, "search: %v", err)
	}
	return q, nil
}

func controlResult(r search.Result) control.SearchResult {
	return control.SearchResult{CID: r.CID, Name: r.Name, Size: r.Size, Type: r.Kind, Description: r.Description,
		Publishers: r.Publishers, Providers: r.Providers, Peers: r.Peers, NameMatch: r.NameMatch}
}

// Compile-time check: the share store reports what publish needs.
var _ interface {
	IsPinned(context.Context, cid.Cid) (bool, error)
} = (*share.Store)(nil)
