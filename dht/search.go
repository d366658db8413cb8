package dht

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// SearchProtocolID is the keyword-search protocol: STORE and FIND of
// signed keyword records, sent to the peers closest to a keyword's key in
// the DHT (docs/RATIONALE.md, "Why keyword search is a protocol of its own over
// the DHT's routing table").
const SearchProtocolID protocol.ID = "/enxame/search/1.0.0"

// SearchConfig configures keyword search. A zero field means the default
// in its comment.
type SearchConfig struct {
	// RecordTTL is how long a keyword record lives after it is signed.
	// Default 24h.
	RecordTTL time.Duration `yaml:"record_ttl" json:"record_ttl"`
	// RepublishInterval is how often a peer signs and stores again the
	// records of what it publishes (while it stays pinned). Default 8h.
	RepublishInterval time.Duration `yaml:"republish_interval" json:"republish_interval"`
	// MaxRecords caps the records this peer stores for others. Default
	// 20000 (a record is at most ~2 KB, usually ~0.4 KB).
	MaxRecords int `yaml:"max_records" json:"max_records"`
	// MaxPerKeyword caps the records stored under one keyword. Default 1000.
	MaxPerKeyword int `yaml:"max_per_keyword" json:"max_per_keyword"`
	// MaxPerPublisherPerKeyword caps one publisher's records under one
	// keyword. Default 20.
	MaxPerPublisherPerKeyword int `yaml:"max_per_publisher_per_keyword" json:"max_per_publisher_per_keyword"`
	// MaxPerPublisher caps one publisher's records in all. Default 2000.
	MaxPerPublisher int `yaml:"max_per_publisher" json:"max_per_publisher"`
}

// DefaultSearchConfig returns the defaults.
func DefaultSearchConfig() SearchConfig {
	return SearchConfig{
		RecordTTL:                 24 * time.Hour,
		RepublishInterval:         8 * time.Hour,
		MaxRecords:                20000,
		MaxPerKeyword:             1000,
		MaxPerPublisherPerKeyword: 20,
		MaxPerPublisher:           2000,
	}
}

// WithDefaults fills in the zero fields.
func (c SearchConfig) WithDefaults() SearchConfig {
	d := DefaultSearchConfig()
	if c.RecordTTL == 0 {
		c.RecordTTL = d.RecordTTL
	}
	if c.RepublishInterval == 0 {
		c.RepublishInterval = d.RepublishInterval
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = d.MaxRecords
	}
	if c.MaxPerKeyword == 0 {
		c.MaxPerKeyword = d.MaxPerKeyword
	}
	if c.MaxPerPublisherPerKeyword == 0 {
		c.MaxPerPublisherPerKeyword = d.MaxPerPublisherPerKeyword
	}
	if c.MaxPerPublisher == 0 {
		c.MaxPerPublisher = d.MaxPerPublisher
	}
	return c
}

// Validate rejects negative values.
func (c SearchConfig) Validate() error {
	switch {
	case c.RecordTTL < 0:
		return errors.New("dht: search config: RecordTTL must be >= 0")
	case c.RepublishInterval < 0:
		return errors.New("dht: search config: RepublishInterval must be >= 0")
	case c.MaxRecords < 0, c.MaxPerKeyword < 0, c.MaxPerPublisherPerKeyword < 0, c.MaxPerPublisher < 0:
		return errors.New("dht: search config: record caps must be >= 0")
	}
	return nil
}

// SearchTransport sends req to p and returns its answer. It must be safe
// for concurrent use and must end by ctx's deadline.
type SearchTransport func(ctx context.Context, p peer.ID, req *SearchMsg) (*SearchMsg, error)

// SearchDeps are a Search's collaborators.
type SearchDeps struct {
	// Host carries the protocol: its handler is registered there, and
	// requests go over its streams unless Transport is set. Required.
	Host host.Host
	// Router finds the peers closest to a keyword. Required.
	Router *Router
	// Key signs this peer's records: the host's identity. Required.
	Key crypto.PrivKey
	// Transport, when set, replaces streams for requests (simnet's light
	// tier, which has none); its peers call Handle. Nil means streams.
	Transport SearchTransport
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger receives the logs. Nil discards them.
	Logger *slog.Logger
}

