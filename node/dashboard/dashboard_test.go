package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/dashboard"
)

// artifactsEnv names a directory to keep the screenshot in; without it the
// screenshot goes to the test's temporary directory.
const artifactsEnv = "ENXAME_TEST_ARTIFACTS"

// browserPath finds Chromium: Debian's chromium (installed by .ci/run), or
// another Chrome on PATH.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("no Chromium found on PATH (looked for chromium, chromium-browser, google-chrome): install Debian's chromium package (apt-get install -y chromium), as .ci/run does")
	return ""
}

// TestDashboard drives a real headless Chromium against the dashboard of
// the first peer of a real 3-peer swarm: the page asks for the token, then
// shows the peers, adds a file through its form, submits the wordcount
// module on that file and sees the job done with its unit's receipt, with
// no console error or uncaught exception on the way.
func TestDashboard(t *testing.T) {
	chrome := browserPath(t)
	wc := examplestest.Build(t, "wordcount")

	deps := node.Deps{SandboxCommand: nodetest.SandboxCommand(t), WasmCacheDir: nodetest.WasmCacheDir(t)}
	nodes := nodetest.Swarm(t, 3, deps, func(i int, cfg *node.Config, _ []*node.Node) {
		cfg.Compute.Disabled = false
		cfg.Compute.Slots = 1
		if i == 0 {
			cfg.API.Listen = "/ip4/127.0.0.1/tcp/0"
		}
	})
	for _, n := range nodes {
		waittest.For(t, "peers to join", func() bool { return n.Router().TableSize() >= 2 })
	}
	self := nodes[0]
	addr, err := node.APIDialAddr(self.APIAddr())
	if err != nil {
		t.Fatalf("API address: %v", err)
	}
	base := "http://" + addr

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1400),
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()

	// Every console message, uncaught exception and browser log entry.
	var (
		mu       sync.Mutex
		messages []chromedp.ConsoleMessage
		wg       sync.WaitGroup
	)
	if err := chromedp.Do(ctx); err != nil { // start the browser
		t.Fatalf("start Chromium %s: %v", chrome, err)
	}
	console := chromedp.Console(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m, err := range console {
			if err != nil {
				return
			}
			mu.Lock()
			messages = append(messages, m)
			mu.Unlock()
		}
	}()
	defer wg.Wait()
	defer cancel()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// The page asks for the token, then shows the peer and its two peers.
	do("log in",
		chromedp.Navigate(base+dashboard.PathIndex),
		chromedp.WaitVisible("#token"),
		chromedp.SendKeys("#token", self.APIToken()),
		chromedp.Click("#token-form button"),
		chromedp.WaitVisible("#summary .card"),
	)
	for _, peer := range nodes[1:] {
		do("see peer "+peer.Host().ID().String(),
			chromedp.WaitVisible(fmt.Sprintf(`#peers tr[data-peer=%q]`, peer.Host().ID().String())))
	}
	selfText, err := chromedp.Run(ctx, chromedp.Text("#summary"))
	if err != nil {
		t.Fatalf("read summary: %v", err)
	}
	if id := self.Host().ID().String(); !strings.Contains(selfText, id[len(id)-6:]) {
		t.Errorf("summary %q does not show the peer %s", selfText, id)
	}

	// Add a file through the form: its CID is shown and pinned.
	text := filepath.Join(t.TempDir(), "words.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("the swarm is one computer the swarm\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	do("add a file",
		chromedp.SetUploadFiles("#add-file", []string{text}),
		chromedp.Click("#add-form button"),
		chromedp.WaitVisible("#added-cid"),
	)
	added, err := chromedp.Run(ctx, chromedp.Text("#added-cid"))
	if err != nil || added == "" {
		t.Fatalf("added CID: %q, %v", added, err)
	}
	if pins := pinList(t, base, self.APIToken()); !slices.Contains(pins, added) {
		t.Errorf("the added file %s is not pinned: pins %v", added, pins)
	}

	// Submit the wordcount module on it and follow it to the end.
	do("submit a job",
		chromedp.SetUploadFiles("#submit-module", []string{wc}),
		chromedp.SendKeys("#submit-inputs", added),
		chromedp.Click("#submit-form button"),
		chromedp.WaitVisible("#submitted-job"),
		chromedp.WaitVisible("#job-state .tag"),
	)
	state, err := chromedp.Run(ctx, chromedp.Text("#job-state .tag"))
	if err != nil {
		t.Fatalf("job state: %v", err)
	}
	if state != "done" {
		watch, _ := chromedp.Run(ctx, chromedp.Text("#watch"))
		t.Fatalf("job ended %q, want done; events:\n%s", state, watch)
	}
	// One replica: the unit is done (not "verified", which needs replicas
	// that agree) with its worker's signed receipt.
	do("see the unit done", chromedp.WaitVisible("#units .tag.done"))
	units, err := chromedp.Run(ctx, chromedp.Text("#units"))
	if err != nil {
		t.Fatalf("read units: %v", err)
	}
	if !strings.Contains(units, "1 signed receipt") {
		t.Errorf("units table %q does not show the signed receipt", units)
	}
	// The receipt's worker and run time (control.Receipt's worker and
	// took_ns) are shown.
	if !regexp.MustCompile(`\d (ms|s)\b`).MatchString(units) || !strings.Contains(units, "…") {
		t.Errorf("units table %q does not show the receipt's worker and run time", units)
	}
	jobs, err := chromedp.Run(ctx, chromedp.Text("#jobs"))
	if err != nil {
		t.Fatalf("read jobs: %v", err)
	}
	if strings.Contains(units+jobs, "[object") {
		t.Errorf("a CID is shown as an object:\nunits: %q\njobs: %q", units, jobs)
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv(artifactsEnv)
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	path := filepath.Join(dir, "dashboard.jpg")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot: %s (set %s to keep it)", path, artifactsEnv)

	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, m := range messages {
		if m.IsException() || m.Type == "error" || m.Type == "assert" {
			t.Errorf("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line)
		}
	}
	t.Logf("%d console messages", len(messages))
}

// pinList reads the pins with the API, as any client does.
func pinList(t *testing.T, base, token string) []string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.WithoutCancel(t.Context()), "GET", base+"/api/v1/pin/ls", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("pin ls: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var pins []string
	if err := json.Unmarshal(body, &pins); err != nil {
		t.Fatalf("pin ls: %d %s: %v", resp.StatusCode, body, err)
	}
	return pins
}
