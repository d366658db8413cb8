package gateway_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/enxame/enxame/node/gateway"
	"github.com/enxame/enxame/share"
)

// BenchmarkGatewayLocal reads a 64 MiB file the store holds through the
// gateway handler over loopback HTTP.
func BenchmarkGatewayLocal(b *testing.B) {
	st, err := share.OpenStore(share.StoreConfig{Dir: b.TempDir()}, share.StoreDeps{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	data := make([]byte, 64<<20)
	rand.Read(data)
	res, err := st.AddReader(b.Context(), bytes.NewReader(data), "f", share.AddOptions{})
	if err != nil {
		b.Fatal(err)
	}
	h, _ := gateway.NewHandler(gateway.Config{}, gateway.Deps{Blockstore: st})
	srv := httptest.NewServer(h)
	defer srv.Close()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		resp, err := http.Get(srv.URL + "/ipfs/" + res.Root.String())
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