// Search is the keyword-search service: it stores other peers' keyword
// records within caps and answers FIND for them, and publishes and finds
// records over the DHT's routing table. Its methods are safe for
// concurrent use.
type Search struct {
	cfg   SearchConfig
	h     host.Host
	r     *Router
	key   crypto.PrivKey
	send  SearchTransport
	now   func() time.Time
	log   *slog.Logger
	store *searchStore
}

// NewSearch builds the service and registers its stream handler.
func NewSearch(cfg SearchConfig, deps SearchDeps) (*Search, error) {
	if deps.Host == nil || deps.Router == nil || deps.Key == nil {
		return nil, errors.New("dht: search deps: Host, Router and Key are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Search{cfg: cfg, h: deps.Host, r: deps.Router, key: deps.Key, send: deps.Transport, now: deps.Now,
		log: log.With("component", "search"), store: newSearchStore(cfg)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.send == nil {
		s.send = s.sendStream
	}
	if deps.Transport == nil {
		deps.Host.SetStreamHandler(SearchProtocolID, s.handleStream)
	}
	return s, nil
}

// Config is the effective configuration.
func (s *Search) Config() SearchConfig { return s.cfg }

// Close removes the stream handler.
func (s *Search) Close() { s.h.RemoveStreamHandler(SearchProtocolID) }

// Stats counts the records stored here.
func (s *Search) Stats() SearchStats { return s.store.stats() }

// Run sweeps expired records every minute until ctx ends.
func (s *Search) Run(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n := s.store.expire(s.now()); n > 0 {
				s.log.Debug("search records expired", "n", n)
			}
		}
	}
}

// KeywordKey is the DHT key a keyword's records are stored near.
func KeywordKey(keyword string) string { return "/search/" + keyword }

// searchStreamTimeout bounds a stream handler's exchange.
const searchStreamTimeout = 10 * time.Second

func (s *Search) handleStream(st network.Stream) {
	p := st.Conn().RemotePeer()
	_ = st.SetDeadline(time.Now().Add(searchStreamTimeout))
	req, err := ReadSearchMsg(bufio.NewReader(st))
	if err != nil {
		st.Reset()
		if errors.Is(err, ErrMalformed) {
			s.badPeer(p, "request", err)
			return
		}
		s.log.Debug("search: request unread", "peer", p, "err", err)
		return
	}
	resp := s.Handle(p, req)
	if resp == nil {
		st.Reset()
		s.badPeer(p, "request", fmt.Errorf("%w: message of type %d as a request", ErrMalformed, req.Type))
		return
	}
	if err := WriteSearchMsg(st, resp); err != nil {
		st.Reset()
		return
	}
	st.Close()
}

// badPeer handles a peer that sent invalid search data, as the wire rules
// say: it is disconnected and scored down (dropped from the routing
// table, so that lookups stop asking it until it proves useful again).
func (s *Search) badPeer(p peer.ID, op string, err error) {
	if p == s.h.ID() {
		return
	}
	s.log.Warn("search: malformed message, disconnecting", "peer", p, "op", op, "err", err)
	s.r.kad.RoutingTable().RemovePeer(p)
	_ = s.h.Network().ClosePeer(p)
}

