package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/internal/waittest"
)

// jobState returns the state compute status reports for job.
func jobState(t *testing.T, home, job string) string {
	t.Helper()
	var info struct{ State string }
	mustJSON(t, &info, "compute", "status", "--home", home, job)
	return info.State
}

// TestComputeRunInterrupt (bug: Ctrl-C left the job running on the swarm):
// SIGINT to compute run, while it waits for a slow job, cancels the job
// through the daemon, says so, and exits 3 once the daemon reports the job
// cancelled. compute run --detach instead prints the job's ID and returns,
// the job running on.
func TestComputeRunInterrupt(t *testing.T) {
	primes := examplestest.Build(t, "primes")
	home := filepath.Join(t.TempDir(), "a")
	startDaemon(t, home, "--compute-slots", "2")
	slow := []string{primes, "--arg", "0", "--arg", "100000000000", "--trust", "one", "--timeout", "50s"}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"compute", "run", "--home", home}, slow...)...)
	cmd.Env = testEnv(t)
	var mu sync.Mutex
	var stderr bytes.Buffer
	cmd.Stderr = lockedWriter{&mu, &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stderrText := func() string {
		mu.Lock()
		defer mu.Unlock()
		return stderr.String()
	}
	var job string
	waittest.For(t, "compute run to name its job, running", func() bool {
		for l := range strings.Lines(stderrText()) {
			if id, ok := strings.CutPrefix(strings.TrimSpace(l), "job "); ok {
				job = id
			}
		}
		return job != "" && jobState(t, home, job) == "active"
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("compute run after SIGINT: %v, want exit status 3; stderr %q", err, stderrText())
	}
	if s := stderrText(); !strings.Contains(s, "cancelling job "+job) || !strings.Contains(s, "job "+job+" cancelled") {
		t.Errorf("stderr %q: want 'cancelling job %s' then the daemon's confirmation", s, job)
	}
	if st := jobState(t, home, job); st != "cancelled" {
		t.Errorf("daemon reports job %s %s after SIGINT to compute run, want cancelled", job, st)
	}

	// --detach: the ID on stdout, exit 0, the job still running.
	res := enxame(t, append([]string{"compute", "run", "--home", home, "--detach"}, slow...)...)
	id := strings.TrimSpace(res.stdout)
	if res.code != 0 || id == "" || strings.Contains(id, "\n") {
		t.Fatalf("compute run --detach: exit %d, stdout %q, stderr %q; want 0 and the job ID", res.code, res.stdout, res.stderr)
	}
	if st := jobState(t, home, id); st != "active" {
		t.Errorf("job %s after compute run --detach returned: %s, want active", id, st)
	}
	if r := enxame(t, "compute", "cancel", "--home", home, id); r.code != 0 {
		t.Errorf("compute cancel %s: exit %d, stderr %q", id, r.code, r.stderr)
	}
}
