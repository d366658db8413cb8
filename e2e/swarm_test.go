package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

type peerJSON struct {
	ID string `json:"id"`
}

func peerIDs(t *testing.T, home string) []string {
	t.Helper()
	var peers []peerJSON
	mustJSON(t, &peers, "peers", "--home", home)
	ids := make([]string, len(peers))
	for i, p := range peers {
		ids[i] = p.ID
	}
	return ids
}

// TestSwarmOfThree runs three daemons: the 2nd and 3rd join through the
// 1st; the 3rd learns of the 2nd through the DHT, finds it, and a daemon
// killed with SIGKILL comes back on its home with the same peer ID and
// rejoins.
func TestSwarmOfThree(t *testing.T) {
	root := t.TempDir()
	h1, h2, h3 := filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")
	d1 := startDaemon(t, h1)
	d2 := startDaemon(t, h2, "--bootstrap", d1.tcpAddr())
	d3 := startDaemon(t, h3, "--bootstrap", d1.tcpAddr())
	t.Logf("daemons ready in %v, %v, %v", d1.ready, d2.ready, d3.ready)

	var id struct {
		ID    string   `json:"id"`
		Addrs []string `json:"addrs"`
	}
	mustJSON(t, &id, "id", "--home", h2)
	if id.ID != d2.id {
		t.Fatalf("enxame id = %s, daemon printed %s", id.ID, d2.id)
	}
	for _, a := range id.Addrs {
		if !strings.HasSuffix(a, "/p2p/"+d2.id) {
			t.Errorf("enxame id address %q does not end in /p2p/%s", a, d2.id)
		}
	}

	// The 3rd peer learns of the 2nd through the DHT (bootstrap lookup of its
	// own ID) and connects to it.
	start := time.Now()
	waitFor(t, 10*time.Second, "peers on the 3rd daemon to list the 2nd", func() bool {
		return slices.Contains(peerIDs(t, h3), d2.id)
	})
	t.Logf("3rd daemon listed the 2nd after %v", time.Since(start).Round(time.Millisecond))

	var found struct {
		ID      string   `json:"id"`
		Addrs   []string `json:"addrs"`
		Queried int      `json:"queried"`
	}
	mustJSON(t, &found, "dht", "find-peer", d2.id, "--home", h3)
	if found.ID != d2.id || len(found.Addrs) == 0 {
		t.Errorf("dht find-peer %s = %+v, want its addresses", d2.id, found)
	}
	res := enxame(t, "dht", "find-peer", d2.id, "--home", h3)
	if res.code != 0 || !strings.Contains(res.stdout, "found "+d2.id) {
		t.Errorf("dht find-peer (text): exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}

	var status struct {
		Peers        int    `json:"peers"`
		RoutingTable int    `json:"routing_table"`
		DHTMode      string `json:"dht_mode"`
		Uptime       int64  `json:"uptime_ns"`
	}
	mustJSON(t, &status, "status", "--home", h1)
	if status.Peers < 2 || status.RoutingTable < 2 || status.DHTMode != "server" || status.Uptime <= 0 {
		t.Errorf("status of the 1st daemon = %+v, want ≥2 peers, ≥2 in the table, DHT server", status)
	}
	var table []struct {
		CPL   int `json:"cpl"`
		Peers []struct {
			ID string `json:"id"`
		} `json:"peers"`
	}
	mustJSON(t, &table, "dht", "table", "--home", h1)
	inTable := 0
	for _, b := range table {
		inTable += len(b.Peers)
	}
	if inTable < 2 {
		t.Errorf("dht table of the 1st daemon has %d peers, want ≥ 2", inTable)
	}

	// kill -9 the 2nd; it comes back on the same home with the same ID.
	if code := d2.stop(syscall.SIGKILL, 5*time.Second); code == 0 {
		t.Errorf("daemon killed with SIGKILL exited 0")
	}
	waitFor(t, 15*time.Second, "the 1st daemon to notice the 2nd is gone", func() bool {
		return !slices.Contains(peerIDs(t, h1), d2.id)
	})
	d2b := startDaemon(t, h2, "--bootstrap", d1.tcpAddr())
	if d2b.id != d2.id {
		t.Fatalf("restarted daemon has peer ID %s, want %s", d2b.id, d2.id)
	}
	waitFor(t, 10*time.Second, "the restarted daemon to rejoin the 1st and 3rd", func() bool {
		ids := peerIDs(t, h2)
		return slices.Contains(ids, d1.id) && slices.Contains(ids, d3.id)
	})

	// SIGINT stops a daemon cleanly within 5 s.
	start = time.Now()
	if code := d3.stop(syscall.SIGINT, 5*time.Second); code != 0 {
		t.Errorf("daemon stopped by SIGINT exited %d, want 0; log:\n%s", code, d3.logText())
	}
	t.Logf("SIGINT to exit: %v", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(d3.socket); !os.IsNotExist(err) {
		t.Errorf("API socket %s still exists after a clean stop (stat: %v)", d3.socket, err)
	}
	if code := d1.stop(syscall.SIGTERM, 5*time.Second); code != 0 {
		t.Errorf("daemon stopped by SIGTERM exited %d, want 0", code)
	}
}

// TestSecondDaemonSameHome checks the repo lock: a second daemon on a home
// in use fails at once with one clear line, and the first keeps running.
func TestSecondDaemonSameHome(t *testing.T) {
	home := t.TempDir()
	d := startDaemon(t, home)
	start := time.Now()
	res := enxame(t, "daemon", "--home", home, "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0")
	if res.code == 0 {
		t.Fatalf("second daemon on %s exited 0", home)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("second daemon took %v to fail, want at once", took)
	}
	oneLine(t, "second daemon", res.stderr)
	if !strings.Contains(res.stderr, "in use") {
		t.Errorf("second daemon stderr = %q, want it to say the home is in use", res.stderr)
	}
	var id struct {
		ID string `json:"id"`
	}
	mustJSON(t, &id, "id", "--home", home)
	if id.ID != d.id {
		t.Errorf("first daemon answers as %s, want %s", id.ID, d.id)
	}
}

// TestUnreachableBootstrap checks that a daemon whose bootstrap peer is down
// keeps running, retries with backoff, and says so in its log and status.
func TestUnreachableBootstrap(t *testing.T) {
	home := t.TempDir()
	const ghost = "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
	d := startDaemon(t, home, "--bootstrap", ghost)
	var status struct {
		Bootstrap []struct {
			ID        string `json:"id"`
			Connected bool   `json:"connected"`
			Attempts  int    `json:"failed_attempts"`
			LastError string `json:"last_error"`
			NextRetry string `json:"next_retry"`
		} `json:"bootstrap"`
	}
	waitFor(t, 15*time.Second, "status to report a failed bootstrap attempt", func() bool {
		mustJSON(t, &status, "status", "--home", home)
		return len(status.Bootstrap) == 1 && status.Bootstrap[0].Attempts >= 1
	})
	b := status.Bootstrap[0]
	if b.Connected || b.LastError == "" || b.NextRetry == "" {
		t.Errorf("bootstrap status = %+v, want not connected, with last error and next retry", b)
	}
	res := enxame(t, "status", "--home", home)
	if res.code != 0 || !strings.Contains(res.stdout, "bootstrap:") {
		t.Errorf("status (text): exit %d, stdout %q", res.code, res.stdout)
	}
	if log := d.logText(); !strings.Contains(log, "retry") {
		t.Errorf("daemon log does not mention a retry:\n%s", log)
	}
}

// TestInit checks init and config show.
func TestInit(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	res := enxame(t, "init", "--home", home)
	if res.code != 0 {
		t.Fatalf("init: exit %d: %s", res.code, res.stderr)
	}
	key := filepath.Join(home, "identity.key")
	fi, err := os.Stat(key)
	if err != nil {
		t.Fatalf("init made no identity: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("identity mode = %v, want 0600", fi.Mode().Perm())
	}
	before, _ := os.ReadFile(key)
	conf, err := os.ReadFile(filepath.Join(home, "config.yaml"))
	if err != nil || !strings.Contains(string(conf), "#") {
		t.Errorf("config.yaml is missing or has no comments (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(home, "datastore")); err != nil {
		t.Errorf("init made no datastore: %v", err)
	}
	res = enxame(t, "init", "--home", home)
	if res.code != 0 || !strings.Contains(res.stdout, "already initialised") {
		t.Errorf("second init: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	after, _ := os.ReadFile(key)
	if string(before) != string(after) {
		t.Errorf("second init rewrote the identity")
	}
	res = enxame(t, "config", "show", "--home", home)
	for _, want := range []string{"listen:", "bootstrap:", "api_socket:", "protocol_prefix: /enxame"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("config show lacks %q:\n%s", want, res.stdout)
		}
	}
	// ENXAME_HOME is honoured when --home is absent.
	res = enxame(t, "config", "show", "--home", home, "--json")
	if res.code != 0 || !strings.HasPrefix(strings.TrimSpace(res.stdout), "{") {
		t.Errorf("config show --json: exit %d, stdout %q", res.code, res.stdout)
	}
}
