package dht

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/waittest"
	"github.com/google/go-cmp/cmp"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

func newKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatalf("GenerateEd25519Key: %v", err)
	}
	return k
}

// signedRecord returns a record of name under kw, signed by key at when.
func signedRecord(t testing.TB, key crypto.PrivKey, kw, name string, when time.Time) *KeywordRecord {
	t.Helper()
	r := &KeywordRecord{Keyword: kw, CID: testCID(t, name), Name: name, Size: uint64(len(name)), Published: when}
	if err := r.Sign(key); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return r
}

func TestRecordVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	key, other := newKey(t), newKey(t)
	ttl := time.Hour
	tests := []struct {
		name   string
		mutate func(r *KeywordRecord)
		ok     bool
	}{
		{"valid", func(*KeywordRecord) {}, true},
		{"name changed", func(r *KeywordRecord) { r.Name = "other" }, false},
		{"keyword changed", func(r *KeywordRecord) { r.Keyword = "other" }, false},
		{"size changed", func(r *KeywordRecord) { r.Size++ }, false},
		{"time changed", func(r *KeywordRecord) { r.Published = r.Published.Add(time.Second) }, false},
		{"publisher of another key", func(r *KeywordRecord) { r.Publisher, _ = peer.IDFromPrivateKey(other) }, false},
		{"key of another peer", func(r *KeywordRecord) { r.PubKey, _ = crypto.MarshalPublicKey(other.GetPublic()) }, false},
		{"signature cut", func(r *KeywordRecord) { r.Sig = r.Sig[:10] }, false},
		{"expired", func(r *KeywordRecord) { *r = *signedRecord(t, key, "kw", "f", now.Add(-ttl)) }, false},
		{"from the future", func(r *KeywordRecord) { *r = *signedRecord(t, key, "kw", "f", now.Add(time.Hour)) }, false},
		{"slightly ahead", func(r *KeywordRecord) { *r = *signedRecord(t, key, "kw", "f", now.Add(time.Minute)) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signedRecord(t, key, "kw", "file", now.Add(-time.Minute))
			tt.mutate(r)
			// Through the wire, as a peer would see it.
			got, err := DecodeRecord(AppendRecord(nil, r))
			if err != nil {
				t.Fatalf("DecodeRecord: %v", err)
			}
			err = got.Verify(now, ttl)
			if tt.ok && err != nil {
				t.Errorf("Verify() = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrBadRecord) {
				t.Errorf("Verify() = %v, want ErrBadRecord", err)
			}
		})
	}
}

func TestSearchMsgRoundTrip(t *testing.T) {
	key := newKey(t)
	now := time.Unix(1_800_000_000, 0)
	r1 := signedRecord(t, key, "açores", "Açores.jpg", now)
	r2 := signedRecord(t, key, "praia", "praia.txt", now)
	r2.Kind, r2.Description = KindDir, "fotos da praia"
	if err := r2.Sign(key); err != nil {
		t.Fatal(err)
	}
	for _, m := range validSearchMsgs(t) {
		body, err := AppendSearchMsg(nil, m)
		if err != nil {
			t.Fatalf("AppendSearchMsg(%+v): %v", m, err)
		}
		got, err := DecodeSearchMsg(body)
		if err != nil {
			t.Fatalf("DecodeSearchMsg: %v", err)
		}
		if diff := cmp.Diff(m, got, cmpRecords); diff != "" {
			t.Errorf("round trip mismatch (-want +got):\n%s", diff)
		}
	}
	_, _ = r1, r2
}

var cmpRecords = cmp.Comparer(func(a, b *KeywordRecord) bool {
	return string(AppendRecord(nil, a)) == string(AppendRecord(nil, b))
})

func validSearchMsgs(t testing.TB) []*SearchMsg {
	key := newKey(t)
	now := time.Unix(1_800_000_000, 0)
	r1 := signedRecord(t, key, "açores", "Açores.jpg", now)
	r2 := &KeywordRecord{Keyword: "praia", CID: testCID(t, "p"), Name: "praia", Kind: KindDir, Description: "fotos", Tags: "verao sol", Published: now}
	if err := r2.Sign(key); err != nil {
		t.Fatal(err)
	}
	return []*SearchMsg{
		StoreMsg([]*KeywordRecord{r1, r2}),
		{Type: msgStoreResp, Accepted: 2},
		FindMsg("açores", 10),
		{Type: msgFindResp, Records: []*KeywordRecord{r1}, Total: 7},
		{Type: msgFindResp},
	}
}

func TestDecodeSearchMsgRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown type", []byte{9}},
		{"find without keyword", []byte{msgFind, 0, 0}},
		{"find keyword too long", append([]byte{msgFind, 65}, make([]byte, 66)...)},
		{"store with too many records", []byte{msgStore, MaxStoreRecords + 1}},
		{"store record truncated", []byte{msgStore, 1, 10, 1}},
		{"trailing bytes", []byte{msgStoreResp, 1, 0}},
		{"record of bad version", []byte{msgStore, 1, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeSearchMsg(tt.in); !errors.Is(err, ErrMalformed) {
				t.Errorf("DecodeSearchMsg(%x) = %v, want ErrMalformed", tt.in, err)
			}
		})
	}
}

func storeConfig() SearchConfig {
	c := DefaultSearchConfig()
	c.MaxPerPublisherPerKeyword = 3
	c.MaxPerKeyword = 6
	c.MaxPerPublisher = 5
	c.MaxRecords = 8
	return c
}

func kwNames(recs []*KeywordRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

// TestStoreFloodKeepsOthers: a publisher flooding a keyword replaces only
// its own records there; others' stay (issue 15).
func TestStoreFloodKeepsOthers(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := newSearchStore(storeConfig())
	honest, flood := newKey(t), newKey(t)
	for i := range 2 {
		s.put(signedRecord(t, honest, "acores", fmt.Sprintf("honest-%d", i), now))
	}
	for i := range 100 {
		s.put(signedRecord(t, flood, "acores", fmt.Sprintf("flood-%03d", i), now.Add(time.Duration(i)*time.Second)))
	}
	got, total := s.find("acores", now.Add(time.Hour), MaxFindRecords)
	want := []string{"flood-097", "flood-098", "flood-099", "honest-0", "honest-1"}
	if diff := cmp.Diff(want, kwNames(got)); diff != "" {
		t.Errorf("find after a flood mismatch (-want +got):\n%s", diff)
	}
	if total != 5 {
		t.Errorf("find total = %d, want 5", total)
	}
}

// TestStoreKeywordFullEvictsLargest: a full keyword makes room by evicting
// the oldest record of the publisher holding the most there, never one
// of a publisher holding less than the newcomer.
func TestStoreKeywordFullEvictsLargest(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cfg := storeConfig()
	cfg.MaxPerPublisher, cfg.MaxRecords = 100, 100
	s := newSearchStore(cfg)
	a, b, c := newKey(t), newKey(t), newKey(t)
	for i := range 3 {
		s.put(signedRecord(t, a, "kw", fmt.Sprintf("a%d", i), now))
	}
	for i := range 2 {
		s.put(signedRecord(t, b, "kw", fmt.Sprintf("b%d", i), now))
	}
	s.put(signedRecord(t, c, "kw", "c0", now)) // full: 6
	s.put(signedRecord(t, c, "kw", "c1", now)) // evicts a0 (a holds 3)
	s.put(signedRecord(t, c, "kw", "c2", now)) // a, b, c hold 2 each: c replaces its own (c0)
	got, _ := s.find("kw", now, MaxFindRecords)
	want := []string{"a1", "a2", "b0", "b1", "c1", "c2"}
	if diff := cmp.Diff(want, kwNames(got)); diff != "" {
		t.Errorf("find mismatch (-want +got):\n%s", diff)
	}
}

func TestStoreCapsTotalAndPublisher(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := newSearchStore(storeConfig()) // 5 per publisher, 8 in all
	a, b := newKey(t), newKey(t)
	for i := range 10 {
		s.put(signedRecord(t, a, fmt.Sprintf("kw%d", i), fmt.Sprintf("a%d", i), now))
	}
	if st := s.stats(); st.Records != 5 {
		t.Errorf("records after 10 of one publisher = %d, want 5 (MaxPerPublisher)", st.Records)
	}
	for i := range 10 {
		s.put(signedRecord(t, b, fmt.Sprintf("kw%d", i), fmt.Sprintf("b%d", i), now))
	}
	st := s.stats()
	if st.Records > 8 {
		t.Errorf("records = %d, want ≤ 8 (MaxRecords)", st.Records)
	}
	if st.Publishers != 2 {
		t.Errorf("publishers = %d, want 2", st.Publishers)
	}
}

func TestStoreRepublishReplacesAndExpires(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cfg := storeConfig()
	cfg.RecordTTL = time.Hour
	s := newSearchStore(cfg)
	key := newKey(t)
	old := signedRecord(t, key, "kw", "f", now)
	s.put(old)
	fresh := signedRecord(t, key, "kw", "f", now.Add(30*time.Minute))
	s.put(fresh)
	if s.put(old) {
		t.Error("put of an older version of a stored record = true, want false")
	}
	got, total := s.find("kw", now.Add(80*time.Minute), MaxFindRecords)
	if total != 1 || len(got) != 1 || !got[0].Published.Equal(fresh.Published) {
		t.Errorf("find = %d records (total %d), want the republished one alone", len(got), total)
	}
	if n := s.expire(now.Add(2 * time.Hour)); n != 1 {
		t.Errorf("expire = %d, want 1", n)
	}
	if st := s.stats(); st.Records != 0 || st.Keywords != 0 {
		t.Errorf("stats after expiry = %+v, want empty", st)
	}
}

type searchPeer struct {
	r *Router
	h host.Host
	s *Search
}

func newSearchPeer(t *testing.T) searchPeer {
	t.Helper()
	r, h := newQuietRouter(t, silentConfig())
	key := h.Peerstore().PrivKey(h.ID())
	s, err := NewSearch(SearchConfig{}, SearchDeps{Host: h, Router: r, Key: key})
	if err != nil {
		t.Fatalf("NewSearch: %v", err)
	}
	t.Cleanup(s.Close)
	return searchPeer{r, h, s}
}

// TestSearchPublishFind: on loopback, a record published by one peer is
// found by another by its keyword, and only records under that keyword.
func TestSearchPublishFind(t *testing.T) {
	var ps []searchPeer
	for range 5 {
		ps = append(ps, newSearchPeer(t))
	}
	for i := range ps {
		for j := range i {
			connect(t, ps[i].h, ps[j].h)
		}
	}
	for _, p := range ps {
		waittest.For(t, "every table to hold the 4 others", func() bool { return p.r.TableSize() == 4 })
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	pub := ps[0].s
	res, err := pub.Publish(ctx, []KeywordRecord{
		{Keyword: "acores", CID: testCID(t, "a"), Name: "Açores 2024.jpg", Size: 10},
		{Keyword: "praia", CID: testCID(t, "a"), Name: "Açores 2024.jpg", Size: 10},
		{Keyword: "lisboa", CID: testCID(t, "b"), Name: "Lisboa.txt", Size: 3},
	})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if res.Stored["acores"] < 4 {
		t.Errorf("Publish stored acores on %d peers, want 4", res.Stored["acores"])
	}
	var mu sync.Mutex
	var names []string
	fr, err := ps[3].s.Find(ctx, "acores", func(_ peer.ID, r *KeywordRecord) {
		mu.Lock()
		names = append(names, r.Name)
		mu.Unlock()
	})
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if fr.Records == 0 || slices.ContainsFunc(names, func(n string) bool { return n != "Açores 2024.jpg" }) {
		t.Errorf("Find(acores) gave %q (%+v), want only Açores 2024.jpg", names, fr)
	}
	// A peer may store only its own records.
	forged := signedRecord(t, newKey(t), "acores", "forged", time.Now())
	resp := ps[1].s.Handle(ps[2].h.ID(), StoreMsg([]*KeywordRecord{forged}))
	if resp.Accepted != 0 {
		t.Errorf("STORE of another publisher's record accepted %d, want 0", resp.Accepted)
	}
}

// TestStoreHammer: puts, finds and expiries from many goroutines keep the
// store's counts consistent and within its caps.
func TestStoreHammer(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cfg := storeConfig()
	cfg.RecordTTL = time.Hour
	s := newSearchStore(cfg)
	keys := []crypto.PrivKey{newKey(t), newKey(t), newKey(t), newKey(t)}
	iters := 200
	if testing.Short() {
		iters = 50
	}
	// Records are signed up front: signing is not what is hammered.
	recs := make([][]*KeywordRecord, len(keys))
	for k, key := range keys {
		for i := range iters {
			recs[k] = append(recs[k], signedRecord(t, key, fmt.Sprintf("kw%d", i%5), fmt.Sprintf("f%d-%d", k, i), now.Add(time.Duration(i)*time.Second)))
		}
	}
	var wg sync.WaitGroup
	for k := range keys {
		wg.Go(func() {
			for i, r := range recs[k] {
				s.put(r)
				s.find(r.Keyword, now.Add(time.Duration(i)*time.Second), 10)
				if i%50 == 0 {
					s.expire(now.Add(30 * time.Minute))
				}
			}
		})
	}
	wg.Wait()
	st := s.stats()
	sum := 0
	for kw := range 5 {
		_, n := s.find(fmt.Sprintf("kw%d", kw), now, MaxFindRecords)
		sum += n
	}
	if st.Records != sum || st.Records > cfg.MaxRecords {
		t.Errorf("stats %+v, records by keyword %d, want equal and ≤ %d", st, sum, cfg.MaxRecords)
	}
}
