package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/kubo"
	"github.com/enxame/enxame/internal/netlabtest"
	"github.com/enxame/enxame/internal/waittest"
)

// kuboPeer is a Kubo daemon in the lab.
type kuboPeer struct {
	host *netlabtest.Host
	repo string
	id   string
	proc *netlabtest.Proc
}

// kuboCmd runs `ipfs ARGS...` against k's repository inside k's host (the
// API listens on the host's loopback).
func (k *kuboPeer) cmd(ctx context.Context, bin string, args ...string) ([]byte, error) {
	out, errb, err := k.host.Exec(ctx, "env", append([]string{"IPFS_PATH=" + k.repo, bin}, args...)...)
	if err != nil {
		return out, fmt.Errorf("ipfs %v on %s: %w: %s", args, k.host.Name, err, errb)
	}
	return out, nil
}

// TestKuboNATToNAT is the baseline of issue 12's first figure: the same lab
// shape as scenario 1 (five public peers, two behind port-preserving NATs)
// with Kubo, relays and hole punching switched on by hand, and the 8 MiB
// NAT-to-NAT fetch given 60 s. Kubo's outcome is a figure, not a pass or a
// failure of this test; the test fails only when the lab cannot be set up.
func TestKuboNATToNAT(t *testing.T) {
	ctx := t.Context()
	bin, err := kubo.FindBinary(ctx)
	if err != nil {
		t.Fatalf("kubo binary: %v (scripts/build-kubo.sh builds it)", err)
	}
	lab := netlabtest.New(t)
	start := func(h *netlabtest.Host, public bool, boot []string) *kuboPeer {
		t.Helper()
		k := &kuboPeer{host: h, repo: filepath.Join(t.TempDir(), "repo")}
		ipfs := func(args ...string) string {
			t.Helper()
			c := exec.CommandContext(ctx, bin, args...)
			c.Env = []string{"IPFS_PATH=" + k.repo, "HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
			out, err := c.CombinedOutput()
			if err != nil {
				t.Fatalf("ipfs %v for %s: %v: %s", args, h.Name, err, out)
			}
			return strings.TrimSpace(string(out))
		}
		ipfs("init", "--profile=test")
		bootJSON, _ := json.Marshal(boot)
		for _, kv := range [][2]string{
			{"Addresses.Swarm", `["/ip4/0.0.0.0/tcp/4001","/ip4/0.0.0.0/udp/4001/quic-v1"]`},
			{"Addresses.API", `"/ip4/127.0.0.1/tcp/5001"`},
			{"Addresses.Gateway", `"/ip4/127.0.0.1/tcp/8080"`},
			{"Bootstrap", string(bootJSON)},
			{"Routing.Type", `"dht"`},
			{"Swarm.RelayService.Enabled", fmt.Sprint(public)},
			{"Swarm.RelayClient.Enabled", "true"}, // hole punching needs it
			{"Swarm.EnableHolePunching", "true"},
			{"Swarm.DisableNatPortMap", "true"},
			{"AutoNAT.ServiceMode", `"enabled"`},
		} {
			ipfs("config", "--json", kv[0], kv[1])
		}
		k.id = ipfs("config", "Identity.PeerID")
		k.proc = h.Start([]string{"IPFS_PATH=" + k.repo, "HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, bin, "daemon")
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("kubo %s output:\n%s", h.Name, k.proc.Output())
			}
		})
		waittest.For(t, "kubo "+h.Name+" ready", func() bool {
			select {
			case <-k.proc.Done():
				t.Fatalf("kubo %s exited:\n%s", h.Name, k.proc.Output())
			default:
			}
			return strings.Contains(k.proc.Output(), "Daemon is ready")
		})
		return k
	}
	var pub []*kuboPeer
	var boot []string
	for i := range 5 {
		h := lab.AddPublic(fmt.Sprintf("k%d", i+1))
		k := start(h, true, boot)
		pub = append(pub, k)
		if i == 0 {
			boot = []string{"/ip4/" + h.IP + "/tcp/4001/p2p/" + k.id}
		}
	}
	var all []string
	for _, k := range pub {
		all = append(all, "/ip4/"+k.host.IP+"/tcp/4001/p2p/"+k.id, "/ip4/"+k.host.IP+"/udp/4001/quic-v1/p2p/"+k.id)
	}
	var nat []*kuboPeer
	for i := range 2 {
		nat = append(nat, start(lab.AddNAT(fmt.Sprintf("kn%d", i+1), netlabtest.PortPreserving), false, all))
	}
	began := time.Now()
	// Both NAT'd peers advertise a relay address (as ours must before
	// scenario 1 fetches), up to 120 s.
	relayed := map[string]time.Duration{}
	deadline := began.Add(120 * time.Second)
	for _, k := range nat {
		for time.Now().Before(deadline) {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			out, err := k.cmd(cctx, bin, "id", "-f", "<addrs>")
			cancel()
			if err == nil && bytes.Contains(out, []byte("/p2p-circuit")) {
				relayed[k.host.Name] = time.Since(began)
				break
			}
			select { // a pause between polls, not a synchronisation
			case <-time.After(time.Second):
			case <-ctx.Done():
				t.Fatal("test ended")
			}
		}
	}
	data := make([]byte, 8<<20)
	rand.Read(data)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := nat[1].cmd(ctx, bin, "add", "-Q", "--cid-version=1", file)
	if err != nil {
		t.Fatal(err)
	}
	c := strings.TrimSpace(string(out))
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	fstart := time.Now()
	got, ferr := nat[0].cmd(fctx, bin, "cat", c)
	took := time.Since(fstart)
	result := fmt.Sprintf("fails: no bytes, ended after %s (%v)", took.Round(time.Millisecond), ferr)
	switch {
	case ferr == nil && sha256.Sum256(got) == sha256.Sum256(data):
		result = fmt.Sprintf("byte-exact in %s", took.Round(time.Millisecond))
	case ferr == nil:
		result = fmt.Sprintf("wrong bytes (%d) in %s", len(got), took.Round(time.Millisecond))
	case len(got) > 0:
		result = fmt.Sprintf("fails: %d of %d bytes in 60 s", len(got), len(data))
	}
	// The connection kn1 -> kn2 after the fetch: relayed or direct.
	conn := "none"
	sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
	defer scancel()
	if peers, err := nat[0].cmd(sctx, bin, "swarm", "peers"); err == nil {
		for _, line := range strings.Split(string(peers), "\n") {
			if strings.Contains(line, nat[1].id) {
				conn = strings.TrimSuffix(strings.TrimSpace(line), "/p2p/"+nat[1].id)
			}
		}
	}
	t.Logf("FIGURE %s: Kubo %s in the same lab (relay service, relay client, hole punching, AutoNAT service on), 8 MiB NAT-to-NAT fetch: %s, connection %s; relay address after %v",
		t.Name(), kubo.Version, result, conn, relayed)
}
