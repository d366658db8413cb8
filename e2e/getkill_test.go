package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGetSurvivesFetcherKill kills the fetching daemon with SIGKILL in the
// middle of a get at several points, restarting it on its home each time:
// nothing ever appears at the output path before the last get completes,
// that get writes the file byte-exact, the blocks fetched before each kill
// are not fetched again, and no temporary file is left behind.
func TestGetSurvivesFetcherKill(t *testing.T) {
	root := t.TempDir()
	// The provider serves at 8 MB/s, so a 32 MiB get lasts about 4 s.
	h1 := filepath.Join(root, "a")
	if res := enxame(t, "init", "--home", h1); res.code != 0 {
		t.Fatalf("init: %s", res.stderr)
	}
	if res := enxame(t, "config", "set", "--home", h1, "share.exchange.serve_rate_limit", "8000000"); res.code != 0 {
		t.Fatalf("config set: %s", res.stderr)
	}
	d1 := startDaemon(t, h1, "--no-compute")
	data := make([]byte, 32<<20)
	rand.Read(data)
	file := filepath.Join(root, "data.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := enxame(t, "add", "--home", h1, file)
	if res.code != 0 {
		t.Fatalf("add: %s", res.stderr)
	}
	cid := strings.TrimSpace(res.stdout)

	h2 := filepath.Join(root, "b")
	outDir := t.TempDir()
	out := filepath.Join(outDir, "got.bin")
	total := int64(len(data))
	var fetchedSum int64
	for i, frac := range []float64{0.2, 0.45, 0.7} {
		d2 := startDaemon(t, h2, "--no-compute", "--bootstrap", d1.tcpAddr())
		fetched := getUntil(t, h2, cid, out, int64(frac*float64(total)), func() {
			if code := d2.stop(syscall.SIGKILL, 30*time.Second); code == 0 {
				t.Errorf("kill %d: daemon killed with SIGKILL exited 0", i+1)
			}
		})
		fetchedSum += fetched
		if _, err := os.Lstat(out); !os.IsNotExist(err) {
			t.Fatalf("kill %d at %.0f %%: %s exists (Lstat: %v), want nothing at the final path", i+1, 100*frac, out, err)
		}
	}
	d2 := startDaemon(t, h2, "--no-compute", "--bootstrap", d1.tcpAddr())
	res = enxame(t, "get", "--home", d2.home, cid, "-o", out, "--json")
	if res.code != 0 {
		t.Fatalf("last get: exit %d: %s\nstdout:\n%s", res.code, res.stderr, res.stdout)
	}
	last := lastProgress(res.stdout)
	fetchedSum += last.BytesFetched
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("last get wrote %d bytes (err %v), want the %d added", len(got), err, len(data))
	}
	// Without resume the four gets would move 0.2+0.45+0.7+1 = 2.35 times
	// the file; with it, the file once plus what was in flight at each
	// kill.
	if last.BytesFetched <= 0 || last.BytesFetched > total/2 {
		t.Errorf("last get fetched %d bytes of %d, want only what the killed gets had not stored (≤ half)", last.BytesFetched, total)
	}
	if fetchedSum > total*3/2 {
		t.Errorf("the four gets fetched %d bytes in all, want about the file's %d once", fetchedSum, total)
	}
	t.Logf("3 kills; the last get fetched %d of %d bytes; all four %d", last.BytesFetched, total, fetchedSum)
	left, err := filepath.Glob(filepath.Join(outDir, ".*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("temporary files left next to the output: %v", left)
	}
}

// fetchEvent is the part of a get's NDJSON progress the tests read.
type fetchEvent struct {
	Event        string `json:"event"`
	BytesDone    int64  `json:"bytes_done"`
	BytesFetched int64  `json:"bytes_fetched"`
}

// lastProgress returns the last progress event of a get's NDJSON output
// (its done event carries no counts).
func lastProgress(stdout string) fetchEvent {
	var last fetchEvent
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var ev fetchEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == "progress" {
			last = ev
		}
	}
	return last
}

// getUntil runs `get --json` on home and calls kill once the get reports
// at least done bytes of the file stored; it waits for the get to fail and
// returns the bytes it reported fetched.
func getUntil(t *testing.T, home, cid, out string, done int64, kill func()) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "get", "--home", home, cid, "-o", out, "--json")
	cmd.Env = testEnv(t)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var last fetchEvent
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var ev fetchEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Event != "progress" {
			continue
		}
		last = ev
		if !killed && ev.BytesDone >= done {
			kill()
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("get ended (%v) before %d bytes were done; last progress %+v; stderr %q", err, done, last, stderr.String())
	}
	if err == nil {
		t.Fatalf("get exited 0 although its daemon was killed")
	}
	oneLine(t, "get whose daemon was killed", stderr.String())
	return last.BytesFetched
}
