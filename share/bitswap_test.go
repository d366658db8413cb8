package share

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/kubotest"
	"github.com/enxame/enxame/internal/nodetest/hosttest"
	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// newBitswapPeer starts a libp2p host (defaults, TCP on 127.0.0.1) with a
// Store and Bitswap, all closed by t.Cleanup.
func newBitswapPeer(t *testing.T) (host.Host, *Store, *Bitswap) {
	t.Helper()
	h := hosttest.New(t)
	s := newTestStore(t, StoreConfig{})
	bs, err := NewBitswap(t.Context(), BitswapConfig{}, BitswapDeps{Host: h, Store: s})
	if err != nil {
		t.Fatalf("NewBitswap: %v", err)
	}
	t.Cleanup(func() {
		if err := bs.Close(); err != nil {
			t.Errorf("Bitswap.Close: %v", err)
		}
		if err := h.Close(); err != nil {
			t.Errorf("host Close: %v", err)
		}
	})
	return h, s, bs
}

func hostAddr(t *testing.T, h host.Host) string {
	t.Helper()
	for _, a := range h.Addrs() {
		if strings.Contains(a.String(), "/tcp/") {
			return a.String() + "/p2p/" + h.ID().String()
		}
	}
	t.Fatalf("host %s has no TCP address among %v", h.ID(), h.Addrs())
	return ""
}

// TestBitswapKuboFetchesFromEnxame: Kubo connects to an enxame peer and
// fetches, over Bitswap, a file (cat) and a directory (pin add) that
// enxame added.
func TestBitswapKuboFetchesFromEnxame(t *testing.T) {
	h, s, _ := newBitswapPeer(t)
	dir := t.TempDir()
	data := randomBytes(11, 3<<20+123)
	f := writeFile(t, dir, "file.bin", data)
	writeFile(t, dir, "tree/x", randomBytes(12, 700000))
	writeFile(t, dir, "tree/y/z", []byte("zzz"))
	res, err := s.Add(t.Context(), []string{f, filepath.Join(dir, "tree")}, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := kubotest.Start(t)
	k.SwarmConnect(hostAddr(t, h))
	if got := k.Cat(res.Roots[0].String()); !bytes.Equal(got, data) {
		t.Errorf("Kubo cat %s: %d bytes, want the %d enxame added", res.Roots[0], len(got), len(data))
	}
	k.PinAdd(res.Roots[1].String())
	if got := k.Cat(res.Roots[1].String() + "/y/z"); string(got) != "zzz" {
		t.Errorf("Kubo cat tree/y/z = %q, want %q", got, "zzz")
	}
}

// TestBitswapEnxameFetchesFromKubo: an enxame peer connects to Kubo and
// writes, through a Reader over Bitswap, a file and a directory that Kubo
// added; then everything is local and pinnable.
func TestBitswapEnxameFetchesFromKubo(t *testing.T) {
	h, s, bs := newBitswapPeer(t)
	k := kubotest.Start(t)
	dir := t.TempDir()
	data := randomBytes(13, 2<<20+77)
	fileCID := k.AddBytes(data)
	writeFile(t, dir, "tree/a", randomBytes(14, 500000))
	writeFile(t, dir, "tree/b/c", []byte("see"))
	treeCID := k.Add(filepath.Join(dir, "tree"), "-r")

	ai, err := peer.AddrInfoFromString(k.TCPAddr())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(t.Context(), *ai); err != nil {
		t.Fatalf("connect to Kubo: %v", err)
	}
	// The fetch goes through a Hold, so a GC in between keeps its blocks.
	hold := s.NewHold()
	defer hold.Release()
	r := NewReader(ReaderConfig{}, hold.Getter(bs))
	out := t.TempDir()
	for _, tc := range []struct{ name, cid string }{{"file", fileCID}, {"tree", treeCID}} {
		c := cid.MustParse(tc.cid)
		ctx, cancel := contextWithTimeout(t, 60*time.Second)
		err := r.WriteTo(ctx, c, filepath.Join(out, tc.name))
		cancel()
		if err != nil {
			t.Fatalf("WriteTo(%s) over Bitswap: %v", tc.name, err)
		}
		if _, err := s.GC(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := s.Pin(t.Context(), c); err != nil {
			t.Errorf("Pin(%s) after the fetch: %v", c, err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(out, "file")); !bytes.Equal(got, data) {
		t.Errorf("fetched file: %d bytes, want the %d Kubo added", len(got), len(data))
	}
	if got, _ := os.ReadFile(filepath.Join(out, "tree", "b", "c")); string(got) != "see" {
		t.Errorf("fetched tree/b/c = %q, want %q", got, "see")
	}
	want, _ := os.ReadFile(filepath.Join(dir, "tree", "a"))
	if got, _ := os.ReadFile(filepath.Join(out, "tree", "a")); !bytes.Equal(got, want) {
		t.Errorf("fetched tree/a: %d bytes, want %d", len(got), len(want))
	}
}
