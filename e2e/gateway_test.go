package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/share"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
	mh "github.com/multiformats/go-multihash"
)

// gwResp is one gateway response.
type gwResp struct {
	code   int
	header http.Header
	body   []byte
}

// gwGet GETs url with the header lines given as name, value pairs.
func gwGet(t *testing.T, url string, header ...string) gwResp {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return gwResp{code: resp.StatusCode, header: resp.Header, body: body}
}

// carBlocks parses a CAR response, checks that every block matches its CID
// and returns the roots and the CIDs in order.
func carBlocks(t *testing.T, body []byte) (roots, cids []cid.Cid) {
	t.Helper()
	br, err := carv2.NewBlockReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse CAR: %v", err)
	}
	for {
		b, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read CAR block: %v", err)
		}
		if got, err := b.Cid().Prefix().Sum(b.RawData()); err != nil || !got.Equals(b.Cid()) {
			t.Fatalf("CAR block %s does not match its CID (%v)", b.Cid(), err)
		}
		cids = append(cids, b.Cid())
	}
	return br.Roots, cids
}

// blockCAR writes a CAR holding one block of codec.
func blockCAR(t *testing.T, codec uint64, data []byte) (string, cid.Cid) {
	t.Helper()
	c, err := cid.V1Builder{Codec: codec, MhType: mh.SHA2_256}.Sum(data)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		t.Fatal(err)
	}
	s, err := share.OpenStore(share.StoreConfig{Dir: filepath.Join(t.TempDir(), "scratch")}, share.StoreDeps{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(t.Context(), blk); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "block.car")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.ExportCAR(t.Context(), c, f); err != nil {
		t.Fatal(err)
	}
	return path, c
}