// Handle answers one request from peer from: a STORE (each record must be
// from's own, signed, and live) or a FIND. It returns nil for any other
// message.
func (s *Search) Handle(from peer.ID, req *SearchMsg) *SearchMsg {
	now := s.now()
	switch req.Type {
	case msgStore:
		acc := 0
		for _, rec := range req.Records {
			if rec.Publisher != from {
				continue // a peer stores only its own records
			}
			if err := rec.Verify(now, s.cfg.RecordTTL); err != nil {
				s.log.Debug("search: record refused", "peer", from, "err", err)
				continue
			}
			if s.store.put(rec) {
				acc++
			}
		}
		return &SearchMsg{Type: msgStoreResp, Accepted: acc}
	case msgFind:
		limit := req.Limit
		if limit <= 0 || limit > MaxFindRecords {
			limit = MaxFindRecords
		}
		recs, total := s.store.find(req.Keyword, now, limit)
		// Keep the answer under the frame cap: records are at most ~2 KB,
		// so 256 of them fit, but check.
		for {
			m := &SearchMsg{Type: msgFindResp, Records: recs, Total: total}
			if _, err := AppendSearchMsg(nil, m); err == nil || len(recs) == 0 {
				return m
			}
			recs = recs[:len(recs)/2]
		}
	}
	return nil
}

// sendStream is the default transport: one stream per request, bounded by
// the router's RequestTimeout.
func (s *Search) sendStream(ctx context.Context, p peer.ID, req *SearchMsg) (*SearchMsg, error) {
	ctx, cancel := context.WithTimeout(ctx, s.r.cfg.RequestTimeout)
	defer cancel()
	st, err := s.h.NewStream(ctx, p, SearchProtocolID)
	if err != nil {
		return nil, fmt.Errorf("open search stream to %s: %w", p, err)
	}
	if d, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(d)
	}
	// End the stream when ctx does (a read does not watch ctx).
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	if err := WriteSearchMsg(st, req); err != nil {
		st.Reset()
		return nil, err
	}
	_ = st.CloseWrite()
	resp, err := ReadSearchMsg(bufio.NewReader(st))
	if err != nil {
		st.Reset()
		if errors.Is(err, ErrMalformed) && ctx.Err() == nil {
			s.badPeer(p, "answer", err)
		}
		return nil, fmt.Errorf("search answer from %s: %w", p, err)
	}
	st.Close()
	return resp, nil
}

// closest returns the peers closest to keyword's key, within the router's
// LookupTimeout (a lookup cut short gives the closest found so far).
func (s *Search) closest(ctx context.Context, keyword string) ([]peer.ID, error) {
	if s.r.TableSize() == 0 {
		return nil, ErrNoPeers
	}
	lctx, cancel := context.WithTimeout(ctx, s.r.cfg.LookupTimeout)
	defer cancel()
	if d, ok := ctx.Deadline(); ok {
		reserve := min(time.Until(d)/4, 2*time.Second)
		var c2 context.CancelFunc
		lctx, c2 = context.WithDeadline(lctx, d.Add(-reserve))
		defer c2()
	}
	peers, err := s.r.kad.GetClosestPeers(lctx, KeywordKey(keyword))
	switch {
	case errors.Is(err, kb.ErrLookupFailure):
		return nil, ErrNoPeers
	case err != nil && lctx.Err() != nil && ctx.Err() == nil:
		// our own bound: use what was found
	case err != nil:
		return nil, fmt.Errorf("find peers closest to keyword %q: %w", keyword, err)
	}
	if len(peers) == 0 {
		return nil, ErrNoPeers
	}
	return peers, nil
}

// PublishResult is the outcome of Publish: for each keyword, how many
// peers took its records.
type PublishResult struct {
	Stored map[string]int
}

