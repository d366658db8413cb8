package node_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/control"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
)

// fetcherOf starts a provider holding data (pinned) and a fresh node that
// knows it, and returns the fresh node and the root of data.
func fetcherOf(t testing.TB, data []byte) (*node.Node, cid.Cid) {
	t.Helper()
	prov, _ := nodetest.Start(t, nodetest.Config(t), node.Deps{})
	cfg := nodetest.Config(t)
	cfg.Bootstrap = prov.Addrs()[:1]
	n, _ := nodetest.Start(t, cfg, node.Deps{})
	res, err := prov.AddReader(t.Context(), bytes.NewReader(data), "f", share.AddOptions{})
	if err != nil {
		t.Fatalf("AddReader: %v", err)
	}
	return n, res.Root
}

// gc runs a GC on n and returns how many blocks it removed.
func gc(t testing.TB, n *node.Node) int {
	t.Helper()
	res, err := n.Blocks().GC(t.Context())
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	return res.Removed
}

// TestCatHoldsBlocksUntilClose: a slow reader of a cat (OpenStream) whose
// fetch has ended reads the whole file byte-exact although a GC ran in the
// middle: the stream holds the DAG until Close, after which GC removes it
// (it is not pinned). Issue 3: gc "removes unpinned blocks, never a pinned
// one or one an active fetch holds"; a GC used to end a running cat with
// "unexpected EOF".
func TestCatHoldsBlocksUntilClose(t *testing.T) {
	data := randomData(3<<20+11, 7)
	n, root := fetcherOf(t, data)
	r, err := n.OpenStream(t.Context(), root)
	if err != nil {
		t.Fatalf("OpenStream(%s): %v", root, err)
	}
	defer r.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatalf("read the first %d bytes: %v", len(head), err)
	}
	select {
	case <-node.FetchDone(r):
	case <-time.After(30 * time.Second):
		t.Fatal("the stream's fetch did not end within 30s")
	}
	if removed := gc(t, n); removed != 0 {
		t.Errorf("GC during the cat removed %d blocks, want 0", removed)
	}
	rest, err := io.ReadAll(r)
	if got := append(head, rest...); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("cat with a GC in the middle: %d bytes, %v; want the %d added", len(got), err, len(data))
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if removed := gc(t, n); removed == 0 {
		t.Error("GC after the cat's Close removed nothing, want the unpinned DAG")
	}
	if ok, err := n.Blocks().Has(t.Context(), root); err != nil || ok {
		t.Errorf("Has(%s) after the GC = %v, %v; want false", root, ok, err)
	}
}

// TestOpenHoldsBlocksUntilClose: Open (compute's inputs) fetches the whole
// DAG before it returns; a GC before the reader is read must not take it.
func TestOpenHoldsBlocksUntilClose(t *testing.T) {
	data := randomData(1<<20+3, 8)
	n, root := fetcherOf(t, data)
	r, err := n.Open(t.Context(), root)
	if err != nil {
		t.Fatalf("Open(%s): %v", root, err)
	}
	defer r.Close()
	if removed := gc(t, n); removed != 0 {
		t.Errorf("GC while a reader is open removed %d blocks, want 0", removed)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after a GC: %d bytes, %v; want the %d added", len(got), err, len(data))
	}
	r.Close()
	if removed := gc(t, n); removed == 0 {
		t.Error("GC after Close removed nothing, want the unpinned DAG")
	}
}

// TestGetHoldsBlocksAgainstGC: a get through the control API writes the
// file byte-exact while GCs run back to back from the moment its fetch
// reports (the DAG is local already, unpinned once the get has started, so
// only the get's hold keeps it).
func TestGetHoldsBlocksAgainstGC(t *testing.T) {
	ctx := t.Context()
	n, _ := nodetest.Start(t, nodetest.Config(t), node.Deps{})
	data := randomData(32<<20, 9)
	res, err := n.AddReader(ctx, bytes.NewReader(data), "f", share.AddOptions{})
	if err != nil {
		t.Fatalf("AddReader: %v", err)
	}
	cl := control.NewClient(n.APISocket())
	out := filepath.Join(t.TempDir(), "out.bin")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	var once sync.Once
	startGC := func() {
		once.Do(func() {
			if err := n.Blocks().Unpin(ctx, res.Root); err != nil {
				t.Errorf("Unpin: %v", err)
			}
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := n.Blocks().GC(ctx); err != nil {
						t.Errorf("GC: %v", err)
						return
					}
				}
			})
		})
	}
	var last control.FetchEvent
	err = cl.Stream(ctx, "POST", control.PathGet, control.GetRequest{CID: res.Root.String(), Output: out}, func(line []byte) error {
		if err := json.Unmarshal(line, &last); err != nil {
			return err
		}
		startGC()
		return nil
	})
	close(stop)
	if err != nil || last.Event != "done" {
		t.Fatalf("get with GCs running: %v, last event %+v", err, last)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get wrote %d bytes (%v), want the %d added", len(got), err, len(data))
	}
}
