package dht

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// searchStore holds the keyword records this peer stores for others, in
// memory, within caps: at most maxPerPubKw records of one publisher under
// one keyword, maxPerKw under one keyword, maxPerPub of one publisher in
// all, and maxTotal in all. A record past a cap evicts, oldest first,
// a record of whoever holds the most where the cap applies: the
// publisher's own (per-publisher caps), the largest publisher's under the
// keyword (keyword cap; a publisher holding fewer records there than the
// largest one is never pushed out by it), the largest publisher's overall
// (total cap). So a publisher flooding a keyword only replaces its own
// records there. A record (publisher, CID) stored again under the same
// keyword replaces the older one (a republish). Records past their TTL are
// not returned and are swept by expire. It is safe for concurrent use.
type searchStore struct {
	maxPerPubKw, maxPerKw, maxPerPub, maxTotal int
	ttl                                        time.Duration

	mu     sync.Mutex
	seq    uint64
	byKw   map[string]*kwSet
	byPub  map[peer.ID]map[*storedRec]struct{}
	total  int
	evicts int64
}

type recKey struct {
	pub peer.ID
	cid string
}

type storedRec struct {
	rec *KeywordRecord
	seq uint64 // insertion order: smaller is older
}

type kwSet struct {
	recs   map[recKey]*storedRec
	perPub map[peer.ID]int
}

func newSearchStore(cfg SearchConfig) *searchStore {
	return &searchStore{
		maxPerPubKw: cfg.MaxPerPublisherPerKeyword, maxPerKw: cfg.MaxPerKeyword,
		maxPerPub: cfg.MaxPerPublisher, maxTotal: cfg.MaxRecords, ttl: cfg.RecordTTL,
		byKw: make(map[string]*kwSet), byPub: make(map[peer.ID]map[*storedRec]struct{}),
	}
}

// put stores rec (already verified) and reports whether it was kept.
func (s *searchStore) put(rec *KeywordRecord) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	kw := s.byKw[rec.Keyword]
	if kw == nil {
		kw = &kwSet{recs: make(map[recKey]*storedRec), perPub: make(map[peer.ID]int)}
		s.byKw[rec.Keyword] = kw
	}
	key := recKey{rec.Publisher, rec.CID.KeyString()}
	if old, ok := kw.recs[key]; ok {
		if rec.Published.Before(old.rec.Published) {
			return false // a replay of an older version
		}
		s.seq++
		old.rec, old.seq = rec, s.seq
		return true
	}
	pub := rec.Publisher
	if kw.perPub[pub] >= s.maxPerPubKw {
		s.removeLocked(s.oldestIn(kw, pub))
	} else if len(kw.recs) >= s.maxPerKw {
		big := largest(kw.perPub)
		if kw.perPub[big] <= kw.perPub[pub] {
			big = pub // as large as anyone there: it replaces its own
		}
		if kw.perPub[big] == 0 {
			return false
		}
		s.removeLocked(s.oldestIn(kw, big))
	}
	if len(s.byPub[pub]) >= s.maxPerPub {
		s.removeLocked(oldest(s.byPub[pub]))
	}
	if s.total >= s.maxTotal {
		counts := make(map[peer.ID]int, len(s.byPub))
		for p, set := range s.byPub {
			counts[p] = len(set)
		}
		big := largest(counts)
		if counts[big] <= counts[pub] {
			big = pub
		}
		if counts[big] == 0 {
			return false
		}
		s.removeLocked(oldest(s.byPub[big]))
	}
	s.seq++
	sr := &storedRec{rec: rec, seq: s.seq}
	// The keyword's set may have been removed with its last record.
	if s.byKw[rec.Keyword] == nil {
		s.byKw[rec.Keyword] = kw
	}
	kw.recs[key] = sr
	kw.perPub[pub]++
	if s.byPub[pub] == nil {
		s.byPub[pub] = make(map[*storedRec]struct{})
	}
	s.byPub[pub][sr] = struct{}{}
	s.total++
	return true
}

