package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeBackend answers with fixed values and records what it was asked.
type fakeBackend struct {
	mu       sync.Mutex
	connects []ConnectRequest
	findErr  error
}

func (f *fakeBackend) ID() ID {
	return ID{ID: "12D3KooWtest", Addrs: []string{"/ip4/127.0.0.1/tcp/4100/p2p/12D3KooWtest"}}
}
func (f *fakeBackend) Peers() []Peer {
	return []Peer{{ID: "12D3KooWpeer", Addr: "/ip4/127.0.0.1/tcp/1", Direction: "outbound"}}
}
func (f *fakeBackend) Connect(ctx context.Context, req ConnectRequest) (ConnectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connects = append(f.connects, req)
	if req.Addr == "bad" {
		return ConnectResult{}, Errorf(CodeBadRequest, "bad multiaddr %q", req.Addr)
	}
	return ConnectResult{ID: "12D3KooWpeer", Took: time.Millisecond}, nil
}
func (f *fakeBackend) FindPeer(ctx context.Context, req FindPeerRequest) (FindPeerResult, error) {
	if f.findErr != nil {
		return FindPeerResult{}, f.findErr
	}
	return FindPeerResult{ID: req.Peer, Addrs: []string{"/ip4/127.0.0.1/tcp/2"}, Queried: 3, Took: 2 * time.Millisecond}, nil
}
func (f *fakeBackend) Table() []Bucket  { return []Bucket{{CPL: 1, Peers: []TablePeer{{ID: "x"}}}} }
func (f *fakeBackend) Status() Status   { return Status{ID: "12D3KooWtest", Peers: 1, DHTMode: "server"} }
func (f *fakeBackend) Version() Version { return Version{Version: "test", GoVersion: "go"} }

// serve starts a server for b on a unix socket in a temp dir and returns a
// client for it. The server stops when the test ends.
func serve(t *testing.T, b Backend) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("listen %s: %v", sock, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := NewServer(b, nil)
	s.Handle("GET /api/v1/test/stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := NewStreamWriter(w)
		for i := range 3 {
			if err := sw.Send(map[string]int{"n": i}); err != nil {
				return
			}
		}
	}))
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	c := NewClient(sock)
	t.Cleanup(func() {
		c.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return c
}

func TestClientServerRoundTrip(t *testing.T) {
	fb := &fakeBackend{}
	c := serve(t, fb)
	ctx := t.Context()

	id, err := c.ID(ctx)
	if err != nil {
		t.Fatalf("ID: %v", err)
	}
	if diff := cmp.Diff(fb.ID(), id); diff != "" {
		t.Errorf("ID mismatch (-want +got):\n%s", diff)
	}
	peers, err := c.Peers(ctx)
	if err != nil {
		t.Fatalf("Peers: %v", err)
	}
	if diff := cmp.Diff(fb.Peers(), peers); diff != "" {
		t.Errorf("Peers mismatch (-want +got):\n%s", diff)
	}
	res, err := c.Connect(ctx, "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWpeer")
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if res.ID != "12D3KooWpeer" {
		t.Errorf("Connect().ID = %q, want 12D3KooWpeer", res.ID)
	}
	fp, err := c.FindPeer(ctx, FindPeerRequest{Peer: "12D3KooWother"})
	if err != nil {
		t.Fatalf("FindPeer: %v", err)
	}
	if fp.ID != "12D3KooWother" || fp.Queried != 3 {
		t.Errorf("FindPeer() = %+v, want ID 12D3KooWother, Queried 3", fp)
	}
	tab, err := c.Table(ctx)
	if err != nil {
		t.Fatalf("Table: %v", err)
	}
	if diff := cmp.Diff(fb.Table(), tab); diff != "" {
		t.Errorf("Table mismatch (-want +got):\n%s", diff)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if st.DHTMode != "server" {
		t.Errorf("Status().DHTMode = %q, want server", st.DHTMode)
	}
	v, err := c.Version(ctx)
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if v.Version != "test" {
		t.Errorf("Version().Version = %q, want test", v.Version)
	}
}

func TestClientErrors(t *testing.T) {
	fb := &fakeBackend{findErr: fmt.Errorf("find: %w", context.DeadlineExceeded)}
	c := serve(t, fb)
	ctx := t.Context()
	tests := []struct {
		name       string
		call       func() error
		wantStatus int
		wantCode   string
	}{
		{"coded error", func() error { _, err := c.Connect(ctx, "bad"); return err }, http.StatusBadRequest, CodeBadRequest},
		{"deadline", func() error { _, err := c.FindPeer(ctx, FindPeerRequest{Peer: "p"}); return err }, http.StatusGatewayTimeout, CodeTimeout},
		{"unknown field", func() error {
			return c.Do(ctx, "POST", "/api/v1/connect", map[string]string{"adr": "x"}, nil)
		}, http.StatusBadRequest, CodeBadRequest},
		{"unknown route", func() error { return c.Do(ctx, "GET", "/api/v1/nope", nil, nil) }, http.StatusNotFound, CodeNotFound},
		{"wrong method", func() error { return c.Do(ctx, "GET", PathConnect, nil, nil) }, http.StatusMethodNotAllowed, CodeMethodNotAllowed},
		{"body over the cap", func() error {
			return c.Do(ctx, "POST", PathConnect, ConnectRequest{Addr: strings.Repeat("x", MaxRequestBytes)}, nil)
		}, http.StatusRequestEntityTooLarge, CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v, want *APIError", err)
			}
			if ae.Status != tt.wantStatus || ae.Code != tt.wantCode {
				t.Errorf("APIError = {Status %d, Code %q}, want {%d, %q}", ae.Status, ae.Code, tt.wantStatus, tt.wantCode)
			}
			if strings.Contains(ae.Error(), "\n") {
				t.Errorf("error %q spans lines", ae.Error())
			}
		})
	}
}

