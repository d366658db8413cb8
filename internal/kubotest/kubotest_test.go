package kubotest_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/kubotest"
)

// randomBytes returns n pseudo-random bytes from a seed that it logs.
func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("random data seed %d", seed)
	var key [32]byte
	for i := range 4 {
		for j := range 8 {
			key[i*8+j] = byte(seed >> (8 * j))
		}
		seed++
	}
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// TestFetchFromConnectedPeer pins that one Kubo node fetches a 10 MB file
// over Bitswap from another it is directly connected to, with no routing,
// over each transport.
func TestFetchFromConnectedPeer(t *testing.T) {
	tests := []struct {
		name string
		addr func(*kubotest.Node) string
	}{
		{name: "tcp", addr: (*kubotest.Node).TCPAddr},
		{name: "quic", addr: (*kubotest.Node).QUICAddr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := randomBytes(t, 10_000_000)
			path := filepath.Join(t.TempDir(), "data")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			provider, fetcher := kubotest.Start(t), kubotest.Start(t)

			cid := provider.Add(path)
			if !strings.HasPrefix(cid, "bafy") {
				t.Errorf("Add(%d bytes) = %s, want a CIDv1 dag-pb root (bafy…)", len(data), cid)
			}
			fetcher.SwarmConnect(tt.addr(provider))
			providerID, _ := provider.ID()
			if peers := fetcher.SwarmPeers(); !slices.ContainsFunc(peers, func(p string) bool {
				return strings.HasSuffix(p, "/p2p/"+providerID)
			}) {
				t.Fatalf("SwarmPeers() = %q, want a connection to %s", peers, providerID)
			}

			fetcher.PinAdd(cid)
			if got := fetcher.Cat(cid); !bytes.Equal(got, data) {
				t.Fatalf("Cat(%s) returned %d bytes that differ from the %d added", cid, len(got), len(data))
			}
		})
	}
}

// TestAddMatchesAcrossNodes pins that Add uses the same CID-determining
// options on every node, so a CID computed by enxame can be compared with one
// from Kubo.
func TestAddMatchesAcrossNodes(t *testing.T) {
	data := randomBytes(t, 1<<20)
	a, b := kubotest.Start(t), kubotest.Start(t)
	if ca, cb := a.AddBytes(data), b.AddBytes(data); ca != cb {
		t.Fatalf("AddBytes() on two nodes = %s and %s, want equal", ca, cb)
	}
	// A single-chunk file with raw leaves is a raw block (bafk…).
	if got := a.AddBytes([]byte("hello enxame")); !strings.HasPrefix(got, "bafk") {
		t.Errorf("AddBytes(small) = %s, want a raw-leaf CIDv1 (bafk…)", got)
	}
	// Flags given override the defaults (a raw leaf alone would still be CIDv1).
	if got := a.AddBytes([]byte("hello enxame"), "--cid-version=0", "--raw-leaves=false"); !strings.HasPrefix(got, "Qm") {
		t.Errorf("AddBytes(small, --cid-version=0 --raw-leaves=false) = %s, want a CIDv0 (Qm…)", got)
	}
}

// TestDirectoryRoundTrip pins Add with -r and Get of a directory from
// another node.
func TestDirectoryRoundTrip(t *testing.T) {
	src := t.TempDir()
	files := map[string][]byte{
		"a.txt":         []byte("alpha\n"),
		"sub/b.bin":     randomBytes(t, 300_000),
		"sub/deep/c.md": []byte("# c\n"),
	}
	for name, b := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	provider, fetcher := kubotest.Start(t), kubotest.Start(t)
	cid := provider.Add(src, "-r")
	fetcher.SwarmConnect(provider.TCPAddr())

	dst := filepath.Join(t.TempDir(), "out")
	fetcher.Get(cid, dst)
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(name)))
		if err != nil {
			t.Errorf("Get(%s): %v", cid, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Get(%s): %s has %d bytes that differ from the %d added", cid, name, len(got), len(want))
		}
	}
}

// TestStopEndsDaemon pins that Stop shuts the daemon down cleanly and waits
// for it, so no process outlives the test.
func TestStopEndsDaemon(t *testing.T) {
	n := kubotest.Start(t)
	n.Stop()
	select {
	case <-n.Kubo().Exited():
	default:
		t.Fatal("Stop() returned while the daemon was still running")
	}
	if err := n.Kubo().Stop(); err != nil {
		t.Errorf("second Stop() = %v, want nil", err)
	}
}