// largest returns the key with the largest count, ties broken by the
// smaller peer ID ("" when m is empty).
func largest(m map[peer.ID]int) peer.ID {
	var best peer.ID
	bestN := -1
	for p, n := range m {
		if n > bestN || (n == bestN && p < best) {
			best, bestN = p, n
		}
	}
	return best
}

func (s *searchStore) oldestIn(kw *kwSet, pub peer.ID) *storedRec {
	var o *storedRec
	for k, sr := range kw.recs {
		if k.pub == pub && (o == nil || sr.seq < o.seq) {
			o = sr
		}
	}
	return o
}

func oldest(set map[*storedRec]struct{}) *storedRec {
	var o *storedRec
	for sr := range set {
		if o == nil || sr.seq < o.seq {
			o = sr
		}
	}
	return o
}

// removeLocked removes sr (nil: nothing).
func (s *searchStore) removeLocked(sr *storedRec) {
	if sr == nil {
		return
	}
	rec := sr.rec
	pub := rec.Publisher
	if kw := s.byKw[rec.Keyword]; kw != nil {
		key := recKey{pub, rec.CID.KeyString()}
		if kw.recs[key] == sr {
			delete(kw.recs, key)
			if kw.perPub[pub]--; kw.perPub[pub] <= 0 {
				delete(kw.perPub, pub)
			}
			if len(kw.recs) == 0 {
				delete(s.byKw, rec.Keyword)
			}
		}
	}
	if set := s.byPub[pub]; set != nil {
		delete(set, sr)
		if len(set) == 0 {
			delete(s.byPub, pub)
		}
	}
	s.total--
	s.evicts++
}

// find returns at most limit live records under keyword and how many it
// holds there: taken in turn from each publisher (those with fewer
// records first, then by peer ID), each publisher's newest first, so that
// one publisher's many records do not crowd out the others'.
func (s *searchStore) find(keyword string, now time.Time, limit int) ([]*KeywordRecord, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kw := s.byKw[keyword]
	if kw == nil {
		return nil, 0
	}
	byPub := map[peer.ID][]*storedRec{}
	for _, sr := range kw.recs {
		if sr.rec.Published.Add(s.ttl).After(now) {
			byPub[sr.rec.Publisher] = append(byPub[sr.rec.Publisher], sr)
		}
	}
	pubs := make([]peer.ID, 0, len(byPub))
	for p, l := range byPub {
		slices.SortFunc(l, func(a, b *storedRec) int { return cmp.Compare(b.seq, a.seq) })
		pubs = append(pubs, p)
	}
	slices.SortFunc(pubs, func(a, b peer.ID) int {
		return cmp.Or(cmp.Compare(len(byPub[a]), len(byPub[b])), cmp.Compare(a, b))
	})
	var out []*KeywordRecord
	for round := 0; len(out) < limit; round++ {
		added := false
		for _, p := range pubs {
			if l := byPub[p]; round < len(l) && len(out) < limit {
				out = append(out, l[round].rec)
				added = true
			}
		}
		if !added {
			break
		}
	}
	return out, len(kw.recs)
}

// expire removes the records past their TTL.
func (s *searchStore) expire(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var dead []*storedRec
	for _, set := range s.byPub {
		for sr := range set {
			if !sr.rec.Published.Add(s.ttl).After(now) {
				dead = append(dead, sr)
			}
		}
	}
	for _, sr := range dead {
		s.removeLocked(sr)
		s.evicts-- // expired, not evicted
	}
	return len(dead)
}

// SearchStats counts what a peer stores for the search protocol.
type SearchStats struct {
	Records    int   `json:"records"`
	Keywords   int   `json:"keywords"`
	Publishers int   `json:"publishers"`
	Evicted    int64 `json:"evicted"`
}

func (s *searchStore) stats() SearchStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SearchStats{Records: s.total, Keywords: len(s.byKw), Publishers: len(s.byPub), Evicted: s.evicts}
}
