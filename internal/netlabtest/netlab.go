// Package netlabtest builds a network lab out of Linux network namespaces for
// tests that run the real enxame binary on hosts with their own addresses:
// an "internet" namespace that routes between public hosts, each on its own
// /16 of a global-unicast range (11.0.0.0/8, which go-multiaddr counts as
// public, so AutoNAT, relays and hole punching treat it as the internet),
// and NAT routers doing nftables masquerade with a private host behind each.
//
// Nothing in the lab has a route out: no interface of it is in the root
// namespace, so the global addresses never leak. Namespaces carry a prefix
// unique to the lab, so parallel tests do not clash, and t.Cleanup removes
// them (and kills processes started in them) even when the test fails.
// Building a lab needs root; New fails the test otherwise.
package netlabtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NAT kinds for AddNAT.
const (
	// PortPreserving masquerades keeping the source port where it can
	// (endpoint-independent mapping): hole punching works through it.
	PortPreserving = "masquerade"
	// Symmetric picks a random source port per connection (nftables
	// "masquerade random"): hole punching fails, relays must carry.
	Symmetric = "masquerade random"
)

// Lab is one network lab.
type Lab struct {
	t      testing.TB
	prefix string
	inet   string // the internet namespace

	mu      sync.Mutex
	nss     []string
	procs   []*Proc
	nextPub int
	nextNAT int
}

// Host is one namespace that runs programs.
type Host struct {
	Name string // short name given by the test
	NS   string // namespace name
	IP   string // its own address (public, or private behind a NAT)
	// PublicIP is the address others see: IP for a public host, the NAT
	// router's WAN address for a NAT'd one.
	PublicIP string
	// Router is the NAT router's namespace, "" for a public host.
	Router string
	lab    *Lab
}

// New builds an empty lab: the internet namespace, forwarding between the
// links that will be attached to it.
func New(t testing.TB) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("netlab: building network namespaces needs root (running as uid %d): run the lab tests as root", os.Geteuid())
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("netlab: %s not found (apt-get install iproute2 nftables): %v", tool, err)
		}
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("netlab: random prefix: %v", err)
	}
	l := &Lab{t: t, prefix: "nl" + hex.EncodeToString(b[:])}
	t.Cleanup(l.close)
	l.inet = l.addNS("inet")
	l.sh(l.inet, "sysctl -qw net.ipv4.ip_forward=1")
	return l
}

func (l *Lab) addNS(name string) string {
	ns := l.prefix + "-" + name
	l.run("ip", "netns", "add", ns)
	l.mu.Lock()
	l.nss = append(l.nss, ns)
	l.mu.Unlock()
	l.sh(ns, "ip link set lo up")
	return ns
}

// AddPublic adds a host with a public address on its own /16
// (11.N.0.2/16), linked to the internet namespace.
func (l *Lab) AddPublic(name string) *Host {
	l.t.Helper()
	l.mu.Lock()
	l.nextPub++
	n := l.nextPub
	l.mu.Unlock()
	ns := l.addNS(name)
	ip := fmt.Sprintf("11.%d.0.2", n)
	gw := fmt.Sprintf("11.%d.0.1", n)
	l.link(l.inet, fmt.Sprintf("p%d", n), gw+"/16", ns, "eth0", ip+"/16")
	l.sh(ns, "ip route add default via "+gw)
	return &Host{Name: name, NS: ns, IP: ip, PublicIP: ip, lab: l}
}

// AddNAT adds a NAT router on its own public /16 (11.(100+N).0.2) doing
// kind (PortPreserving or Symmetric), and a host behind it at 10.N.0.2.
// The router silently drops unsolicited inbound traffic, to itself or
// forwarded, like a home router (a RST or ICMP error would end a hole
// punch's simultaneous open).
func (l *Lab) AddNAT(name, kind string) *Host {
	l.t.Helper()
	l.mu.Lock()
	l.nextNAT++
	n := l.nextNAT
	l.mu.Unlock()
	rt := l.addNS(name + "-rt")
	ns := l.addNS(name)
	wan := fmt.Sprintf("11.%d.0.2", 100+n)
	wgw := fmt.Sprintf("11.%d.0.1", 100+n)
	l.link(l.inet, fmt.Sprintf("n%d", n), wgw+"/16", rt, "wan", wan+"/16")
	lan := fmt.Sprintf("10.%d.0.1", n)
	ip := fmt.Sprintf("10.%d.0.2", n)
	l.link(rt, "lan", lan+"/24", ns, "eth0", ip+"/24")
	l.sh(rt, "ip route add default via "+wgw)
	l.sh(rt, "sysctl -qw net.ipv4.ip_forward=1")
	l.sh(ns, "ip route add default via "+lan)
	ruleset := fmt.Sprintf(`table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" %s
	}
}
table ip filter {
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" drop
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		iifname "lan" accept
		ct state established,related accept
	}
}
`, kind)
	l.nft(rt, ruleset)
	return &Host{Name: name, NS: ns, IP: ip, PublicIP: wan, Router: rt, lab: l}
}

