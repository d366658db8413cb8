package share

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enxame/enxame/share/search"
	cid "github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/peer"
)

// kwNet is an in-memory KeywordNet: Publish files each record under its
// keyword as a Hit from "publisher"; with noPeers set, both fail as an
// empty routing table does; with fail set, they fail otherwise.
type kwNet struct {
	mu        sync.Mutex
	byKw      map[string][]search.Hit
	published map[cid.Cid]int // Publish calls that carried each CID
	noPeers   bool
	fail      error
}

func newKwNet() *kwNet {
	return &kwNet{byKw: map[string][]search.Hit{}, published: map[cid.Cid]int{}}
}

func (n *kwNet) err() error {
	if n.noPeers {
		return fmt.Errorf("fake: %w", ErrNoKeywordPeers)
	}
	return n.fail
}

func (n *kwNet) Publish(ctx context.Context, recs []KeywordRecord) (map[string]int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.err(); err != nil {
		return map[string]int{}, err
	}
	stored := map[string]int{}
	for _, r := range recs {
		n.byKw[r.Keyword] = append(n.byKw[r.Keyword], search.Hit{CID: r.CID.String(), Name: r.Name, Size: r.Size, Kind: r.Kind,
			Description: r.Description, Keyword: r.Keyword, Tags: r.Tags, Publisher: "publisher"})
		stored[r.Keyword] = 1
	}
	if len(recs) > 0 {
		n.published[recs[0].CID]++
	}
	return stored, nil
}

func (n *kwNet) Find(ctx context.Context, keyword string, fn func(search.Hit)) (KeywordFindStats, error) {
	n.mu.Lock()
	hits := slices.Clone(n.byKw[keyword])
	err := n.err()
	n.mu.Unlock()
	for _, h := range hits {
		fn(h)
	}
	return KeywordFindStats{Queried: 3, Answered: 2}, err
}

func (n *kwNet) publishes(c cid.Cid) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.published[c]
}

// kwRouter is a Router whose table size tests set, and which names
// provider for every CID.
type kwRouter struct {
	table    atomic.Int64
	provider peer.ID
}

