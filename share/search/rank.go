package search

import (
	"cmp"
	"errors"
	"slices"
)

// ErrNoKeywords is returned by ParseQuery when every word is short or a
// stop word.
var ErrNoKeywords = errors.New("search: no keywords (every word is shorter than 3 letters or a stop word)")

// Query is a parsed search: its keywords, and the one to look up.
type Query struct {
	Keywords []string
	Lookup   string
}

// ParseQuery parses a search's words. It returns ErrNoKeywords when none
// is a keyword.
func ParseQuery(words ...string) (Query, error) {
	var kws []string
	seen := map[string]bool{}
	for _, t := range words {
		for _, w := range Words(t) {
			w = cut(w)
			if isKeyword(w) && !seen[w] {
				seen[w] = true
				kws = append(kws, w)
			}
		}
	}
	if len(kws) == 0 {
		return Query{}, ErrNoKeywords
	}
	return Query{Keywords: kws, Lookup: Rarest(kws)}, nil
}

// Hit is one keyword record a search received.
type Hit struct {
	CID         string
	Name        string
	Size        uint64
	Kind        string
	Description string
	// Keyword is the keyword the record was stored under; Tags the
	// publisher's extra keywords.
	Keyword string
	Tags    string
	// Publisher is the peer that signed the record.
	Publisher string
}

// Match reports whether h carries every keyword of q: in its name, its
// description, its tags or the keyword it was stored under.
func (q Query) Match(h Hit) bool {
	have := map[string]bool{h.Keyword: true}
	for _, w := range Words(h.Name + " " + h.Description + " " + h.Tags) {
		have[cut(w)] = true
	}
	for _, k := range q.Keywords {
		if !have[k] {
			return false
		}
	}
	return true
}

// nameMatch counts the keywords of q among the words of name.
func (q Query) nameMatch(name string) int {
	have := map[string]bool{}
	for _, w := range Words(name) {
		have[cut(w)] = true
	}
	n := 0
	for _, k := range q.Keywords {
		if have[k] {
			n++
		}
	}
	return n
}

// Result is one file a search found.
type Result struct {
	CID         string `json:"cid"`
	Name        string `json:"name"`
	Size        uint64 `json:"size"`
	Kind        string `json:"type"`
	Description string `json:"description,omitempty"`
	// Publishers is how many distinct peers published it; Providers how
	// many provide it (-1: not checked yet); Peers how many distinct peers
	// did either.
	Publishers int `json:"publishers"`
	Providers  int `json:"providers"`
	Peers      int `json:"peers"`
	// NameMatch is how many of the query's keywords its name holds.
	NameMatch int `json:"name_match"`
}

// Ranker gathers a search's hits by CID and ranks them. It is not safe for
// concurrent use.
type Ranker struct {
	q     Query
	byCID map[string]*entry
}

type entry struct {
	cid     string
	names   map[string]int // name → publishers giving it
	sizes   map[uint64]int
	kinds   map[string]int
	desc    string
	pubs    map[string]bool
	provs   map[string]bool
	checked bool
}

// NewRanker returns a ranker for q.
func NewRanker(q Query) *Ranker { return &Ranker{q: q, byCID: map[string]*entry{}} }

// Observe takes a hit. It returns the CID's result and true when the hit
// matches the query and adds a publisher, false otherwise (no match, or a
// publisher already counted).
func (r *Ranker) Observe(h Hit) (Result, bool) {
	if h.CID == "" || !r.q.Match(h) {
		return Result{}, false
	}
	e := r.byCID[h.CID]
	if e == nil {
		e = &entry{cid: h.CID, names: map[string]int{}, sizes: map[uint64]int{}, kinds: map[string]int{},
			pubs: map[string]bool{}, provs: map[string]bool{}}
		r.byCID[h.CID] = e
	}
	if e.pubs[h.Publisher] {
		return Result{}, false
	}
	e.pubs[h.Publisher] = true
	e.names[h.Name]++
	e.sizes[h.Size]++
	e.kinds[h.Kind]++
	if e.desc == "" || h.Description < e.desc && h.Description != "" {
		e.desc = h.Description
	}
	return r.result(e), true
}

// ObserveProviders records the peers found to provide cid (a CID no hit
// named is ignored).
func (r *Ranker) ObserveProviders(cid string, peers []string) {
	e := r.byCID[cid]
	if e == nil {
		return
	}
	e.checked = true
	for _, p := range peers {
		e.provs[p] = true
	}
}

// mostCommon returns the key of m given most often, ties broken by the
// smallest key.
func mostCommon[K cmp.Ordered](m map[K]int) K {
	var best K
	n := -1
	for k, c := range m {
		if c > n || (c == n && k < best) {
			best, n = k, c
		}
	}
	return best
}

func (r *Ranker) result(e *entry) Result {
	peers := len(e.pubs)
	for p := range e.provs {
		if !e.pubs[p] {
			peers++
		}
	}
	name := mostCommon(e.names)
	res := Result{CID: e.cid, Name: name, Size: mostCommon(e.sizes), Kind: mostCommon(e.kinds), Description: e.desc,
		Publishers: len(e.pubs), Providers: -1, Peers: peers, NameMatch: r.q.nameMatch(name)}
	if e.checked {
		res.Providers = len(e.provs)
	}
	return res
}

// provided ranks a result: 0 provided, 1 not checked, 2 nobody provides it.
func provided(r Result) int {
	switch {
	case r.Providers > 0:
		return 0
	case r.Providers < 0:
		return 1
	}
	return 2
}

// Results returns every result, best first: a CID no peer provides last;
// then by more distinct peers publishing or providing it, by more query
// keywords in its name, by name, by CID.
func (r *Ranker) Results() []Result {
	out := make([]Result, 0, len(r.byCID))
	for _, e := range r.byCID {
		out = append(out, r.result(e))
	}
	slices.SortFunc(out, compare)
	return out
}

func compare(a, b Result) int {
	return cmp.Or(
		cmp.Compare(provided(a), provided(b)),
		cmp.Compare(b.Peers, a.Peers),
		cmp.Compare(b.NameMatch, a.NameMatch),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.CID, b.CID),
	)
}
