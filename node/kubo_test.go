package node_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/kubotest"
	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestKuboInterop checks both directions against a real Kubo: Kubo fetches
// what an enxame node added (over Bitswap), and the node fetches what Kubo
// added (the exchange finds no enxame provider and falls back to Bitswap).
func TestKuboInterop(t *testing.T) {
	k := kubotest.Start(t)
	n, _ := nodetest.Start(t, nodetest.Config(t), node.Deps{})
	ctx := t.Context()
	ai, err := peer.AddrInfoFromString(k.TCPAddr())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Host().Connect(ctx, *ai); err != nil {
		t.Fatalf("connect to Kubo: %v", err)
	}

	// enxame → Kubo.
	ours := make([]byte, 3<<20+5)
	rand.Read(ours)
	res, err := n.AddReader(ctx, bytes.NewReader(ours), "", share.AddOptions{})
	if err != nil {
		t.Fatalf("AddReader: %v", err)
	}
	if got := k.Cat(res.Root.String()); !bytes.Equal(got, ours) {
		t.Errorf("Kubo cat of enxame's %s: %d bytes, want the %d added", res.Root, len(got), len(ours))
	}

	// Kubo → enxame.
	theirs := make([]byte, 2<<20+77)
	rand.Read(theirs)
	c := cid.MustParse(k.AddBytes(theirs, "--cid-version=1", "--raw-leaves"))
	start := time.Now()
	r, err := n.Open(ctx, c)
	if err != nil {
		t.Fatalf("Open(%s) of Kubo's content: %v", c, err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, theirs) {
		t.Errorf("read Kubo's %s: %d bytes (err %v), want %d", c, len(got), err, len(theirs))
	}
	t.Logf("fetched %d bytes from Kubo in %v", len(theirs), time.Since(start).Round(time.Millisecond))
	if err := n.Blocks().Pin(ctx, c); err != nil {
		t.Errorf("Pin after the fetch (is the DAG complete?): %v", err)
	}
}