func (r *kwRouter) FindProviders(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo {
	ch := make(chan peer.AddrInfo, 1)
	ch <- peer.AddrInfo{ID: r.provider}
	close(ch)
	return ch
}
func (r *kwRouter) Provide(ctx context.Context, c cid.Cid) error { return nil }
func (r *kwRouter) TableSize() int                               { return int(r.table.Load()) }

type kwFixture struct {
	k      *Keywords
	store  *Store
	ds     ds.Datastore
	net    *kwNet
	router *kwRouter
}

func newKwFixture(t *testing.T, cfg KeywordConfig) *kwFixture {
	t.Helper()
	f := &kwFixture{store: newTestStore(t, StoreConfig{}), ds: dssync.MutexWrap(ds.NewMapDatastore()), net: newKwNet(),
		router: &kwRouter{provider: peer.ID("provider")}}
	f.router.table.Store(1)
	k, err := NewKeywords(cfg, KeywordDeps{Store: f.store, Datastore: f.ds, Net: f.net, Router: f.router})
	if err != nil {
		t.Fatalf("NewKeywords: %v", err)
	}
	f.k = k
	return f
}

func (f *kwFixture) add(t *testing.T, content string, opts AddOptions) cid.Cid {
	t.Helper()
	return addBytes(t, f.store, []byte(content), opts)
}

func (f *kwFixture) publications(t *testing.T) []string {
	t.Helper()
	pubs, err := f.k.publications(t.Context())
	if err != nil {
		t.Fatalf("publications: %v", err)
	}
	var out []string
	for _, p := range pubs {
		out = append(out, p.Name)
	}
	return out
}

// TestKeywordsPublishAndSearch: a published file is found by a word of
// its name without its accent, by an extra keyword through its tags, with
// its providers counted; a query it does not match finds nothing.
func TestKeywordsPublishAndSearch(t *testing.T) {
	f := newKwFixture(t, KeywordConfig{})
	photo := f.add(t, "ilhas", AddOptions{})
	res, err := f.k.Publish(t.Context(), photo, "Fotografias dos Açores.jpg", []string{"Ilhas"}, "verão")
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	want := PublishResult{CID: photo.String(), Name: "Fotografias dos Açores.jpg", Size: 5, Kind: "file",
		Keywords: []string{"fotografias", "acores", "jpg", "ilhas"}, Stored: map[string]int{"fotografias": 1, "acores": 1, "jpg": 1, "ilhas": 1}}
	if fmt.Sprint(res) != fmt.Sprint(want) {
		t.Errorf("Publish = %+v, want %+v", res, want)
	}
	if got := f.publications(t); !slices.Equal(got, []string{"Fotografias dos Açores.jpg"}) {
		t.Errorf("publications = %q, want the photo", got)
	}
	tests := []struct {
		words []string
		want  []string
	}{
		{[]string{"acores"}, []string{"Fotografias dos Açores.jpg"}},
		{[]string{"FOTOGRAFIAS", "Açores"}, []string{"Fotografias dos Açores.jpg"}},
		{[]string{"ilhas", "fotografias"}, []string{"Fotografias dos Açores.jpg"}},
		{[]string{"lisboa"}, nil},
		{[]string{"acores", "lisboa"}, nil},
	}
	for _, tt := range tests {
		var streamed []string
		sum, err := f.k.Search(t.Context(), tt.words, time.Minute, 0, func(r search.Result) { streamed = append(streamed, r.Name) })
		if err != nil {
			t.Fatalf("Search(%q): %v", tt.words, err)
		}
		var got []string
		for _, r := range sum.Results {
			got = append(got, r.Name)
			if r.Providers != 1 || r.Size != 5 || r.Kind != "file" || r.Description != "verão" {
				t.Errorf("Search(%q) result = %+v, want 1 provider, size 5, kind file, the description", tt.words, r)
			}
		}
		if !slices.Equal(got, tt.want) || !slices.Equal(streamed, tt.want) {
			t.Errorf("Search(%q) = %q (streamed %q), want %q", tt.words, got, streamed, tt.want)
		}
		if sum.Queried != 3 || sum.Answered != 2 || sum.Lookup == "" {
			t.Errorf("Search(%q) summary = %+v, want the lookup and the net's counts", tt.words, sum)
		}
	}
}

// TestKeywordsSearchLimitAndErrors: the limit caps the results; a query
// with no keywords is invalid; the net's failure is an error, its having
// no peers an empty answer.
func TestKeywordsSearchLimitAndErrors(t *testing.T) {
	f := newKwFixture(t, KeywordConfig{})
	for i := range 3 {
		c := f.add(t, fmt.Sprint("receita ", i), AddOptions{})
		if _, err := f.k.Publish(t.Context(), c, fmt.Sprintf("receita %d.txt", i), nil, ""); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	sum, err := f.k.Search(t.Context(), []string{"receita"}, 0, 2, func(search.Result) {})
	if err != nil || len(sum.Results) != 2 {
		t.Errorf("Search limit 2 = %d results, %v; want 2", len(sum.Results), err)
	}
	if _, err := f.k.Search(t.Context(), []string{"de", "o"}, 0, 0, func(search.Result) {}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Search(de o) err = %v, want ErrInvalid", err)
	}
	f.net.fail = errors.New("boom")
	if _, err := f.k.Search(t.Context(), []string{"receita"}, 0, 0, func(search.Result) {}); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("Search with a failing net err = %v, want a plain error", err)
	}
	f.net.fail, f.net.noPeers = nil, true
	if sum, err := f.k.Search(t.Context(), []string{"receita"}, 0, 0, func(search.Result) {}); err != nil || len(sum.Results) != 3 {
		t.Errorf("Search with no peers = %d results, %v; want what the net found, no error", len(sum.Results), err)
	}
}

// TestKeywordsPublishRefuses: what is not pinned, a name with no
// keywords, and names, descriptions or keywords over the records' caps
// are refused as invalid, and nothing is saved or published.
func TestKeywordsPublishRefuses(t *testing.T) {
	f := newKwFixture(t, KeywordConfig{})
	unpinned := f.add(t, "x", AddOptions{NoPin: true})
	c := f.add(t, "y", AddOptions{})
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name, fname, desc string
		c                 cid.Cid
		keywords          []string
	}{
		{"unpinned", "Unpinned file", "", unpinned, nil},
		{"no keywords", "de o a", "", c, nil},
		{"long name", long(MaxPublishName + 1), "", c, nil},
		{"long description", "Receitas", long(MaxPublishDescription + 1), c, nil},
		{"long keywords", "Receitas", "", c, slices.Repeat([]string{long(60)}, 6)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Distinct keywords, so that they are not deduplicated.
			kws := slices.Clone(tt.keywords)
			for i := range kws {
				kws[i] += fmt.Sprint(i)
			}
			if _, err := f.k.Publish(t.Context(), tt.c, tt.fname, kws, tt.desc); !errors.Is(err, ErrInvalid) {
				t.Errorf("Publish err = %v, want ErrInvalid", err)
			}
		})
	}
	if got := f.publications(t); len(got) != 0 {
		t.Errorf("publications = %q, want none", got)
	}
	if n := f.net.publishes(c) + f.net.publishes(unpinned); n != 0 {
		t.Errorf("net publishes = %d, want 0", n)
	}
}

