package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/control"
	"github.com/google/go-cmp/cmp"
)

// apiNode starts a node serving the API on TCP (port 0) and returns it
// with its API's base URL.
func apiNode(t *testing.T, cfg node.Config, deps node.Deps) (*node.Node, string) {
	t.Helper()
	cfg.API.Listen = "/ip4/127.0.0.1/tcp/0"
	n, _ := nodetest.Start(t, cfg, deps)
	addr, err := node.APIDialAddr(n.APIAddr())
	if err != nil {
		t.Fatalf("APIDialAddr(%q): %v", n.APIAddr(), err)
	}
	return n, "http://" + addr
}

// apiCall sends one request with an optional Authorization header and
// returns the status and body.
func apiCall(t *testing.T, method, url, auth, contentType string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatalf("NewRequest %s %s: %v", method, url, err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, data
}

// errorCode decodes a typed error body, failing the test when it is not one.
func errorCode(t *testing.T, what string, body []byte) string {
	t.Helper()
	var e control.ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("%s: body %q is not a typed error {\"error\":{\"code\",\"message\"}}", what, body)
	}
	return e.Error.Code
}

// TestAPITokenRequired (issue 13): on TCP every /api/v1 route, the OpenAPI
// document and /metrics answer 401 without the token or with a wrong one,
// and answer with it; the unix socket needs none; the token file is 0600.
func TestAPITokenRequired(t *testing.T) {
	cfg := nodetest.Config(t)
	n, base := apiNode(t, cfg, node.Deps{})
	tok := n.APIToken()
	fi, err := os.Stat(filepath.Join(cfg.Home, node.APITokenFile))
	if err != nil {
		t.Fatalf("stat token: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode = %v, want 0600", fi.Mode().Perm())
	}
	if home, err := node.ReadAPIToken(cfg.Home); err != nil || home != tok {
		t.Errorf("ReadAPIToken = %q, %v; want the node's token %q", home, err, tok)
	}
	paths := []string{control.PathStatus, control.PathOpenAPI, control.PathMetrics, control.PathPinLs, control.APIPrefix + "/no-such-route"}
	auths := []struct {
		name, header string
		want         int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong", "Bearer " + strings.Repeat("0", len(tok)), http.StatusUnauthorized},
		{"prefix", "Bearer " + tok[:len(tok)-1], http.StatusUnauthorized},
		{"longer", "Bearer " + tok + "0", http.StatusUnauthorized},
		{"other scheme", "Basic " + tok, http.StatusUnauthorized},
		{"empty bearer", "Bearer ", http.StatusUnauthorized},
		{"right", "Bearer " + tok, http.StatusOK},
	}
	for _, p := range paths {
		for _, a := range auths {
			t.Run(strings.TrimPrefix(p, "/")+"/"+a.name, func(t *testing.T) {
				status, body := apiCall(t, "GET", base+p, a.header, "", nil)
				want := a.want
				if want == http.StatusOK && strings.HasSuffix(p, "/no-such-route") {
					want = http.StatusNotFound
				}
				if status != want {
					t.Fatalf("GET %s with %s token: status %d, want %d (%s)", p, a.name, status, want, body)
				}
				if status == http.StatusUnauthorized {
					if code := errorCode(t, "401", body); code != control.CodeUnauthorized {
						t.Errorf("401 code = %q, want %q", code, control.CodeUnauthorized)
					}
				}
			})
		}
	}
	// The socket stays token-free.
	st, err := control.NewClient(n.APISocket()).Status(t.Context())
	if err != nil || st.ID != n.Host().ID().String() {
		t.Errorf("Status over the socket = %+v, %v; want this node's, no token", st, err)
	}
}

