//go:build !linux

package sandbox

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// probeChild is Linux only; elsewhere there is nothing to probe.
func probeChild(io.Reader, io.Writer) int {
	fmt.Fprintln(os.Stderr, "probe: no OS isolation on this system")
	return 1
}

// TestPoolIsolationReported checks that a child outside Linux says it runs
// without OS isolation.
func TestPoolIsolationReported(t *testing.T) {
	p := newTestPool(t, nil)
	mustRun(t, p, Unit{ModulePath: writeFile(t, "ok.wasm", modReturn)})
	if got := p.Isolation(); !strings.Contains(got, "no system call filter") {
		t.Errorf("Isolation() = %q, want it to say there is no filter", got)
	}
}
