package search

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Açores", "acores"},
		{"AÇORES", "acores"},
		{"Acores", "acores"},
		{"São Miguel", "sao miguel"},
		{"Corac\u0327a\u0303o", "coracao"}, // decomposed (NFD), as macOS names files
		{"Straße", "strasse"},
		{"relatório_final-v2.pdf", "relatorio final v2 pdf"},
		{"naïve Œuvre", "naive oeuvre"},
		{"日本語", "日本語"},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestKeywords(t *testing.T) {
	tests := []struct {
		name  string
		texts []string
		want  []string
	}{
		{"accents and extension", []string{"Fotografias dos Açores.jpg"}, []string{"fotografias", "acores", "jpg"}},
		{"portuguese stop words", []string{"O livro de receitas da avó para o Natal"}, []string{"livro", "receitas", "avo", "natal"}},
		{"english stop words and short", []string{"The Art of War by Sun Tzu"}, []string{"art", "war", "sun", "tzu"}},
		{"repeats once", []string{"praia praia PRAIA", "Praia"}, []string{"praia"}},
		{"extra keywords and description", []string{"x.txt", "lisboa,porto", "notas de viagem"}, []string{"txt", "lisboa", "porto", "notas", "viagem"}},
		{"nothing", []string{"a de o.tx"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Keywords(tt.texts...)); diff != "" {
				t.Errorf("Keywords(%q) mismatch (-want +got):\n%s", tt.texts, diff)
			}
		})
	}
}

func TestKeywordsBounded(t *testing.T) {
	long := ""
	for i := range 40 {
		long += fmt.Sprintf("palavra%02d ", i)
	}
	long += string(make([]rune, 0)) + "ã" + string(slices.Repeat([]byte("ç"), 100))
	kws := Keywords(long)
	if len(kws) != MaxKeywords {
		t.Errorf("Keywords of 41 words gave %d, want %d", len(kws), MaxKeywords)
	}
	for _, k := range Keywords(string(slices.Repeat([]byte("é"), 100))) {
		if len(k) > MaxKeywordBytes {
			t.Errorf("keyword of %d bytes, want ≤ %d", len(k), MaxKeywordBytes)
		}
	}
}

func TestParseQuery(t *testing.T) {
	q, err := ParseQuery("Açores", "de praia")
	if err != nil {
		t.Fatalf("ParseQuery: %v", err)
	}
	if diff := cmp.Diff(Query{Keywords: []string{"acores", "praia"}, Lookup: "acores"}, q); diff != "" {
		t.Errorf("ParseQuery mismatch (-want +got):\n%s", diff)
	}
	if _, err := ParseQuery("de", "o", "a"); !errors.Is(err, ErrNoKeywords) {
		t.Errorf("ParseQuery of stop words = %v, want ErrNoKeywords", err)
	}
}

func TestRarest(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"sol", "acores", "praia"}, "acores"},
		{[]string{"praia", "verao"}, "praia"},
		{[]string{"verao", "praia"}, "praia"},
	}
	for _, tt := range tests {
		if got := Rarest(tt.in); got != tt.want {
			t.Errorf("Rarest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMatch(t *testing.T) {
	q, _ := ParseQuery("acores praia")
	tests := []struct {
		name string
		h    Hit
		want bool
	}{
		{"both in name", Hit{Name: "Praia dos Açores.jpg", Keyword: "acores"}, true},
		{"one in description", Hit{Name: "Açores.jpg", Description: "na praia", Keyword: "acores"}, true},
		{"keyword it was stored under", Hit{Name: "IMG_001.jpg", Keyword: "acores", Description: "praia"}, true},
		{"one in the tags", Hit{Name: "Açores.jpg", Keyword: "acores", Tags: "verao praia"}, true},
		{"missing one", Hit{Name: "Açores.jpg", Keyword: "acores"}, false},
		{"substring is not a word", Hit{Name: "Açores praias.jpg", Keyword: "acores"}, false},
	}
	for _, tt := range tests {
		if got := q.Match(tt.h); got != tt.want {
			t.Errorf("%s: Match(%+v) = %v, want %v", tt.name, tt.h, got, tt.want)
		}
	}
}

func TestRanker(t *testing.T) {
	q, _ := ParseQuery("acores")
	r := NewRanker(q)
	hit := func(cid, name, pub string) Hit {
		return Hit{CID: cid, Name: name, Size: 10, Kind: "file", Keyword: "acores", Publisher: pub}
	}
	if _, ok := r.Observe(hit("c1", "Açores.jpg", "p1")); !ok {
		t.Error("Observe of a new CID = false, want true")
	}
	if _, ok := r.Observe(hit("c1", "Açores.jpg", "p1")); ok {
		t.Error("Observe of the same publisher again = true, want false")
	}
	if _, ok := r.Observe(Hit{CID: "cx", Name: "Lisboa.jpg", Keyword: "lisboa", Publisher: "p1"}); ok {
		t.Error("Observe of a hit that does not match = true, want false")
	}
	r.Observe(hit("c1", "acores copy.jpg", "p2"))
	r.Observe(hit("c1", "Açores.jpg", "p3"))
	r.Observe(hit("c2", "Fotos Açores.jpg", "p4"))
	r.Observe(hit("c3", "Açores 2.jpg", "p5")) // nobody provides it
	r.Observe(hit("c4", "Azores acores.jpg", "p6"))
	r.ObserveProviders("c1", []string{"p1"})
	r.ObserveProviders("c2", []string{"p4", "p7", "p8"})
	r.ObserveProviders("c3", nil)
	got := r.Results()
	var cids []string
	for _, res := range got {
		cids = append(cids, res.CID)
	}
	// c2: 3 peers (p4, p7, p8), c1: 3 peers (p1, p2, p3), tie broken by name:
	// "Açores.jpg" < "Fotos Açores.jpg"; c4 unchecked; c3 provided by nobody.
	if diff := cmp.Diff([]string{"c1", "c2", "c4", "c3"}, cids); diff != "" {
		t.Errorf("Results() order mismatch (-want +got):\n%s", diff)
	}
	want := Result{CID: "c1", Name: "Açores.jpg", Size: 10, Kind: "file", Publishers: 3, Providers: 1, Peers: 3, NameMatch: 1}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("Results()[0] mismatch (-want +got):\n%s", diff)
	}
}

// TestRankerDeterministic: the ranking does not depend on the order hits
// arrive in.
func TestRankerDeterministic(t *testing.T) {
	q, _ := ParseQuery("acores")
	var hits []Hit
	for i := range 50 {
		hits = append(hits, Hit{CID: fmt.Sprintf("c%d", i%7), Name: fmt.Sprintf("acores %d", i%5), Size: uint64(i % 3),
			Keyword: "acores", Publisher: fmt.Sprintf("p%d", i%11)})
	}
	var first []Result
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		rng.Shuffle(len(hits), func(i, j int) { hits[i], hits[j] = hits[j], hits[i] })
		r := NewRanker(q)
		for _, h := range hits {
			r.Observe(h)
		}
		r.ObserveProviders("c3", []string{"x"})
		got := r.Results()
		if first == nil {
			first = got
			continue
		}
		if diff := cmp.Diff(first, got); diff != "" {
			t.Fatalf("seed %d: Results() differ with hit order (-first +got):\n%s", seed, diff)
		}
	}
}
