package node_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/control"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
)

func addNamed(t *testing.T, n *node.Node, name, content string) cid.Cid {
	t.Helper()
	res, err := n.AddReader(t.Context(), bytes.NewReader([]byte(content)), name, share.AddOptions{})
	if err != nil {
		t.Fatalf("AddReader(%s): %v", name, err)
	}
	return res.Root
}

// searchNames runs a search and returns the names of its final results.
func searchNames(t *testing.T, n *node.Node, words ...string) []control.SearchResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var done []control.SearchResult
	streamed := 0
	err := n.SearchFiles(ctx, words, 20*time.Second, 0, func(ev control.SearchEvent) {
		switch ev.Event {
		case "result":
			streamed++
		case "done":
			done = ev.Results
		}
	})
	if err != nil {
		t.Fatalf("SearchFiles(%q): %v", words, err)
	}
	if streamed < len(done) {
		t.Errorf("SearchFiles(%q) streamed %d results before done, want ≥ %d", words, streamed, len(done))
	}
	return done
}

func names(rs []control.SearchResult) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

// TestPublishAndSearch: a file published under the keywords of its
// Portuguese name is found by another peer by one word without its
// accent and by two; a query one published file does not match finds
// nothing (issue 15).
func TestPublishAndSearch(t *testing.T) {
	swarm := nodetest.Swarm(t, 3, node.Deps{}, nil)
	a, others := swarm[0], swarm[1:]
	waittest.For(t, "the publisher's table to hold both peers", func() bool { return a.Router().TableSize() == 2 })
	photo := addNamed(t, a, "Fotografias dos Açores.jpg", "ilhas")
	addNamed(t, a, "Lisboa à noite.txt", "fado")
	res, err := a.Publish(t.Context(), photo, "Fotografias dos Açores.jpg", []string{"ilhas"}, "")
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if diff := slices.Compare(res.Keywords, []string{"fotografias", "acores", "jpg", "ilhas"}); diff != 0 || res.Deferred {
		t.Errorf("Publish = %+v, want keywords fotografias, acores, jpg, ilhas, not deferred", res)
	}
	b := others[1]
	got := searchNames(t, b, "acores")
	if len(got) != 1 || got[0].Name != "Fotografias dos Açores.jpg" || got[0].CID != photo.String() {
		t.Fatalf("search acores = %+v, want the photo alone", got)
	}
	if got[0].Providers < 1 || got[0].Size != 5 || got[0].Type != "file" {
		t.Errorf("search acores result = %+v, want providers ≥ 1, size 5, type file", got[0])
	}
	if got := searchNames(t, b, "FOTOGRAFIAS", "Açores"); len(got) != 1 {
		t.Errorf("search FOTOGRAFIAS Açores = %q, want the photo", names(got))
	}
	// "fotografias" is looked up (the longer word); "ilhas" is an extra
	// keyword, matched through the record's tags.
	if got := searchNames(t, b, "ilhas", "fotografias"); len(got) != 1 {
		t.Errorf("search ilhas fotografias = %q, want the photo", names(got))
	}
	if got := searchNames(t, b, "lisboa"); len(got) != 0 {
		t.Errorf("search lisboa (not published) = %q, want nothing", names(got))
	}
	if got := searchNames(t, b, "acores", "lisboa"); len(got) != 0 {
		t.Errorf("search acores lisboa = %q, want nothing", names(got))
	}
}

// TestPublishDeferredUntilPeers: a file published before the peer has
// peers is stored once it has some (share.Keywords.Run, as the node runs
// it). Publishing what is not pinned is a bad request (share's
// TestKeywordsPublishRefuses covers the other refusals).
func TestPublishDeferredUntilPeers(t *testing.T) {
	a, _ := nodetest.Start(t, nodetest.Config(t), node.Deps{})
	unpinned, err := a.AddReader(t.Context(), bytes.NewReader([]byte("x")), "x", share.AddOptions{NoPin: true})
	if err != nil {
		t.Fatal(err)
	}
	var coded *control.CodedError
	if _, err := a.Publish(t.Context(), unpinned.Root, "Unpinned file", nil, ""); !errors.As(err, &coded) || coded.Code != control.CodeBadRequest {
		t.Errorf("Publish of an unpinned CID err = %v, want a bad request", err)
	}
	c := addNamed(t, a, "Receitas da avó.pdf", "bacalhau")
	res, err := a.Publish(t.Context(), c, "Receitas da avó.pdf", nil, "")
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if !res.Deferred {
		t.Errorf("Publish with no peers = %+v, want Deferred", res)
	}
	cfg := nodetest.Config(t)
	cfg.Bootstrap = a.Addrs()[:1]
	b, _ := nodetest.Start(t, cfg, node.Deps{})
	waittest.For(t, "the deferred record to reach the new peer", func() bool {
		return b.Search().Stats().Records > 0
	})
	if got := searchNames(t, b, "receitas", "avo"); len(got) != 1 {
		t.Errorf("search receitas avo = %q, want the recipe", names(got))
	}
}
