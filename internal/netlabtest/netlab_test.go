package netlabtest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/waittest"
)

// The test binary doubles as a tiny TCP tool run inside the lab's
// namespaces: NETLAB_HELPER=serve:ADDR answers each connection with the
// address it came from; NETLAB_HELPER=dial:ADDR prints that answer.
func TestMain(m *testing.M) {
	if h := os.Getenv("NETLAB_HELPER"); h != "" {
		os.Exit(helper(h))
	}
	os.Exit(m.Run())
}

func helper(spec string) int {
	mode, addr, _ := strings.Cut(spec, ":")
	switch mode {
	case "serve":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Println("listen:", err)
			return 1
		}
		fmt.Println("listening")
		for {
			c, err := ln.Accept()
			if err != nil {
				return 1
			}
			fmt.Fprintln(c, c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	case "dial":
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			fmt.Println("dial:", err)
			return 1
		}
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			fmt.Println("read:", err)
			return 1
		}
		fmt.Print(line)
		return 0
	}
	return 2
}

func dial(t *testing.T, from *Host, addr string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := from.Exec(ctx, "env", "NETLAB_HELPER=dial:"+addr, self)
	return strings.TrimSpace(string(out)), err
}

// TestLabRoutesAndNATs checks the lab's shape: public hosts on distinct
// /16s reach each other, a NAT'd host reaches them from its router's WAN
// address, nobody reaches a NAT'd host's private address, and teardown
// removes every namespace.
func TestLabRoutesAndNATs(t *testing.T) {
	var lab *Lab
	t.Run("lab", func(t *testing.T) {
		lab = New(t)
		a, b := lab.AddPublic("a"), lab.AddPublic("b")
		n1 := lab.AddNAT("n1", PortPreserving)
		n2 := lab.AddNAT("n2", Symmetric)
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []*Host{a, n2} {
			p := h.Start([]string{"NETLAB_HELPER=serve:" + h.IP + ":7000"}, self)
			waittest.For(t, "the helper in "+h.NS+" to listen", func() bool {
				select {
				case <-p.Done():
					t.Fatalf("helper in %s exited: %s", h.NS, p.Output())
				default:
				}
				return strings.Contains(p.Output(), "listening")
			})
		}
		for _, c := range []struct {
			from   *Host
			to     string
			wantIP string // "" means the dial must fail
		}{
			{b, a.IP + ":7000", b.IP},
			{n1, a.IP + ":7000", n1.PublicIP},
			{n2, a.IP + ":7000", n2.PublicIP},
			{a, n2.IP + ":7000", ""},       // private address: no route
			{a, n2.PublicIP + ":7000", ""}, // unsolicited inbound: dropped
			{n1, n2.IP + ":7000", ""},
		} {
			got, err := dial(t, c.from, c.to)
			if c.wantIP == "" {
				if err == nil {
					t.Errorf("%s -> %s: connected (saw %q), want failure", c.from.Name, c.to, got)
				}
				continue
			}
			if err != nil || got != c.wantIP {
				t.Errorf("%s -> %s: got %q, %v; want seen from %s", c.from.Name, c.to, got, err, c.wantIP)
			}
		}
		// A partition between {b, n1} and {a} cuts both ways until healed.
		lab.Partition([]*Host{b, n1}, []*Host{a})
		for _, from := range []*Host{b, n1} {
			if got, err := dial(t, from, a.IP+":7000"); err == nil {
				t.Errorf("partitioned: %s -> a connected (saw %q), want failure", from.Name, got)
			}
		}
		if got, err := dial(t, n2, a.IP+":7000"); err != nil || got != n2.PublicIP {
			t.Errorf("partitioned: n2 (outside the partition) -> a: got %q, %v", got, err)
		}
		lab.Heal()
		if got, err := dial(t, b, a.IP+":7000"); err != nil || got != b.IP {
			t.Errorf("healed: b -> a: got %q, %v; want seen from %s", got, err, b.IP)
		}
		// Rate and Loss load and unload their rules.
		lab.Rate(b, "10mbit")
		lab.Loss(b, 30)
		lab.Loss(b, 0)
		lab.Rate(b, "")
		if got, err := dial(t, b, a.IP+":7000"); err != nil || got != b.IP {
			t.Errorf("after rate and loss removed: b -> a: got %q, %v", got, err)
		}
	})
	if lab == nil {
		return
	}
	out, err := os.ReadDir("/var/run/netns")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range out {
		if strings.HasPrefix(e.Name(), lab.prefix) {
			t.Errorf("namespace %s left after cleanup", e.Name())
		}
	}
}
