// Keyword search's shell: what this peer publishes (signed keyword
// records of pinned files, kept in the datastore), republishing it while it
// stays pinned and withdrawing it once unpinned, and searches ranked with
// share/search, whose pure core it feeds. The network is behind
// KeywordNet; node wires it to dht.Search.

package share

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/enxame/enxame/share/search"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
)

// ErrNoKeywordPeers is what a KeywordNet's errors wrap when it has nobody
// to store records on or ask.
var ErrNoKeywordPeers = errors.New("share: no peers to publish or search on")

// ErrInvalid is what errors caused by the caller's input wrap (a file not
// pinned, a name with no keywords, a query with none): the control API
// answers them as bad requests. Their text does not mention it.
var ErrInvalid = errors.New("share: invalid request")

type invalidError struct{ err error }

func (e invalidError) Error() string        { return e.err.Error() }
func (e invalidError) Unwrap() error        { return e.err }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return invalidError{fmt.Errorf(format, args...)}
}

// The caps on what a record names, which the DHT's record format sets
// (dht.MaxNameLen, dht.MaxDescriptionLen; node checks they agree).
const (
	MaxPublishName        = 255
	MaxPublishDescription = 256
)

// Keyword-search defaults.
const (
	// DefaultRepublishInterval is KeywordConfig.RepublishInterval's
	// default (dht.SearchConfig's).
	DefaultRepublishInterval = 8 * time.Hour
	DefaultSearchTimeout     = 30 * time.Second
	// MaxSearchTimeout caps a search's timeout.
	MaxSearchTimeout   = 5 * time.Minute
	DefaultSearchLimit = 100
	// searchProviderChecks is how many of the best results a search
	// looks up providers for; providerCheckTimeout bounds each lookup.
	searchProviderChecks = 20
	providerCheckTimeout = 5 * time.Second
	// republishFirst is when the republish loop first looks;
	// republishCheck how often it then looks for due or unpinned
	// publications; republishPending, while one was never stored
	// (published before this peer had peers).
	republishFirst   = 5 * time.Second
	republishCheck   = time.Minute
	republishPending = 5 * time.Second
	// republishTimeout bounds one publication's republish.
	republishTimeout = 2 * time.Minute
)

// publishedPrefix is where the datastore keeps what this peer publishes:
// /enxame/search/published/<cid> → publication (JSON).
const publishedPrefix = "/enxame/search/published/"

// KeywordRecord is one record to sign and store: CID, called Name, under
// Keyword.
type KeywordRecord struct {
	Keyword     string
	CID         cid.Cid
	Name        string
	Size        uint64
	Kind        string // "file" or "dir"
	Description string
	// Tags are the publisher's extra keywords, space-separated.
	Tags string
}

// KeywordFindStats is what a KeywordNet lookup asked.
type KeywordFindStats struct {
	Queried  int // peers asked
	Answered int // peers that answered
}

// KeywordNet is the network side of keyword search; node's adapter over
// *dht.Search implements it. Its methods must be safe for concurrent use
// and return errors wrapping ErrNoKeywordPeers when there is nobody to
// store on or ask.
type KeywordNet interface {
	// Publish signs recs and stores them on the peers closest to each
	// keyword, returning how many peers took each keyword's records.
	Publish(ctx context.Context, recs []KeywordRecord) (stored map[string]int, err error)
	// Find asks for keyword's records and calls fn with each that
	// verifies, never concurrently and not after Find returns.
	Find(ctx context.Context, keyword string, fn func(search.Hit)) (KeywordFindStats, error)
}

// KeywordConfig configures a Keywords. A zero field means its default.
type KeywordConfig struct {
	// RepublishInterval is how often a publication is signed and stored
	// again while it stays pinned. Default DefaultRepublishInterval (8h).
	RepublishInterval time.Duration
}