func TestClientStream(t *testing.T) {
	c := serve(t, &fakeBackend{})
	var got []int
	err := c.Stream(t.Context(), "GET", "/api/v1/test/stream", nil, func(line []byte) error {
		var ev struct{ N int }
		if err := json.Unmarshal(line, &ev); err != nil {
			return err
		}
		got = append(got, ev.N)
		return nil
	})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if diff := cmp.Diff([]int{0, 1, 2}, got); diff != "" {
		t.Errorf("Stream events mismatch (-want +got):\n%s", diff)
	}
}

func TestClientNoDaemon(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) string
	}{
		{"missing socket", func(t *testing.T) string { return filepath.Join(t.TempDir(), "api.sock") }},
		{"stale socket", func(t *testing.T) string {
			sock := filepath.Join(t.TempDir(), "api.sock")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatalf("listen: %v", err)
			}
			ln.(*net.UnixListener).SetUnlinkOnClose(false)
			ln.Close()
			return sock
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClient(tt.setup(t))
			defer c.Close()
			_, err := c.ID(t.Context())
			if !errors.Is(err, ErrNoDaemon) {
				t.Errorf("ID() error = %v, want ErrNoDaemon", err)
			}
		})
	}
}

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    FindPeerRequest
		wantErr bool
	}{
		{"valid", `{"peer":"12D3KooWx","timeout_ns":5}`, FindPeerRequest{Peer: "12D3KooWx", Timeout: 5}, false},
		{"valid minimal", `{"peer":"p"}`, FindPeerRequest{Peer: "p"}, false},
		{"empty", ``, FindPeerRequest{}, true},
		{"not an object", `[1,2]`, FindPeerRequest{}, true},
		{"unknown field", `{"peer":"p","x":1}`, FindPeerRequest{}, true},
		{"wrong type", `{"peer":5}`, FindPeerRequest{}, true},
		{"trailing data", `{"peer":"p"}{"peer":"q"}`, FindPeerRequest{}, true},
		{"truncated", `{"peer":"p"`, FindPeerRequest{}, true},
		{"oversized", `{"peer":"` + strings.Repeat("a", MaxRequestBytes) + `"}`, FindPeerRequest{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got FindPeerRequest
			err := DecodeRequest(strings.NewReader(tt.body), &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("DecodeRequest(%.40q) error = %v, wantErr %v", tt.body, err, tt.wantErr)
			}
			if err == nil {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("DecodeRequest(%q) mismatch (-want +got):\n%s", tt.body, diff)
				}
			}
		})
	}
}

// FuzzDecodeRequest checks that DecodeRequest never panics, respects its size
// cap, and that what it accepts round-trips through JSON unchanged.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"addr":"/ip4/127.0.0.1/tcp/4100/p2p/12D3KooWtest"}`,
		`{"peer":"12D3KooWx","timeout_ns":1000000000}`,
		`{}`, `null`, `{"peer":"\u0000"}`, `{"timeout_ns":-1}`, `{"timeout_ns":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(v any, fresh func() any) {
			if err := DecodeRequest(bytes.NewReader(data), v); err != nil {
				return
			}
			if len(data) > MaxRequestBytes {
				t.Fatalf("accepted %d bytes, over the %d cap", len(data), MaxRequestBytes)
			}
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("re-encode %#v: %v", v, err)
			}
			w := fresh()
			if err := DecodeRequest(bytes.NewReader(enc), w); err != nil {
				t.Fatalf("decode of re-encoded %s: %v", enc, err)
			}
			if diff := cmp.Diff(v, w); diff != "" {
				t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
			}
		}
		check(new(ConnectRequest), func() any { return new(ConnectRequest) })
		check(new(FindPeerRequest), func() any { return new(FindPeerRequest) })
	})
}

// FuzzAuthenticated feeds arbitrary Authorization headers to the TCP
// handler: it never panics, and it lets a request through only with the
// right token after a "Bearer" scheme.
func FuzzAuthenticated(f *testing.F) {
	const tok = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, seed := range []string{"", "Bearer " + tok, "bearer " + tok, "Bearer  " + tok + " ", "Bearer " + tok[:63],
		"Bearer " + tok + "0", "Basic " + tok, "Bearer", "Bearer ", tok, "Bearer \x00", "BEARER " + tok} {
		f.Add(seed)
	}
	s := NewServer(&fakeBackend{}, nil)
	h := s.Authenticated(tok)
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", PathStatus, nil)
		r.Header["Authorization"] = []string{header}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		scheme, got, _ := strings.Cut(header, " ")
		ok := strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(got) == tok
		switch {
		case w.Code == http.StatusOK && !ok:
			t.Errorf("Authorization %q let through", header)
		case w.Code != http.StatusOK && ok:
			t.Errorf("Authorization %q refused: %d", header, w.Code)
		case w.Code != http.StatusOK && w.Code != http.StatusUnauthorized:
			t.Errorf("Authorization %q: status %d, want 200 or 401", header, w.Code)
		}
	})
}
