package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/enxame/enxame/examples/examplestest"
)

// TestComputeLogs: a unit's stderr and exit code come back with its result
// (issue 14.1). A module that writes eight lines to stderr and exits 2:
// `compute logs` shows its stderr and exit code, `why` and `status` the
// first lines.
func TestComputeLogs(t *testing.T) {
	mod := examplestest.BuildSource(t, filepath.Join("testdata", "stderrexit"))
	home := filepath.Join(t.TempDir(), "a")
	startDaemon(t, home, "--compute-slots", "1")

	run := enxame(t, "compute", "run", "--home", home, "--trust", "one", mod)
	if run.code == 0 {
		t.Fatalf("compute run of a module that exits 2: exit 0\nstderr:\n%s", run.stderr)
	}
	var jobs []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	mustJSON(t, &jobs, "compute", "list", "--home", home)
	if len(jobs) != 1 || jobs[0].State != "failed" {
		t.Fatalf("compute list = %+v, want one failed job", jobs)
	}
	job := jobs[0].ID

	logs := enxame(t, "compute", "logs", "--home", home, job)
	if logs.code != 0 || !strings.Contains(logs.stdout, "exit code 2") ||
		!strings.Contains(logs.stdout, "stderrexit: line 1 of 8\n") || !strings.Contains(logs.stdout, "stderrexit: line 8 of 8\n") {
		t.Errorf("compute logs: exit %d, stdout %q, stderr %q; want the exit code and all 8 lines", logs.code, logs.stdout, logs.stderr)
	}
	var res struct {
		State string `json:"state"`
		Logs  []struct {
			Unit     int    `json:"unit"`
			ExitCode int    `json:"exit_code"`
			Failure  string `json:"failure"`
			Stderr   string `json:"stderr"`
		} `json:"logs"`
	}
	mustJSON(t, &res, "compute", "logs", "--home", home, job, "0")
	if res.State != "failed" || len(res.Logs) == 0 || res.Logs[0].ExitCode != 2 || res.Logs[0].Unit != 0 ||
		!strings.Contains(res.Logs[0].Failure, "exit status 2") || strings.Count(res.Logs[0].Stderr, "\n") != 8 {
		t.Errorf("compute logs --json JOB 0 = %+v; want unit 0's run with exit code 2 and its 8 lines of stderr", res)
	}
	if r := enxame(t, "compute", "logs", "--home", home, job, "--follow"); r.code != 0 || !strings.Contains(r.stdout, "line 8 of 8") {
		t.Errorf("compute logs --follow of an ended job: exit %d, stdout %q; want the logs, then the end", r.code, r.stdout)
	}
	if r := enxame(t, "compute", "logs", "--home", home, job, "7"); r.code == 0 {
		t.Errorf("compute logs of a unit the job does not have: exit 0, stdout %q", r.stdout)
	}

	why := enxame(t, "compute", "why", "--home", home, job)
	if why.code != 0 || !strings.Contains(why.stdout, "stderr:") || !strings.Contains(why.stdout, "stderrexit: line 1 of 8") ||
		strings.Contains(why.stdout, "line 8 of 8") {
		t.Errorf("compute why: exit %d, stdout %q; want the first lines of the unit's stderr, not all", why.code, why.stdout)
	}
	status := enxame(t, "compute", "status", "--home", home, job)
	if status.code != 0 || !strings.Contains(status.stdout, "stderrexit: line 1 of 8") {
		t.Errorf("compute status: exit %d, stdout %q; want the first lines of the unit's stderr", status.code, status.stdout)
	}
}
