package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/node/gateway"
	"github.com/enxame/enxame/share"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func openStore(t *testing.T) *share.Store {
	t.Helper()
	st, err := share.OpenStore(share.StoreConfig{Dir: filepath.Join(t.TempDir(), "blocks")}, share.StoreDeps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func rawBlock(t *testing.T, data string) blocks.Block {
	t.Helper()
	h, _ := mh.Sum([]byte(data), mh.SHA2_256, -1)
	b, err := blocks.NewBlockWithCid([]byte(data), cid.NewCidV1(cid.Raw, h))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fetcherFunc adapts a func to gateway.Fetcher.
type fetcherFunc func(ctx context.Context, root cid.Cid) error

func (f fetcherFunc) Fetch(ctx context.Context, root cid.Cid) error { return f(ctx, root) }

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   gateway.Config
		field string // "" when valid
	}{
		{"off", gateway.Config{}, ""},
		{"loopback", gateway.Config{Listen: "/ip4/127.0.0.1/tcp/8080"}, ""},
		{"ipv6", gateway.Config{Listen: "/ip6/::1/tcp/0"}, ""},
		{"host:port", gateway.Config{Listen: "127.0.0.1:8080"}, "listen"},
		{"udp", gateway.Config{Listen: "/ip4/127.0.0.1/udp/8080/quic-v1"}, "listen"},
		{"negative timeout", gateway.Config{FetchTimeout: -time.Second}, "fetch_timeout"},
		{"negative requests", gateway.Config{MaxConcurrentRequests: -1}, "max_concurrent_requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			var fe *gateway.FieldError
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
				t.Errorf("Validate() = %v, want a FieldError on %s", err, tt.field)
			}
		})
	}
}

// TestMissIsFetchedThenServed: a block that is not stored is fetched with
// the Fetcher and then served from the store.
func TestMissIsFetchedThenServed(t *testing.T) {
	st := openStore(t)
	b := rawBlock(t, "fetched from a peer")
	calls := 0
	h, err := gateway.NewHandler(gateway.Config{}, gateway.Deps{Blockstore: st, Fetcher: fetcherFunc(func(ctx context.Context, c cid.Cid) error {
		calls++
		if !c.Equals(b.Cid()) {
			return errors.New("unexpected CID")
		}
		return st.Put(ctx, b)
	})})
	if err != nil {
		t.Fatal(err)
	}
	rec := get(t, h, "/ipfs/"+b.Cid().String())
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), b.RawData()) {
		t.Fatalf("GET: status %d, body %q", rec.Code, rec.Body)
	}
	if rec = get(t, h, "/ipfs/"+b.Cid().String()); rec.Code != http.StatusOK || calls != 1 {
		t.Errorf("second GET: status %d after %d fetches, want 200 from the store after 1", rec.Code, calls)
	}
}

// TestMissTimesOutWith504: a fetch that never delivers is cut at
// FetchTimeout and answered 504 naming the CID; the fetch saw its context
// end (goleak in TestMain checks nothing is left).
func TestMissTimesOutWith504(t *testing.T) {
	st := openStore(t)
	ended := make(chan struct{})
	h, err := gateway.NewHandler(gateway.Config{FetchTimeout: 200 * time.Millisecond}, gateway.Deps{Blockstore: st,
		Fetcher: fetcherFunc(func(ctx context.Context, c cid.Cid) error {
			<-ctx.Done()
			close(ended)
			return ctx.Err()
		})})
	if err != nil {
		t.Fatal(err)
	}
	c := rawBlock(t, "nobody has this").Cid()
	rec := get(t, h, "/ipfs/"+c.String())
	if rec.Code != http.StatusGatewayTimeout || !strings.Contains(rec.Body.String(), c.String()) {
		t.Fatalf("GET: status %d body %q, want 504 naming %s", rec.Code, rec.Body, c)
	}
	<-ended
}

func TestIPNSIsNotImplemented(t *testing.T) {
	h, err := gateway.NewHandler(gateway.Config{}, gateway.Deps{Blockstore: openStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/ipns/example.com", "/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8/"} {
		if rec := get(t, h, p); rec.Code != http.StatusNotImplemented {
			t.Errorf("GET %s: status %d, want 501", p, rec.Code)
		}
	}
	if rec := get(t, h, "/"); rec.Code != http.StatusNotFound {
		t.Errorf("GET /: status %d, want 404", rec.Code)
	}
}

// TestRunServesUntilCancelled: New binds, Run serves, and Run returns once
// its context ends.
func TestRunServesUntilCancelled(t *testing.T) {
	st := openStore(t)
	b := rawBlock(t, "local")
	if err := st.Put(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Config{Listen: "/ip4/127.0.0.1/tcp/0"}, gateway.Deps{Blockstore: st})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, g.URL()+"/ipfs/"+b.Cid().String()+"?format=raw", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, b.RawData()) {
		t.Errorf("GET ?format=raw: status %d body %q", resp.StatusCode, body)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
}
