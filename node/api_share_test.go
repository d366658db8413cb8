package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/nodetest"
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
	data := make([]byte, 5*chunk+7)
	for i := range data {
		data[i] = byte(i*13 + i>>12)
	}
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
	data := make([]byte, 12<<20+5)
	for i := range data {
		data[i] = byte(i*31 + i>>9)
	}
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
	nodetest.WaitFor(t, 10*time.Second, "the cancelled get to clean up", func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, ".*"))
		_, serr := os.Lstat(out)
		return len(m) == 0 && os.IsNotExist(serr)
	})

	var last control.FetchEvent
	err = cl.Stream(ctx, "POST", control.PathGet, req, func(line []byte) error {
		return json.Unmarshal(line, &last)
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
}