// link makes a veth pair between namespaces a and b with the given names
// and addresses, and brings both ends up. The pair is created inside a, so
// it never touches the root namespace.
func (l *Lab) link(a, aName, aAddr, b, bName, bAddr string) {
	l.run("ip", "-n", a, "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b)
	l.run("ip", "-n", a, "addr", "add", aAddr, "dev", aName)
	l.run("ip", "-n", b, "addr", "add", bAddr, "dev", bName)
	l.run("ip", "-n", a, "link", "set", aName, "up")
	l.run("ip", "-n", b, "link", "set", bName, "up")
}

// nft loads ruleset into ns.
func (l *Lab) nft(ns, ruleset string) {
	l.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		l.t.Fatalf("netlab: nft in %s: %v: %s\nruleset:\n%s", ns, err, out, ruleset)
	}
}

// Loss drops pct percent of the packets arriving at h (nftables numgen on
// its input hook); 0 removes the rule.
func (l *Lab) Loss(h *Host, pct int) {
	l.t.Helper()
	_ = exec.Command("ip", "netns", "exec", h.NS, "nft", "delete", "table", "inet", "netlab_loss").Run()
	if pct <= 0 {
		return
	}
	l.nft(h.NS, fmt.Sprintf(`table inet netlab_loss {
	chain input {
		type filter hook input priority -10; policy accept;
		numgen random mod 100 < %d drop
	}
}
`, pct))
}

// sh runs a shell command line inside ns, failing the test on error.
func (l *Lab) sh(ns, line string) {
	l.t.Helper()
	l.run(append([]string{"ip", "netns", "exec", ns}, strings.Fields(line)...)...)
}

func (l *Lab) run(args ...string) {
	l.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("netlab: %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Exec runs a program in h and returns its output; it fails the test when
// the program cannot start, not when it exits non-zero (see the error).
func (h *Host) Exec(ctx context.Context, name string, args ...string) (stdout, stderr []byte, err error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}

// Proc is a long-running program started in a host.
type Proc struct {
	Cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// Output is what the program wrote to stdout and stderr so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Done is closed when the program has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Kill sends sig to the program and waits up to 10s for it to exit.
func (p *Proc) Kill(sig syscall.Signal) {
	_ = p.Cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

type procWriter struct{ p *Proc }

func (w procWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

// Start starts a long-running program in h (ip netns exec replaces itself
// with the program, so the process is the program). It is killed at
// cleanup.
func (h *Host) Start(env []string, name string, args ...string) *Proc {
	l := h.lab
	l.t.Helper()
	p := &Proc{done: make(chan struct{})}
	p.Cmd = exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	p.Cmd.Env = env
	p.Cmd.Stdout, p.Cmd.Stderr = procWriter{p}, procWriter{p}
	if err := p.Cmd.Start(); err != nil {
		l.t.Fatalf("netlab: start %s in %s: %v", name, h.NS, err)
	}
	go func() {
		_ = p.Cmd.Wait()
		close(p.done)
	}()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p
}

// close kills the lab's programs and deletes its namespaces (their veths
// and nftables rules go with them).
func (l *Lab) close() {
	l.mu.Lock()
	procs, nss := l.procs, l.nss
	l.procs, l.nss = nil, nil
	l.mu.Unlock()
	for _, p := range procs {
		p.Kill(syscall.SIGKILL)
	}
	for i := len(nss) - 1; i >= 0; i-- {
		if out, err := exec.Command("ip", "netns", "del", nss[i]).CombinedOutput(); err != nil {
			l.t.Errorf("netlab: delete namespace %s: %v: %s", nss[i], err, out)
		}
	}
}

// Namespaces lists the lab's namespaces (for tests of the lab itself).
func (l *Lab) Namespaces() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.nss...)
}

// Partition cuts the internet between the hosts of a and those of b (by
// their public addresses, in both directions) until Heal: packets between
// the two sides are dropped in the internet namespace, as a broken link
// between two networks would.
func (l *Lab) Partition(a, b []*Host) {
	l.t.Helper()
	set := func(hs []*Host) string {
		ips := make([]string, len(hs))
		for i, h := range hs {
			ips[i] = h.PublicIP
		}
		return "{ " + strings.Join(ips, ", ") + " }"
	}
	_ = exec.Command("ip", "netns", "exec", l.inet, "nft", "delete", "table", "ip", "netlab_partition").Run()
	l.nft(l.inet, fmt.Sprintf(`table ip netlab_partition {
	chain forward {
		type filter hook forward priority -10; policy accept;
		ip saddr %[1]s ip daddr %[2]s drop
		ip saddr %[2]s ip daddr %[1]s drop
	}
}
`, set(a), set(b)))
}

// Heal ends a Partition.
func (l *Lab) Heal() {
	l.t.Helper()
	l.run("ip", "netns", "exec", l.inet, "nft", "delete", "table", "ip", "netlab_partition")
}

// Rate limits what h sends to rate (tc's syntax, such as "20mbit") with a
// token bucket on its link; "" removes the limit. For a NAT'd host it
// limits the link to its router.
func (l *Lab) Rate(h *Host, rate string) {
	l.t.Helper()
	_ = exec.Command("ip", "netns", "exec", h.NS, "tc", "qdisc", "del", "dev", "eth0", "root").Run()
	if rate == "" {
		return
	}
	l.run("ip", "netns", "exec", h.NS, "tc", "qdisc", "add", "dev", "eth0", "root", "tbf",
		"rate", rate, "burst", "64kb", "latency", "200ms")
}