// KeywordDeps are the collaborators of a Keywords.
type KeywordDeps struct {
	// Store is the block store: what is published must be pinned in it.
	// Required.
	Store *Store
	// Datastore keeps the publications. Required.
	Datastore ds.Datastore
	// Net stores and finds records. Required.
	Net KeywordNet
	// Router finds the providers of results and tells whether the peer
	// has peers. Required.
	Router Router
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

// Keywords is one peer's keyword search: it publishes pinned files under
// keywords, republishes them while they stay pinned (Run) and searches.
// Its methods are safe for concurrent use.
type Keywords struct {
	cfg    KeywordConfig
	store  *Store
	ds     ds.Datastore
	net    KeywordNet
	router Router
	log    *slog.Logger

	mu   sync.Mutex
	last map[string]time.Time // CID → last successful publication
}

// NewKeywords builds a Keywords; Run republishes.
func NewKeywords(cfg KeywordConfig, deps KeywordDeps) (*Keywords, error) {
	if cfg.RepublishInterval < 0 {
		return nil, fmt.Errorf("share: keyword config: RepublishInterval must be >= 0, got %v", cfg.RepublishInterval)
	}
	if cfg.RepublishInterval == 0 {
		cfg.RepublishInterval = DefaultRepublishInterval
	}
	if deps.Store == nil || deps.Datastore == nil || deps.Net == nil || deps.Router == nil {
		return nil, errors.New("share: keyword deps: Store, Datastore, Net and Router are required")
	}
	return &Keywords{cfg: cfg, store: deps.Store, ds: deps.Datastore, net: deps.Net, router: deps.Router,
		log: discardIfNil(deps.Logger).With("component", "search"), last: map[string]time.Time{}}, nil
}

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

// PublishResult is what Publish published.
type PublishResult struct {
	CID      string
	Name     string
	Size     uint64
	Kind     string // "file" or "dir"
	Keywords []string
	// Stored is, for each keyword, how many peers took its records.
	Stored map[string]int
	// Deferred: the peer had no peers; Run publishes once it has.
	Deferred bool
}

// describe returns the kind and size of the DAG at c, which must be local.
func (k *Keywords) describe(ctx context.Context, c cid.Cid) (string, uint64, error) {
	if ents, err := k.store.List(ctx, c); err == nil {
		var size uint64
		for _, e := range ents {
			size += e.Size
		}
		return "dir", size, nil
	}
	r, err := k.store.Open(ctx, c)
	if err != nil {
		return "", 0, err
	}
	defer r.Close()
	return "file", r.Size(), nil
}

// Publish announces the pinned file or directory c under the keywords of
// name and keywords, and keeps announcing it (every RepublishInterval)
// while it stays pinned. With no peers yet, it is published as soon as
// there are (Deferred). Errors from bad input wrap ErrInvalid.
func (k *Keywords) Publish(ctx context.Context, c cid.Cid, name string, keywords []string, description string) (PublishResult, error) {
	pinned, err := k.store.IsPinned(ctx, c)
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish %s: %w", c, err)
	}
	if !pinned {
		return PublishResult{}, invalidf("publish %s: not pinned here (add or pin it first)", c)
	}
	kind, size, err := k.describe(ctx, c)
	if err != nil {
		return PublishResult{}, invalidf("publish %s: %v", c, err)
	}
	if len(name) > MaxPublishName || len(description) > MaxPublishDescription {
		return PublishResult{}, invalidf("publish %s: name over %d bytes or description over %d", c, MaxPublishName, MaxPublishDescription)
	}
	kws := search.Keywords(name, strings.Join(keywords, " "))
	if len(kws) == 0 {
		return PublishResult{}, invalidf("publish %s: no keywords in name %q (words under 3 letters and stop words do not count): pass --keywords", c, name)
	}
	tags := search.Keywords(strings.Join(keywords, " "))
	if t := strings.Join(tags, " "); len(t) > MaxPublishDescription {
		return PublishResult{}, invalidf("publish %s: keywords over %d bytes", c, MaxPublishDescription)
	}
	pub := publication{CID: c.String(), Name: name, Size: size, Kind: kind, Description: description, Keywords: kws, Tags: tags}
	data, err := json.Marshal(pub)
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish %s: %w", c, err)
	}
	if err := k.ds.Put(ctx, ds.NewKey(publishedPrefix+pub.CID), data); err != nil {
		return PublishResult{}, fmt.Errorf("publish %s: save: %w", c, err)
	}
	res := PublishResult{CID: pub.CID, Name: name, Size: size, Kind: kind, Keywords: kws, Stored: map[string]int{}}
	stored, err := k.publishOnce(ctx, c, pub)
	if stored != nil {
		res.Stored = stored
	}
	if errors.Is(err, ErrNoKeywordPeers) {
		res.Deferred = true
		return res, nil
	}
	return res, err
}

// publishOnce stores pub's records, noting the time on success.
func (k *Keywords) publishOnce(ctx context.Context, c cid.Cid, pub publication) (map[string]int, error) {
	recs := make([]KeywordRecord, len(pub.Keywords))
	for i, kw := range pub.Keywords {
		recs[i] = KeywordRecord{Keyword: kw, CID: c, Name: pub.Name, Size: pub.Size, Kind: pub.Kind, Description: pub.Description,
			Tags: strings.Join(pub.Tags, " ")}
	}
	stored, err := k.net.Publish(ctx, recs)
	if err != nil {
		return stored, err
	}
	k.mu.Lock()
	k.last[pub.CID] = time.Now()
	k.mu.Unlock()
	k.log.Info("published", "cid", c, "name", pub.Name, "keywords", len(pub.Keywords))
	return stored, nil
}

