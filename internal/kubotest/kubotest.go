// Package kubotest runs real Kubo (IPFS) daemons in tests, for interop with
// enxame: each node has a fresh repository in t.TempDir(), listens on
// 127.0.0.1 only, has no bootstrap peers, DHT or mDNS, and is stopped by
// t.Cleanup. Methods run the `ipfs` command line against the node with a
// timeout and call t.Fatal with Kubo's stderr and the tail of the daemon's log
// when a command fails, so they must be called from the test goroutine; use
// Node.Kubo for calls that return errors.
//
// The binary comes from ENXAME_KUBO_BIN, else from the cache that
// scripts/build-kubo.sh fills; when neither exists the first test in the
// process builds it with that script (minutes on a cold module cache). A test
// that needs Kubo fails, never skips, when no binary can be had.
//
// It imports only the standard library, testing and internal/kubo; production
// code never imports it.
package kubotest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/kubo"
)

// DefaultTimeout bounds each Node method call unless Node.Timeout is set.
const DefaultTimeout = 2 * time.Minute

var binary struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of the Kubo binary: ENXAME_KUBO_BIN if set, else
// the cached build of kubo.Version, else one built by scripts/build-kubo.sh
// (run at most once per process; a failed build fails every later call too).
// It calls t.Fatal when no binary can be had.
func Binary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		binary.path, binary.err = kubo.FindBinary(t.Context())
		if !errors.Is(binary.err, kubo.ErrNotFound) {
			return
		}
		t.Logf("kubotest: %v; building Kubo v%s with scripts/build-kubo.sh (minutes on a cold module cache)", binary.err, kubo.Version)
		start := time.Now()
		binary.path, binary.err = kubo.Binary(t.Context())
		if binary.err == nil {
			t.Logf("kubotest: built %s in %v", binary.path, time.Since(start).Round(time.Second))
		}
	})
	if binary.err != nil {
		t.Fatalf("kubotest: no Kubo binary: %v\n"+
			"Build it with scripts/build-kubo.sh (needs Go and the module proxy), or set %s to an ipfs binary.",
			binary.err, kubo.EnvBinary)
	}
	return binary.path
}

// Node is a running Kubo daemon owned by a test.
type Node struct {
	// Timeout bounds each method call. Zero means DefaultTimeout.
	Timeout time.Duration

	t testing.TB
	k *kubo.Node
}

// Start runs a Kubo daemon with kubo.DefaultSettings in a fresh directory
// under t.TempDir() and returns once its API answers. The daemon is stopped
// by t.Cleanup; if the test failed, the tail of its log is logged then.
func Start(t testing.TB) *Node {
	t.Helper()
	return StartConfig(t, kubo.Config{})
}

// StartConfig is Start with extra settings, such as cfg.Settings; an empty
// cfg.Binary means Binary(t) and an empty cfg.Dir a new t.TempDir().
func StartConfig(t testing.TB, cfg kubo.Config) *Node {
	t.Helper()
	if cfg.Binary == "" {
		cfg.Binary = Binary(t)
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	k, err := kubo.Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("kubotest: %v", err)
	}
	n := &Node{t: t, k: k}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kubotest: tail of %s:\n%s", k.LogPath(), k.LogTail(8<<10))
		}
	})
	t.Cleanup(n.Stop)
	return n
}

// Kubo returns the underlying node, whose methods take a context and return
// errors instead of failing the test.
func (n *Node) Kubo() *kubo.Node { return n.k }

// Repo returns the node's repository directory (IPFS_PATH).
func (n *Node) Repo() string { return n.k.Repo() }

// Stop stops the daemon (SIGINT, then kill) and waits until it has exited.
// It reports an unclean exit with t.Error. The cleanup calls it too; calling
// it earlier is fine.
func (n *Node) Stop() {
	n.t.Helper()
	if err := n.k.Stop(); err != nil {
		n.t.Errorf("kubotest: %v\ntail of %s:\n%s", err, n.k.LogPath(), n.k.LogTail(2<<10))
	}
}

// ID returns the node's peer ID and its listen multiaddrs, each ending in
// /p2p/<peer ID>.
func (n *Node) ID() (peerID string, addrs []string) {
	n.t.Helper()
	ctx, cancel := n.ctx()
	defer cancel()
	id, addrs, err := n.k.ID(ctx)
	n.check(err)
	return id, addrs
}

