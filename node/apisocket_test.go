package node

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestListenUnixPrivate checks that the API socket is mode 0600 whatever the
// umask, accepts its owner, replaces a stale socket and leaves no temporary
// entry next to it.
func TestListenUnixPrivate(t *testing.T) {
	tests := []struct {
		name  string
		stale bool // a socket left by a killed daemon is in the way
	}{
		{name: "fresh"},
		{name: "stale socket", stale: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "api.sock")
			if tt.stale {
				old, err := net.Listen("unix", path)
				if err != nil {
					t.Fatal(err)
				}
				old.(*net.UnixListener).SetUnlinkOnClose(false)
				old.Close()
			}
			ln, err := listenUnix(path)
			if err != nil {
				t.Fatalf("listenUnix(%s): %v", path, err)
			}
			defer ln.Close()
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
				t.Errorf("listenUnix(%s): mode %v, want a socket with 0600", path, fi.Mode())
			}
			var wg sync.WaitGroup
			wg.Go(func() {
				if c, err := ln.Accept(); err == nil {
					c.Close()
				}
			})
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Errorf("dial %s: %v", path, err)
			} else {
				c.Close()
			}
			wg.Wait()
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Errorf("listenUnix(%s) left %v in %s, want only api.sock", path, names, dir)
			}
		})
	}
}

// TestListenUnixKeepsUmask checks that binding the API socket never changes
// the process umask, not even for a moment: the umask is process-wide, and
// another goroutine creating a file meanwhile would get the wrong mode. A
// poller reads the umask from /proc/self/status while the socket is bound
// over and over.
func TestListenUnixKeepsUmask(t *testing.T) {
	want, err := procUmask()
	if err != nil {
		t.Fatalf("read umask: %v (needs Linux 4.7+)", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "api.sock")
	var stop atomic.Bool
	var seen atomic.Value // first umask read that differed
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			got, err := procUmask()
			if err == nil && got != want {
				seen.CompareAndSwap(nil, got)
			}
		}
	})
	n := 300
	if testing.Short() {
		n = 100
	}
	for range n {
		ln, err := listenUnix(path)
		if err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("listenUnix(%s): %v", path, err)
		}
		ln.Close()
	}
	stop.Store(true)
	wg.Wait()
	if got := seen.Load(); got != nil {
		t.Errorf("listenUnix changed the process umask to %s for a moment; want %s throughout", got, want)
	}
}

// procUmask reads the process umask without changing it.
func procUmask() (string, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Umask:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", os.ErrNotExist
}