// publications lists what this peer publishes.
func (k *Keywords) publications(ctx context.Context) ([]publication, error) {
	res, err := k.ds.Query(ctx, dsq.Query{Prefix: publishedPrefix})
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
			k.log.Warn("publication unreadable; dropped", "key", r.Key, "err", err)
			_ = k.ds.Delete(ctx, ds.NewKey(r.Key))
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// Run republishes this peer's publications every RepublishInterval (and
// those never stored, once there are peers), dropping those no longer
// pinned, until ctx ends.
func (k *Keywords) Run(ctx context.Context) error {
	every := k.cfg.RepublishInterval
	t := time.NewTimer(republishFirst)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		next := min(republishCheck, every)
		if k.republishDue(ctx) {
			next = min(next, republishPending) // some never stored yet
		}
		t.Reset(next)
	}
}

// republishDue publishes what is due and reports whether a publication
// has still never been stored.
func (k *Keywords) republishDue(ctx context.Context) (pending bool) {
	every := k.cfg.RepublishInterval
	pubs, err := k.publications(ctx)
	if err != nil {
		k.log.Warn("republish", "err", err)
		return false
	}
	if k.router.TableSize() == 0 {
		return len(pubs) > 0
	}
	for _, p := range pubs {
		c, err := cid.Decode(p.CID)
		if err != nil {
			_ = k.ds.Delete(ctx, ds.NewKey(publishedPrefix+p.CID))
			continue
		}
		k.mu.Lock()
		last := k.last[p.CID]
		k.mu.Unlock()
		if !last.IsZero() && time.Since(last) < every {
			continue
		}
		if pinned, err := k.store.IsPinned(ctx, c); err == nil && !pinned {
			k.log.Info("unpinned; no longer published", "cid", c)
			_ = k.ds.Delete(ctx, ds.NewKey(publishedPrefix+p.CID))
			k.mu.Lock()
			delete(k.last, p.CID)
			k.mu.Unlock()
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, republishTimeout)
		if _, err := k.publishOnce(pctx, c, p); err != nil && ctx.Err() == nil {
			k.log.Info("republish failed; will retry", "cid", c, "err", err)
			pending = pending || last.IsZero()
		}
		cancel()
	}
	return pending
}

// ParseQuery parses a search's words; an error (no keywords) wraps
// ErrInvalid.
func ParseQuery(words []string) (search.Query, error) {
	q, err := search.ParseQuery(words...)
	if err != nil {
		return q, invalidf("search: %v", err)
	}
	return q, nil
}

// SearchSummary is how a search ended.
type SearchSummary struct {
	// Lookup is the keyword looked up; Keywords the query's.
	Lookup   string
	Keywords []string
	KeywordFindStats
	// Results are the best results, ranked, at most the limit.
	Results []search.Result
}

// Search looks the query's rarest keyword up, keeps the records holding
// every keyword, ranks them (search.Ranker) and calls found with each
// result as it is found, within timeout (0: DefaultSearchTimeout, capped
// at MaxSearchTimeout); then it counts the providers of the best results
// and returns the limit (0: DefaultSearchLimit) best. found is never
// called concurrently nor after Search returns.
func (k *Keywords) Search(ctx context.Context, words []string, timeout time.Duration, limit int, found func(search.Result)) (SearchSummary, error) {
	q, err := ParseQuery(words)
	if err != nil {
		return SearchSummary{}, err
	}
	if timeout <= 0 {
		timeout = DefaultSearchTimeout
	}
	timeout = min(timeout, MaxSearchTimeout)
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The lookup gets three quarters of the deadline, the provider checks
	// the rest.
	fctx, fcancel := context.WithTimeout(ctx, timeout*3/4)
	defer fcancel()
	rk := search.NewRanker(q)
	var mu sync.Mutex
	fr, err := k.net.Find(fctx, q.Lookup, func(h search.Hit) {
		mu.Lock()
		defer mu.Unlock()
		if res, ok := rk.Observe(h); ok {
			found(res)
		}
	})
	if err != nil && !errors.Is(err, ErrNoKeywordPeers) {
		return SearchSummary{}, fmt.Errorf("search %q: %w", q.Lookup, err)
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
			for ai := range k.router.FindProviders(pctx, c, 20) {
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
	return SearchSummary{Lookup: q.Lookup, Keywords: q.Keywords, KeywordFindStats: fr,
		Results: results[:min(len(results), limit)]}, nil
}
