package node_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// gatewayGet GETs url and returns the status and body.
func gatewayGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
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
	return resp.StatusCode, body
}

// fetchGoroutines counts goroutines inside a share fetch or the gateway's
// exchange.
func fetchGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "share.(*Exchange).Fetch") || strings.Contains(g, "gateway.(*exchange)") ||
			strings.Contains(g, "share.(*fetcher)") {
			n++
		}
	}
	return n
}

// TestGatewayFetchesFromSwarmAndTimesOut: the gateway of a peer that
// holds nothing serves a file only another peer holds (fetched through the
// swarm, verified), answers 504 for a CID nobody provides once its fetch
// timeout passes, and leaves no fetch goroutine behind after that request
// (issue 13: "a hostile CID that nobody provides: clear 504 within the
// deadline, no goroutine left behind"). goleak (TestMain) checks the rest
// once the nodes are closed.
func TestGatewayFetchesFromSwarmAndTimesOut(t *testing.T) {
	holder, _ := nodetest.Start(t, nodetest.Config(t), node.Deps{})
	cfg := nodetest.Config(t)
	cfg.Bootstrap = holder.Addrs()[:1]
	cfg.Gateway.Listen = "/ip4/127.0.0.1/tcp/0"
	const timeout = 3 * time.Second
	cfg.Gateway.FetchTimeout = timeout
	gw, _ := nodetest.Start(t, cfg, node.Deps{})
	if gw.GatewayURL() == "" {
		t.Fatal("GatewayURL() is empty with gateway.listen set")
	}
	waittest.For(t, "the two peers to connect", func() bool { return len(gw.Host().Network().Peers()) > 0 })

	data := make([]byte, 700<<10) // three chunks and a root
	rand.Read(data)
	res, err := holder.AddReader(t.Context(), bytes.NewReader(data), "f", share.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	code, body := gatewayGet(t, gw.GatewayURL()+"/ipfs/"+res.Root.String())
	if code != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET remote file: status %d, %d bytes; want 200 and the %d bytes added on the other peer", code, len(body), len(data))
	}
	if ok, _ := gw.Blocks().Has(t.Context(), res.Root); !ok {
		t.Error("the fetched root is not in the gateway peer's store")
	}

	h, _ := mh.Sum([]byte("nobody has this"), mh.SHA2_256, -1)
	missing := cid.NewCidV1(cid.Raw, h)
	start := time.Now()
	code, body = gatewayGet(t, gw.GatewayURL()+"/ipfs/"+missing.String())
	took := time.Since(start)
	if code != http.StatusGatewayTimeout {
		t.Fatalf("GET unprovided CID: status %d (%s); want 504", code, body)
	}
	if !strings.Contains(string(body), missing.String()) {
		t.Errorf("504 body %q does not name the CID", body)
	}
	// Well past the timeout means the deadline did not apply; a loaded
	// machine adds seconds, not a multiple.
	if took > 5*timeout {
		t.Errorf("504 after %s; the fetch timeout is %s", took, timeout)
	}
	waittest.For(t, "no fetch goroutine after the 504", func() bool { return fetchGoroutines() == 0 })
}
