package node_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// TestOpenStream: a fresh node streams a file that another node added,
// reading while it fetches, through WriteTo (as the control API's cat does)
// and from an offset; a stream of content nobody provides ends with an
// error.
func TestOpenStream(t *testing.T) {
	ctx := t.Context()
	prov, _ := nodetest.Start(t, nodetest.Config(t), node.Deps{})
	cfg := nodetest.Config(t)
	cfg.Bootstrap = prov.Addrs()[:1]
	n, _ := nodetest.Start(t, cfg, node.Deps{})
	data := make([]byte, 6<<20+7)
	for i := range data {
		data[i] = byte(i*7 + i>>10)
	}
	res, err := prov.AddReader(ctx, bytes.NewReader(data), "f", share.AddOptions{})
	if err != nil {
		t.Fatalf("AddReader: %v", err)
	}

	r, err := n.OpenStream(ctx, res.Root)
	if err != nil {
		t.Fatalf("OpenStream(%s): %v", res.Root, err)
	}
	wt, ok := r.(io.WriterTo)
	if !ok {
		t.Fatalf("OpenStream returned a %T, not an io.WriterTo", r)
	}
	var buf bytes.Buffer
	_, err = wt.WriteTo(&buf)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("stream of %s: %d bytes, %v; want the %d added", res.Root, buf.Len(), err, len(data))
	}

	const off, length = 3<<20 + 5, 100000
	r, err = n.OpenStream(ctx, res.Root)
	if err != nil {
		t.Fatalf("OpenStream(%s) again: %v", res.Root, err)
	}
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		t.Fatalf("Seek(%d): %v", off, err)
	}
	got, err := io.ReadAll(io.LimitReader(r, length))
	r.Close()
	if err != nil || !bytes.Equal(got, data[off:off+length]) {
		t.Errorf("read %d bytes at %d: %d bytes, %v; not the file's", length, off, len(got), err)
	}

	nobody, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.SHA2_256, MhLength: -1}.Sum([]byte("nobody has this"))
	if err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if r, err := n.OpenStream(tctx, nobody); err == nil {
		r.Close()
		t.Errorf("OpenStream(%s) nobody provides = nil error, want one", nobody)
	}
}