// Publish signs recs (setting Publisher, PubKey and, when zero, Published)
// and stores them on this peer and on the peers closest to each record's
// keyword. It returns an error wrapping ErrNoPeers when the routing table
// is empty, and an error when no keyword reached a peer.
func (s *Search) Publish(ctx context.Context, recs []KeywordRecord) (PublishResult, error) {
	res := PublishResult{Stored: map[string]int{}}
	byKw := map[string][]*KeywordRecord{}
	var kws []string
	now := s.now()
	for i := range recs {
		rec := recs[i]
		if rec.Keyword == "" || len(rec.Keyword) > MaxKeywordLen {
			return res, fmt.Errorf("publish: keyword %q: want 1..%d bytes", rec.Keyword, MaxKeywordLen)
		}
		if rec.Published.IsZero() {
			rec.Published = now
		}
		if err := rec.Sign(s.key); err != nil {
			return res, err
		}
		if byKw[rec.Keyword] == nil {
			kws = append(kws, rec.Keyword)
		}
		byKw[rec.Keyword] = append(byKw[rec.Keyword], &rec)
	}
	for _, kw := range kws {
		for _, rec := range byKw[kw] {
			s.store.put(rec)
		}
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, kw := range kws {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			n, err := s.storeOn(ctx, kw, byKw[kw])
			mu.Lock()
			defer mu.Unlock()
			res.Stored[kw] = n
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	for _, n := range res.Stored {
		if n > 0 {
			return res, nil
		}
	}
	if len(kws) == 0 {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("publish: %w", err)
	}
	return res, fmt.Errorf("publish: no peer took the records: %w", errors.Join(errs...))
}

// storeOn sends recs (all under kw) to the peers closest to kw and
// returns how many took them.
func (s *Search) storeOn(ctx context.Context, kw string, recs []*KeywordRecord) (int, error) {
	peers, err := s.closest(ctx, kw)
	if err != nil {
		return 0, fmt.Errorf("publish %q: %w", kw, err)
	}
	var mu sync.Mutex
	stored := 0
	var errs []error
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() {
			for i := 0; i < len(recs); i += MaxStoreRecords {
				resp, err := s.send(ctx, p, StoreMsg(recs[i:min(i+MaxStoreRecords, len(recs))]))
				if err == nil && resp.Type != msgStoreResp {
					err = fmt.Errorf("%w: answer of type %d to a STORE", ErrMalformed, resp.Type)
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if i == 0 {
					stored++
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	s.log.Debug("search: published", "keyword", kw, "records", len(recs), "closest", len(peers), "stored", stored)
	if stored == 0 {
		return 0, fmt.Errorf("publish %q: no peer took the records: %w", kw, errors.Join(errs...))
	}
	return stored, nil
}

// SearchFindResult is the outcome of Search.Find.
type SearchFindResult struct {
	Queried  int // peers asked
	Answered int // peers that answered
	Records  int // records passed to the callback
	Rejected int // records dropped: bad signature, other keyword, expired
}

// Find asks this peer's store and the peers closest to keyword for its
// records and calls fn with each record that verifies (signed by its
// publisher, under keyword, live), as answers arrive. fn is never called
// concurrently and not after Find returns; records may repeat (several
// peers hold each). It returns an error wrapping ErrNoPeers when there is
// nobody to ask and no record was found here.
func (s *Search) Find(ctx context.Context, keyword string, fn func(from peer.ID, rec *KeywordRecord)) (SearchFindResult, error) {
	var res SearchFindResult
	var mu sync.Mutex
	deliver := func(from peer.ID, recs []*KeywordRecord) {
		now := s.now()
		mu.Lock()
		defer mu.Unlock()
		for _, rec := range recs {
			if rec.Keyword != keyword || rec.Verify(now, s.cfg.RecordTTL) != nil {
				res.Rejected++
				continue
			}
			res.Records++
			fn(from, rec)
		}
	}
	local, _ := s.store.find(keyword, s.now(), MaxFindRecords)
	deliver(s.h.ID(), local)
	peers, err := s.closest(ctx, keyword)
	if err != nil {
		if errors.Is(err, ErrNoPeers) && len(local) > 0 {
			return res, nil
		}
		return res, fmt.Errorf("find %q: %w", keyword, err)
	}
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() {
			resp, err := s.send(ctx, p, FindMsg(keyword, MaxFindRecords))
			if err != nil || resp.Type != msgFindResp {
				s.log.Debug("search: find unanswered", "peer", p, "keyword", keyword, "err", err)
				return
			}
			mu.Lock()
			res.Answered++
			mu.Unlock()
			deliver(p, resp.Records)
		})
	}
	wg.Wait()
	res.Queried = len(peers)
	return res, nil
}
