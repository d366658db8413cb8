package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/dht"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// searchEvent is the part of an NDJSON search event the test reads.
type searchEvent struct {
	Event   string `json:"event"`
	Results []struct {
		CID       string `json:"cid"`
		Name      string `json:"name"`
		Size      uint64 `json:"size"`
		Providers int    `json:"providers"`
	} `json:"results"`
}

// searchJSON runs search --json on home and returns the "done" event.
func searchJSON(t *testing.T, home string, words ...string) searchEvent {
	t.Helper()
	res := enxame(t, append([]string{"search", "--json", "--home", home, "--timeout", "20s"}, words...)...)
	if res.code != 0 {
		t.Fatalf("search %q: exit %d: %s", words, res.code, res.stderr)
	}
	var done searchEvent
	for line := range strings.Lines(res.stdout) {
		var ev searchEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("search %q: bad line %q: %v", words, line, err)
		}
		if ev.Event == "done" {
			done = ev
		}
	}
	if done.Event != "done" {
		t.Fatalf("search %q: no done event in %q", words, res.stdout)
	}
	return done
}

func (e searchEvent) has(c string) bool {
	for _, r := range e.Results {
		if r.CID == c {
			return true
		}
	}
	return false
}

// TestSearchFiles (issue 15): one daemon publishes files named in
// Portuguese with accents; another finds them by one word without the
// accent and by two, and gets one byte-exact; a file added without
// --publish is not found; a flood of 10,000 records from one peer under a
// keyword leaves the honest file findable, ranked first.
func TestSearchFiles(t *testing.T) {
	root := t.TempDir()
	h1, h2, h3 := filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")
	d1 := startDaemon(t, h1)
	d2 := startDaemon(t, h2, "--bootstrap", d1.tcpAddr())
	d3 := startDaemon(t, h3, "--bootstrap", d1.tcpAddr())

	files := filepath.Join(root, "files")
	os.MkdirAll(files, 0o755)
	photo := make([]byte, 700<<10)
	rand.Read(photo)
	write := func(name string, data []byte) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	add := func(args ...string) string {
		res := enxame(t, append([]string{"add", "--home", h1}, args...)...)
		if res.code != 0 {
			t.Fatalf("add %q: exit %d: %s", args, res.code, res.stderr)
		}
		return strings.TrimSpace(res.stdout)
	}
	photoCID := add("--publish", write("Fotografias dos Açores.jpg", photo))
	beachCID := add("--publish", "--keywords", "verão", write("Praia da Rocha, Algarve.txt", []byte("areia\n")))
	secretCID := add(write("Relatório secreto.pdf", []byte("segredo\n")))

	waittest.For(t, "the photo to be found by one word without its accent", func() bool {
		return searchJSON(t, h3, "acores").has(photoCID)
	})
	if got := searchJSON(t, h3, "praia", "ALGARVE"); len(got.Results) != 1 || got.Results[0].CID != beachCID {
		t.Errorf("search praia ALGARVE = %+v, want the beach file alone", got.Results)
	}
	if got := searchJSON(t, h2, "verao", "rocha"); !got.has(beachCID) {
		t.Errorf("search verao rocha = %+v, want the beach file (extra keyword)", got.Results)
	}
	if got := searchJSON(t, h3, "relatorio"); got.has(secretCID) || len(got.Results) != 0 {
		t.Errorf("search relatorio = %+v, want nothing (not published)", got.Results)
	}
	if res := enxame(t, "search", "--home", h3, "relatorio", "secreto"); res.code == 0 || !strings.Contains(res.stderr, "nothing found") {
		t.Errorf("search relatorio secreto: exit %d, stderr %q; want nothing found", res.code, res.stderr)
	}
	res := enxame(t, "search", "--home", h3, "fotografias", "açores")
	if res.code != 0 || !strings.Contains(res.stdout, photoCID) || !strings.Contains(res.stdout, "Fotografias dos Açores.jpg") {
		t.Fatalf("search fotografias açores: exit %d, stdout %q, stderr %s", res.code, res.stdout, res.stderr)
	}
	out := filepath.Join(t.TempDir(), "got.jpg")
	if res := enxame(t, "get", "--home", h3, photoCID, "-o", out); res.code != 0 {
		t.Fatalf("get %s: exit %d: %s", photoCID, res.code, res.stderr)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, photo) {
		t.Fatalf("get wrote %d bytes (err %v), want the %d published", len(got), err, len(photo))
	}

	// The flood: one peer stores 10,000 signed records under "acores" on
	// every daemon, each naming a CID nobody provides.
	h, _ := dialer(t, d1)
	for _, d := range []*daemon{d2, d3} {
		ai, err := peer.AddrInfoFromString(d.tcpAddr())
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Connect(t.Context(), *ai); err != nil {
			t.Fatalf("flooder connect: %v", err)
		}
	}
	accepted := floodSearch(t, h, []string{d1.id, d2.id, d3.id}, 10000)
	t.Logf("flood: daemons accepted %v of 10000 records each", accepted)
	for i, n := range accepted {
		if n == 0 || n > 10000 {
			t.Errorf("daemon %d accepted %d flood records, want some (they are valid)", i+1, n)
		}
	}
	got := searchJSON(t, h3, "acores")
	if len(got.Results) == 0 || got.Results[0].CID != photoCID {
		t.Fatalf("search acores after the flood: %d results, first %+v; want the photo first", len(got.Results), got.Results[:min(1, len(got.Results))])
	}
	if n := len(got.Results); n > 1+3*20 {
		t.Errorf("search acores after the flood gave %d results, want ≤ %d (20 per publisher per keyword on each of 3 peers)", n, 1+3*20)
	}
	for _, d := range []*daemon{d1, d2, d3} {
		d.alive(t)
	}
}

// floodSearch sends n records under "acores", signed by h's key, to each
// peer in STORE messages, and returns how many each peer said it stored.
func floodSearch(t *testing.T, h host.Host, peers []string, n int) []int {
	t.Helper()
	key := h.Peerstore().PrivKey(h.ID())
	recs := make([]*dht.KeywordRecord, n)
	now := time.Now()
	for i := range recs {
		d, _ := mh.Sum(fmt.Appendf(nil, "flood %d", i), mh.SHA2_256, -1)
		recs[i] = &dht.KeywordRecord{Keyword: "acores", CID: cid.NewCidV1(cid.Raw, d), Name: fmt.Sprintf("acores flood %05d.jpg", i),
			Size: 1, Published: now}
		if err := recs[i].Sign(key); err != nil {
			t.Fatal(err)
		}
	}
	out := make([]int, len(peers))
	for pi, ps := range peers {
		id, err := peer.Decode(ps)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i += dht.MaxStoreRecords {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			st, err := h.NewStream(ctx, id, dht.SearchProtocolID)
			if err != nil {
				cancel()
				t.Fatalf("flood stream to %s: %v", id, err)
			}
			if err := dht.WriteSearchMsg(st, dht.StoreMsg(recs[i:min(i+dht.MaxStoreRecords, n)])); err != nil {
				t.Fatalf("flood write: %v", err)
			}
			st.CloseWrite()
			resp, err := dht.ReadSearchMsg(bufio.NewReader(st))
			st.Close()
			cancel()
			if err != nil {
				t.Fatalf("flood answer from %s: %v", id, err)
			}
			out[pi] += resp.Accepted
		}
	}
	return out
}
