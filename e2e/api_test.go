package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// apiCLI is enxame with extra environment variables and stdin.
func apiCLI(t *testing.T, env []string, stdin []byte, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(testEnv(t), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run enxame %v: %v", args, err)
		}
		res.code = ee.ExitCode()
	}
	return res
}

// TestCLIOverTCP (issue 13): the real binary serves its API on TCP with
// --api, `enxame api token` prints the home's token (file mode 0600), and
// the CLI works over TCP (--api-addr or ENXAME_API, with the token from
// ENXAME_API_TOKEN or the home) as over the socket; without the right
// token it fails with the API's typed error, printed on one line.
func TestCLIOverTCP(t *testing.T) {
	home := filepath.Join(t.TempDir(), "h")
	if res := enxame(t, "init", "--home", home); res.code != 0 {
		t.Fatalf("init: %s", res.stderr)
	}
	api := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t))
	d := startDaemon(t, home, "--api", api)

	res := enxame(t, "api", "token", "--home", home)
	tok := strings.TrimSpace(res.stdout)
	if res.code != 0 || len(tok) != 64 {
		t.Fatalf("api token: exit %d, %q; want a 64-hex-digit token\n%s", res.code, res.stdout, res.stderr)
	}
	fi, err := os.Stat(filepath.Join(home, "api.token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("api.token: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	// A home with no daemon and no token: only the TCP API can answer.
	other := filepath.Join(t.TempDir(), "none")
	data := []byte("over tcp, not the socket\n")
	tests := []struct {
		name string
		env  []string
		args []string
	}{
		{"flag and token env", []string{"ENXAME_API_TOKEN=" + tok}, []string{"--home", other, "--api-addr", api}},
		{"api env and token env", []string{"ENXAME_API=" + api, "ENXAME_API_TOKEN=" + tok}, []string{"--home", other}},
		{"flag and the home's token", nil, []string{"--home", home, "--api-addr", api}},
		{"host:port", []string{"ENXAME_API_TOKEN=" + tok}, []string{"--home", other, "--api-addr", strings.TrimPrefix(strings.ReplaceAll(api, "/tcp/", ":"), "/ip4/")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st struct {
				ID string `json:"id"`
			}
			res := apiCLI(t, tt.env, nil, append(tt.args, "status", "--json")...)
			if res.code != 0 || json.Unmarshal([]byte(res.stdout), &st) != nil || st.ID != d.id {
				t.Fatalf("status over TCP: exit %d, %q, %s; want the daemon's ID %s", res.code, res.stdout, res.stderr, d.id)
			}
			res = apiCLI(t, tt.env, data, append(tt.args, "add", "-q", "-")...)
			root := strings.TrimSpace(res.stdout)
			if res.code != 0 || root == "" {
				t.Fatalf("add - over TCP: exit %d, %q, %s", res.code, res.stdout, res.stderr)
			}
			res = apiCLI(t, tt.env, nil, append(tt.args, "cat", root)...)
			if res.code != 0 || res.stdout != string(data) {
				t.Errorf("cat over TCP: exit %d, %q, %s; want %q", res.code, res.stdout, res.stderr, data)
			}
		})
	}

	// A typed error comes back as its message, on one line.
	const unpinned = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	res = apiCLI(t, []string{"ENXAME_API_TOKEN=" + tok}, nil, "--home", other, "--api-addr", api, "pin", "rm", unpinned)
	if res.code != 1 || !strings.Contains(res.stderr, "is not pinned") || strings.Count(res.stderr, "\n") != 1 {
		t.Errorf("pin rm of an unpinned CID over TCP: exit %d, stderr %q; want 1 and one line saying it is not pinned", res.code, res.stderr)
	}

	bad := []struct {
		name string
		env  []string
	}{
		{"wrong token", []string{"ENXAME_API_TOKEN=" + strings.Repeat("0", 64)}},
		{"no token", nil}, // the other home has none: the CLI says where to get one
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			res := apiCLI(t, tt.env, nil, "--home", other, "--api-addr", api, "status")
			if res.code == 0 || !strings.Contains(res.stderr, "token") || strings.Count(res.stderr, "\n") != 1 {
				t.Errorf("status: exit %d, stderr %q; want an error about the token on one line", res.code, res.stderr)
			}
		})
	}
	// Programs get 401 with a typed error from the same address.
	addr := strings.TrimPrefix(strings.ReplaceAll(api, "/tcp/", ":"), "/ip4/")
	resp, err := http.Get("http://" + addr + "/api/v1/status")
	if err != nil {
		t.Fatalf("GET status: %v", err)
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || e.Error.Code != "unauthorized" {
		t.Errorf("GET status without a token: %d %+v, want 401 unauthorized", resp.StatusCode, e)
	}

	// The socket stays token-free.
	if res := enxame(t, "--home", home, "status"); res.code != 0 {
		t.Errorf("status over the socket: exit %d: %s", res.code, res.stderr)
	}
}