// TestKeywordsPublishDirectory: a directory is published as one, its size
// the sum of its entries'.
func TestKeywordsPublishDirectory(t *testing.T) {
	f := newKwFixture(t, KeywordConfig{})
	dir := t.TempDir()
	writeFile(t, dir, "fotos/a.jpg", []byte("abc"))
	writeFile(t, dir, "fotos/b.jpg", []byte("defgh"))
	add, err := f.store.Add(t.Context(), []string{dir + "/fotos"}, AddOptions{})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	res, err := f.k.Publish(t.Context(), add.Root, "Fotos de férias", nil, "")
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if res.Kind != "dir" || res.Size != 8 {
		t.Errorf("Publish = %+v, want kind dir, size 8", res)
	}
}

// TestKeywordsDeferredUntilPeers: a file published with no peers is
// Deferred; republishing waits for the routing table, reports it pending
// while the net has no peers, and stores it once it has.
func TestKeywordsDeferredUntilPeers(t *testing.T) {
	f := newKwFixture(t, KeywordConfig{})
	f.net.noPeers = true
	f.router.table.Store(0)
	c := f.add(t, "bacalhau", AddOptions{})
	res, err := f.k.Publish(t.Context(), c, "Receitas da avó.pdf", nil, "")
	if err != nil || !res.Deferred {
		t.Fatalf("Publish with no peers = %+v, %v; want Deferred", res, err)
	}
	if !f.k.republishDue(t.Context()) {
		t.Error("republishDue with an empty table = not pending, want pending")
	}
	f.router.table.Store(1)
	if !f.k.republishDue(t.Context()) {
		t.Error("republishDue while the net has no peers = not pending, want pending")
	}
	f.net.noPeers = false
	if f.k.republishDue(t.Context()) {
		t.Error("republishDue with peers = pending, want stored")
	}
	if n := f.net.publishes(c); n != 1 {
		t.Errorf("net publishes = %d, want 1", n)
	}
	if sum, err := f.k.Search(t.Context(), []string{"receitas", "avo"}, 0, 0, func(search.Result) {}); err != nil || len(sum.Results) != 1 {
		t.Errorf("Search(receitas avo) = %+v, %v; want the recipe", sum.Results, err)
	}
}

// TestKeywordsRepublish: a publication is stored again once
// RepublishInterval has passed since it last was, not before; once
// unpinned it is withdrawn and no longer stored; an unreadable one is
// dropped.
func TestKeywordsRepublish(t *testing.T) {
	tests := []struct {
		name  string
		every time.Duration
		want  int // publishes after one republishDue
	}{
		{"not due", time.Hour, 1},
		{"due", time.Nanosecond, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newKwFixture(t, KeywordConfig{RepublishInterval: tt.every})
			c := f.add(t, "fado", AddOptions{})
			if _, err := f.k.Publish(t.Context(), c, "Lisboa à noite.txt", nil, ""); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if pending := f.k.republishDue(t.Context()); pending {
				t.Error("republishDue = pending, want not")
			}
			if n := f.net.publishes(c); n != tt.want {
				t.Errorf("net publishes = %d, want %d", n, tt.want)
			}
		})
	}
	t.Run("unpinned", func(t *testing.T) {
		f := newKwFixture(t, KeywordConfig{RepublishInterval: time.Nanosecond})
		c := f.add(t, "fado", AddOptions{})
		if _, err := f.k.Publish(t.Context(), c, "Lisboa à noite.txt", nil, ""); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		if err := f.store.Unpin(t.Context(), c); err != nil {
			t.Fatalf("Unpin: %v", err)
		}
		f.k.republishDue(t.Context())
		if n := f.net.publishes(c); n != 1 {
			t.Errorf("net publishes = %d, want 1 (not republished once unpinned)", n)
		}
		if got := f.publications(t); len(got) != 0 {
			t.Errorf("publications = %q, want none", got)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		f := newKwFixture(t, KeywordConfig{})
		key := ds.NewKey(publishedPrefix + "junk")
		if err := f.ds.Put(t.Context(), key, []byte("{")); err != nil {
			t.Fatal(err)
		}
		if f.k.republishDue(t.Context()) {
			t.Error("republishDue = pending, want not")
		}
		if ok, err := f.ds.Has(t.Context(), key); err != nil || ok {
			t.Errorf("unreadable publication still stored (%v, %v), want dropped", ok, err)
		}
	})
}

func TestNewKeywordsRejects(t *testing.T) {
	f := newKwFixture(t, KeywordConfig{})
	deps := KeywordDeps{Store: f.store, Datastore: f.ds, Net: f.net, Router: f.router}
	if _, err := NewKeywords(KeywordConfig{RepublishInterval: -1}, deps); err == nil {
		t.Error("NewKeywords with a negative interval = nil error, want one")
	}
	deps.Net = nil
	if _, err := NewKeywords(KeywordConfig{}, deps); err == nil {
		t.Error("NewKeywords with no Net = nil error, want one")
	}
}