// TestGateway drives `enxame daemon --gateway` with HTTP for every route
// family of the path and trustless gateway specs: a file, a directory
// listing, a range, ETag and If-None-Match, ?format=raw|car|tar|dag-json|
// dag-cbor, Accept negotiation, a CAR with dag-scope and entity-bytes, a
// CID only another peer holds, a CID nobody provides (504 within the
// gateway's fetch timeout) and /ipns (501). Issue 13.
func TestGateway(t *testing.T) {
	root := t.TempDir()
	hA, hB := filepath.Join(root, "a"), filepath.Join(root, "b")
	if res := enxame(t, "init", "--home", hA); res.code != 0 {
		t.Fatalf("init: exit %d: %s", res.code, res.stderr)
	}
	const fetchTimeout = 3 * time.Second
	if res := enxame(t, "config", "set", "--home", hA, "gateway.fetch_timeout", fetchTimeout.String()); res.code != 0 {
		t.Fatalf("config set gateway.fetch_timeout: exit %d: %s", res.code, res.stderr)
	}
	a := startDaemon(t, hA, "--gateway", "/ip4/127.0.0.1/tcp/0")
	if !strings.HasPrefix(a.gateway, "http://127.0.0.1:") {
		t.Fatalf("daemon --gateway printed gateway %q, want http://127.0.0.1:PORT", a.gateway)
	}
	b := startDaemon(t, hB, "--bootstrap", a.tcpAddr())
	if b.gateway != "" {
		t.Errorf("daemon without --gateway printed gateway %q", b.gateway)
	}
	gw := a.gateway

	data := make([]byte, 700<<10) // three 256 KiB chunks and a root
	rand.Read(data)
	file := filepath.Join(root, "data.bin")
	writeFileAll(t, file, data)
	fileCID := strings.TrimSpace(enxame(t, "add", "--home", hA, file).stdout)
	dir := filepath.Join(root, "dir")
	writeFileAll(t, filepath.Join(dir, "a.txt"), []byte("hello\n"))
	writeFileAll(t, filepath.Join(dir, "sub", "b.txt"), []byte("world\n"))
	dirCID := strings.TrimSpace(enxame(t, "add", "--home", hA, dir).stdout)
	cborData := []byte{0xa1, 0x65, 'h', 'e', 'l', 'l', 'o', 0x65, 'w', 'o', 'r', 'l', 'd'} // {"hello": "world"}
	cborPath, cborCID := blockCAR(t, cid.DagCBOR, cborData)
	jsonData := []byte(`{"hello":"world"}`)
	jsonPath, jsonCID := blockCAR(t, cid.DagJSON, jsonData)
	for _, p := range []string{cborPath, jsonPath} {
		if res := enxame(t, "import", "--home", hA, p); res.code != 0 {
			t.Fatalf("import %s: exit %d: %s", p, res.code, res.stderr)
		}
	}

	t.Run("file", func(t *testing.T) {
		r := gwGet(t, gw+"/ipfs/"+fileCID)
		if r.code != http.StatusOK || !bytes.Equal(r.body, data) {
			t.Fatalf("GET file: status %d, %d bytes; want 200 and the %d added", r.code, len(r.body), len(data))
		}
		if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("Cache-Control %q, want immutable", cc)
		}
		etag := r.header.Get("Etag")
		if !strings.Contains(etag, fileCID) {
			t.Fatalf("Etag %q does not name the CID %s", etag, fileCID)
		}
		if r := gwGet(t, gw+"/ipfs/"+fileCID, "If-None-Match", etag); r.code != http.StatusNotModified || len(r.body) != 0 {
			t.Errorf("If-None-Match %s: status %d, %d bytes; want 304 and none", etag, r.code, len(r.body))
		}
	})
	t.Run("range", func(t *testing.T) {
		r := gwGet(t, gw+"/ipfs/"+fileCID, "Range", "bytes=300000-300999")
		if r.code != http.StatusPartialContent || !bytes.Equal(r.body, data[300000:301000]) {
			t.Fatalf("Range bytes=300000-300999: status %d, %d bytes; want 206 and 1000", r.code, len(r.body))
		}
		if cr, want := r.header.Get("Content-Range"), "bytes 300000-300999/716800"; cr != want {
			t.Errorf("Content-Range %q, want %q", cr, want)
		}
	})
	t.Run("directory", func(t *testing.T) {
		r := gwGet(t, gw+"/ipfs/"+dirCID+"/")
		if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET dir/: status %d, type %q; want 200 text/html", r.code, r.header.Get("Content-Type"))
		}
		for _, name := range []string{"a.txt", "sub"} {
			if !bytes.Contains(r.body, []byte(name)) {
				t.Errorf("directory listing does not show %q", name)
			}
		}
		if r := gwGet(t, gw+"/ipfs/"+dirCID+"/sub/b.txt"); r.code != http.StatusOK || string(r.body) != "world\n" {
			t.Errorf("GET dir/sub/b.txt: status %d, body %q", r.code, r.body)
		}
		if r := gwGet(t, gw+"/ipfs/"+dirCID+"/nope.txt"); r.code != http.StatusNotFound {
			t.Errorf("GET dir/nope.txt: status %d, want 404", r.code)
		}
	})
	t.Run("raw", func(t *testing.T) {
		c := cid.MustParse(fileCID)
		for _, r := range []gwResp{
			gwGet(t, gw+"/ipfs/"+fileCID+"?format=raw"),
			gwGet(t, gw+"/ipfs/"+fileCID, "Accept", "application/vnd.ipld.raw"),
		} {
			if r.code != http.StatusOK || r.header.Get("Content-Type") != "application/vnd.ipld.raw" {
				t.Fatalf("raw block: status %d, type %q", r.code, r.header.Get("Content-Type"))
			}
			if got, err := c.Prefix().Sum(r.body); err != nil || !got.Equals(c) {
				t.Errorf("raw block does not hash to %s", c)
			}
		}
	})
	t.Run("car", func(t *testing.T) {
		tests := []struct {
			name   string
			query  string
			accept string
			want   int // blocks
		}{
			{"format=car (all)", "?format=car", "", 4},
			{"Accept car, dag-scope=entity", "?dag-scope=entity", "application/vnd.ipld.car", 4},
			{"dag-scope=block", "?format=car&dag-scope=block", "", 1},
			{"entity-bytes=0:1000", "?dag-scope=entity&entity-bytes=0:1000", "application/vnd.ipld.car", 2},
			{"entity-bytes=-1000:*", "?format=car&dag-scope=entity&entity-bytes=-1000:*", "", 2},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var r gwResp
				if tt.accept != "" {
					r = gwGet(t, gw+"/ipfs/"+fileCID+tt.query, "Accept", tt.accept)
				} else {
					r = gwGet(t, gw+"/ipfs/"+fileCID+tt.query)
				}
				if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/vnd.ipld.car") {
					t.Fatalf("status %d, type %q: %s", r.code, r.header.Get("Content-Type"), r.body)
				}
				roots, cids := carBlocks(t, r.body)
				if len(roots) != 1 || roots[0].String() != fileCID {
					t.Errorf("CAR roots %v, want [%s]", roots, fileCID)
				}
				if len(cids) != tt.want || cids[0].String() != fileCID {
					t.Errorf("CAR has %d blocks (first %v), want %d starting with the root", len(cids), cids, tt.want)
				}
			})
		}
	})
	t.Run("tar", func(t *testing.T) {
		r := gwGet(t, gw+"/ipfs/"+dirCID+"?format=tar")
		if r.code != http.StatusOK {
			t.Fatalf("format=tar: status %d: %s", r.code, r.body)
		}
		tr := tar.NewReader(bytes.NewReader(r.body))
		found := map[string]string{}
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("read tar: %v", err)
			}
			b, _ := io.ReadAll(tr)
			found[h.Name] = string(b)
		}
		if found[dirCID+"/a.txt"] != "hello\n" || found[dirCID+"/sub/b.txt"] != "world\n" {
			t.Errorf("tar entries %v, want a.txt and sub/b.txt under %s", found, dirCID)
		}
	})
	t.Run("dag-json and dag-cbor", func(t *testing.T) {
		r := gwGet(t, gw+"/ipfs/"+jsonCID.String()+"?format=dag-json")
		if r.code != http.StatusOK || !bytes.Equal(r.body, jsonData) {
			t.Errorf("format=dag-json: status %d, body %q, want %q", r.code, r.body, jsonData)
		}
		r = gwGet(t, gw+"/ipfs/"+cborCID.String(), "Accept", "application/vnd.ipld.dag-cbor")
		if r.code != http.StatusOK || !bytes.Equal(r.body, cborData) {
			t.Errorf("Accept dag-cbor: status %d, body %x, want %x", r.code, r.body, cborData)
		}
		// No codec conversion (IPIP-524): dag-cbor asked as dag-json is 406.
		if r := gwGet(t, gw+"/ipfs/"+cborCID.String()+"?format=dag-json"); r.code != http.StatusNotAcceptable {
			t.Errorf("dag-cbor block as format=dag-json: status %d, want 406", r.code)
		}
	})
	t.Run("ipns", func(t *testing.T) {
		if r := gwGet(t, gw+"/ipns/example.com"); r.code != http.StatusNotImplemented {
			t.Errorf("GET /ipns/example.com: status %d, want 501", r.code)
		}
	})
	t.Run("remote", func(t *testing.T) {
		remote := make([]byte, 600<<10)
		rand.Read(remote)
		p := filepath.Join(t.TempDir(), "remote.bin")
		writeFileAll(t, p, remote)
		c := strings.TrimSpace(enxame(t, "add", "--home", hB, p).stdout)
		r := gwGet(t, gw+"/ipfs/"+c)
		if r.code != http.StatusOK || !bytes.Equal(r.body, remote) {
			t.Fatalf("GET a CID only the other peer holds: status %d, %d bytes; want 200 and %d", r.code, len(r.body), len(remote))
		}
	})
	t.Run("nobody provides", func(t *testing.T) {
		h, _ := mh.Sum([]byte("no peer holds this block"), mh.SHA2_256, -1)
		c := cid.NewCidV1(cid.Raw, h)
		start := time.Now()
		r := gwGet(t, gw+"/ipfs/"+c.String())
		took := time.Since(start)
		if r.code != http.StatusGatewayTimeout {
			t.Fatalf("GET an unprovided CID: status %d, want 504: %s", r.code, r.body)
		}
		if took > 5*fetchTimeout { // a loaded machine adds seconds, not a multiple
			t.Errorf("504 after %s; gateway.fetch_timeout is %s", took, fetchTimeout)
		}
	})
}