// TestAPIBodyCap (issue 13): a JSON body over MaxRequestBytes is refused
// with 413 too_large, and so is an upload declaring more than the store's
// quota; a body within the caps is served.
func TestAPIBodyCap(t *testing.T) {
	cfg := nodetest.Config(t)
	cfg.Storage.Max = 1 << 20
	n, base := apiNode(t, cfg, node.Deps{})
	auth := "Bearer " + n.APIToken()

	big := `{"addr":"` + strings.Repeat("x", control.MaxRequestBytes) + `"}`
	status, body := apiCall(t, "POST", base+control.PathConnect, auth, "application/json", strings.NewReader(big))
	if status != http.StatusRequestEntityTooLarge || errorCode(t, "connect", body) != control.CodeTooLarge {
		t.Errorf("connect with a %d-byte body: %d %s, want 413 too_large", len(big), status, body)
	}
	status, body = apiCall(t, "POST", base+control.PathAddStream, auth, "application/octet-stream", bytes.NewReader(make([]byte, 2<<20)))
	if status != http.StatusRequestEntityTooLarge || errorCode(t, "add", body) != control.CodeTooLarge {
		t.Errorf("add of 2 MiB over a 1 MiB quota: %d %s, want 413 too_large", status, body)
	}
	status, body = apiCall(t, "POST", base+control.PathAddStream, auth, "application/octet-stream", strings.NewReader("small"))
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"event":"done"`)) {
		t.Errorf("add of 5 bytes: %d %s, want 200 and a done event", status, body)
	}
}

// TestAPIAddMultipart: add/stream takes a browser's multipart/form-data
// upload and adds the file part's bytes.
func TestAPIAddMultipart(t *testing.T) {
	n, base := apiNode(t, nodetest.Config(t), node.Deps{})
	data := []byte("hello from a form\n")
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("note", "ignored"); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("file", "hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	status, body := apiCall(t, "POST", base+control.PathAddStream, "Bearer "+n.APIToken(), mw.FormDataContentType(), &buf)
	if status != http.StatusOK {
		t.Fatalf("multipart add: %d %s", status, body)
	}
	var root string
	for line := range bytes.Lines(body) {
		var ev control.AddEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		if ev.Event == "done" {
			root = ev.Root
		}
	}
	cat, err := control.NewTCPClient(strings.TrimPrefix(base, "http://"), n.APIToken()).Raw(t.Context(), "POST", control.PathCat, control.CatRequest{CID: root})
	if err != nil {
		t.Fatalf("cat %s: %v", root, err)
	}
	got, _ := io.ReadAll(cat)
	cat.Close()
	if !bytes.Equal(got, data) {
		t.Errorf("cat of the multipart add = %q, want %q", got, data)
	}
}

// TestOpenAPIMatchesRoutes (issue 13): the OpenAPI document served on TCP
// lists exactly the routes the server registered, and every documented
// route answers (not 404/405; an error is typed; a planned one is 501).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	n, base := apiNode(t, nodetest.Config(t), node.Deps{})
	auth := "Bearer " + n.APIToken()
	status, body := apiCall(t, "GET", base+control.PathOpenAPI, auth, "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET openapi.json: %d %s", status, body)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("decode openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(documented)
	// The dashboard's page and assets (public, not API) are not documented.
	registered := slices.DeleteFunc(n.APIRoutes(), func(r string) bool {
		_, path, _ := strings.Cut(r, " ")
		return !strings.HasPrefix(path, control.APIPrefix) && path != control.PathMetrics
	})
	slices.Sort(registered)
	if diff := cmp.Diff(registered, documented); diff != "" {
		t.Errorf("documented routes differ from registered ones (-registered +documented):\n%s", diff)
	}
	for _, op := range control.Operations {
		t.Run(op.Method+" "+op.Path, func(t *testing.T) {
			var body io.Reader
			ctype := ""
			if op.Method == "POST" && op.RequestKind == control.BodyJSON {
				body, ctype = strings.NewReader("{}"), "application/json"
			}
			status, resp := apiCall(t, op.Method, base+op.Path, auth, ctype, body)
			switch {
			case op.Planned:
				if status != http.StatusNotImplemented || errorCode(t, op.Path, resp) != control.CodeNotImplemented {
					t.Errorf("planned %s %s: %d %s, want 501 not_implemented", op.Method, op.Path, status, resp)
				}
			case status == http.StatusNotFound && errorCode(t, op.Path, resp) == control.CodeNotFound && strings.Contains(string(resp), "no route"),
				status == http.StatusMethodNotAllowed:
				t.Errorf("%s %s: %d %s: the route does not answer", op.Method, op.Path, status, resp)
			case status >= 400:
				errorCode(t, fmt.Sprintf("%s %s (%d)", op.Method, op.Path, status), resp)
			}
		})
	}
}

// TestAPITransfers: a fetch in progress is listed by GET transfers with its
// CID, and is gone once its request ends.
func TestAPITransfers(t *testing.T) {
	n, base := apiNode(t, nodetest.Config(t), node.Deps{})
	cl := control.NewTCPClient(strings.TrimPrefix(base, "http://"), n.APIToken())
	defer cl.Close()
	const nobody = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := cl.Raw(ctx, "POST", control.PathCat, control.CatRequest{CID: nobody})
		done <- err
	}()
	listed := func(want bool) func() bool {
		return func() bool {
			var ts []control.Transfer
			if err := cl.Do(t.Context(), "GET", control.PathTransfers, nil, &ts); err != nil {
				t.Fatalf("transfers: %v", err)
			}
			found := slices.ContainsFunc(ts, func(tr control.Transfer) bool { return tr.CID == nobody && !tr.Started.IsZero() })
			return found == want
		}
	}
	waittest.For(t, "the fetch to be listed", listed(true))
	cancel()
	<-done
	waittest.For(t, "the ended fetch to leave the list", listed(false))
}
