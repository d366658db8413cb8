package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/control"
	"github.com/enxame/enxame/share"
)

// TestCatRanges: the control API's cat returns exactly the requested range
// of a file another node added, the first time while the fetch runs, for
// ranges inside, across and past leaves and the file's end.
func TestCatRanges(t *testing.T) {
	ctx := t.Context()
	prov, _ := nodetest.Start(t, nodetest.Config(t), node.Deps{})
	cfg := nodetest.Config(t)
	cfg.Bootstrap = prov.Addrs()[:1]
	n, _ := nodetest.Start(t, cfg, node.Deps{})
	const chunk = share.DefaultChunkSize
	data := randomData(5*chunk+7, 1)
	res, err := prov.AddReader(ctx, bytes.NewReader(data), "f", share.AddOptions{})
	if err != nil {
		t.Fatalf("AddReader: %v", err)
	}
	size := int64(len(data))
	tests := []struct{ off, length int64 }{
		{chunk + 3, 2*chunk + 1}, // first, while fetching: inside and across leaves
		{0, 0},
		{0, 1},
		{chunk - 1, 2},
		{2 * chunk, chunk},
		{size - 10, 0},
		{size - 10, 100},
		{size, 0},
		{size + 5, 10},
		{3, size},
	}
	cl := control.NewClient(n.APISocket())
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d+%d", tt.off, tt.length), func(t *testing.T) {
			body, err := cl.Raw(ctx, "POST", control.PathCat, control.CatRequest{CID: res.Root.String(), Offset: tt.off, Length: tt.length})
			if err != nil {
				t.Fatalf("cat: %v", err)
			}
			got, err := io.ReadAll(body)
			body.Close()
			end := size
			if tt.length > 0 {
				end = min(tt.off+tt.length, size)
			}
			want := data[min(tt.off, size):max(end, min(tt.off, size))]
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("cat offset %d length %d = %d bytes, %v; want the file's %d", tt.off, tt.length, len(got), err, len(want))
			}
		})
	}
}

// TestGetStreamsAndResumes: a get cancelled half way leaves neither the
// output nor a temporary file; the next get resumes the fetch and writes
// the file byte-exact while it fetches.
func TestGetStreamsAndResumes(t *testing.T) {
	ctx := t.Context()
	pcfg := nodetest.Config(t)
	pcfg.Share.Exchange.ServeRateLimit = 4 << 20 // a get lasts ~3 s
	prov, _ := nodetest.Start(t, pcfg, node.Deps{})
	cfg := nodetest.Config(t)
	cfg.Bootstrap = prov.Addrs()[:1]
	n, _ := nodetest.Start(t, cfg, node.Deps{})
	data := randomData(8<<20+5, 2)
	res, err := prov.AddReader(ctx, bytes.NewReader(data), "f", share.AddOptions{})
	if err != nil {
		t.Fatalf("AddReader: %v", err)
	}
	cl := control.NewClient(n.APISocket())
	dir := t.TempDir()
	out := filepath.Join(dir, "out.bin")
	req := control.GetRequest{CID: res.Root.String(), Output: out}

	// Cancel once some bytes are in.
	cctx, cancel := context.WithCancel(ctx)
	err = cl.Stream(cctx, "POST", control.PathGet, req, func(line []byte) error {
		var ev control.FetchEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return err
		}
		if ev.Event == "done" {
			t.Fatal("the get ended before it could be cancelled")
		}
		if ev.Event == "progress" && ev.BytesFetched > 0 {
			cancel()
			return context.Canceled
		}
		return nil
	})
	cancel()
	if err == nil {
		t.Fatal("a cancelled get ended without an error")
	}
	waittest.For(t, "the cancelled get to clean up", func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, ".*"))
		_, serr := os.Lstat(out)
		return len(m) == 0 && os.IsNotExist(serr)
	})

	st, err := n.Blocks().Stat(ctx)
	if err != nil || st.Blocks == 0 {
		t.Fatalf("after the cancelled get the store holds %+v (%v), want some blocks to resume from", st, err)
	}
	var last control.FetchEvent
	var fetched int64
	err = cl.Stream(ctx, "POST", control.PathGet, req, func(line []byte) error {
		err := json.Unmarshal(line, &last)
		fetched = max(fetched, last.BytesFetched)
		return err
	})
	if err != nil || last.Event != "done" {
		t.Fatalf("second get: %v, last event %+v", err, last)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get wrote %d bytes (%v), want the %d added", len(got), err, len(data))
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*")); len(m) > 0 {
		t.Errorf("temporary files left: %v", m)
	}
	if fetched >= int64(len(data)) {
		t.Errorf("the second get fetched %d bytes, want fewer than the file's %d (resume)", fetched, len(data))
	}
}

// randomData returns n bytes that differ from leaf to leaf (a pattern
// that repeats every chunk would store one block per distinct leaf).
func randomData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}