// TCPAddr returns the node's TCP listen multiaddr with its /p2p/ suffix.
func (n *Node) TCPAddr() string {
	n.t.Helper()
	return n.addr("/tcp/")
}

// QUICAddr returns the node's QUIC (quic-v1) listen multiaddr with its /p2p/
// suffix.
func (n *Node) QUICAddr() string {
	n.t.Helper()
	return n.addr("/quic-v1/")
}

func (n *Node) addr(proto string) string {
	n.t.Helper()
	_, addrs := n.ID()
	for _, a := range addrs {
		if strings.Contains(a, proto) {
			return a
		}
	}
	n.t.Fatalf("kubotest: node has no %s address among %q", strings.Trim(proto, "/"), addrs)
	return ""
}

// Add adds the file or directory at path and returns the root CID, with
// --cid-version=1 --raw-leaves unless args override them; pass "-r" in args
// for a directory.
func (n *Node) Add(path string, args ...string) string {
	n.t.Helper()
	ctx, cancel := n.ctx()
	defer cancel()
	cid, err := n.k.Add(ctx, path, args...)
	n.check(err)
	return cid
}

// AddBytes adds b as one file and returns its CID, like Add.
func (n *Node) AddBytes(b []byte, args ...string) string {
	n.t.Helper()
	ctx, cancel := n.ctx()
	defer cancel()
	cid, err := n.k.AddBytes(ctx, b, args...)
	n.check(err)
	return cid
}

// Cat returns the content of the file at cid, fetching it from connected
// peers as needed.
func (n *Node) Cat(cid string) []byte {
	n.t.Helper()
	ctx, cancel := n.ctx()
	defer cancel()
	b, err := n.k.Cat(ctx, cid)
	n.check(err)
	return b
}

// CatTo streams the content of the file at cid to w.
func (n *Node) CatTo(cid string, w io.Writer) {
	n.t.Helper()
	ctx, cancel := n.ctx()
	defer cancel()
	n.check(n.k.CatTo(ctx, cid, w))
}

// Get writes the file or directory at cid to dst.
func (n *Node) Get(cid, dst string) {
	n.t.Helper()
	ctx, cancel := n.ctx()
	defer cancel()
	n.check(n.k.Get(ctx, cid, dst))
}

// PinAdd pins cid recursively, fetching the whole DAG.
func (n *Node) PinAdd(cid string) {
	n.t.Helper()
	ctx, cancel := n.ctx()
	defer cancel()
	n.check(n.k.PinAdd(ctx, cid))
}

// SwarmConnect connects the node to the peer at addr, a multiaddr ending in
// /p2p/<peer ID>.
func (n *Node) SwarmConnect(addr string) {
	n.t.Helper()
	ctx, cancel := n.ctx()
	defer cancel()
	n.check(n.k.SwarmConnect(ctx, addr))
}

// SwarmPeers returns the node's connections, one multiaddr ending in
// /p2p/<peer ID> each.
func (n *Node) SwarmPeers() []string {
	n.t.Helper()
	ctx, cancel := n.ctx()
	defer cancel()
	peers, err := n.k.SwarmPeers(ctx)
	n.check(err)
	return peers
}

// Run runs `ipfs args...` against the node and returns its stdout.
func (n *Node) Run(args ...string) []byte {
	n.t.Helper()
	ctx, cancel := n.ctx()
	defer cancel()
	out, err := n.k.Output(ctx, args...)
	n.check(err)
	return out
}

func (n *Node) ctx() (context.Context, context.CancelFunc) {
	d := n.Timeout
	if d == 0 {
		d = DefaultTimeout
	}
	return context.WithTimeout(n.t.Context(), d)
}

// check fails the test with err, Kubo's message and the daemon's log tail.
func (n *Node) check(err error) {
	n.t.Helper()
	if err == nil {
		return
	}
	n.t.Fatalf("kubotest: %v\n%s", err, n.logTail())
}

func (n *Node) logTail() string {
	return fmt.Sprintf("tail of %s:\n%s", n.k.LogPath(), n.k.LogTail(2<<10))
}
