package compute

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/compute/wire"
	"github.com/ipfs/go-cid"
)

// TestSubmitterKeepsRunLogs: a unit's stderr and exit code travel back with
// its result (issue 14.1): a failed run's log is kept, cut to
// wire.MaxStderrLen with the cut reported, its first lines reach the unit's
// status and Why; a successful run's log is kept too.
func TestSubmitterKeepsRunLogs(t *testing.T) {
	sw := newSwarm()
	w := sw.startWorker(t, WorkerConfig{Slots: 1}, nil)
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})

	// The hostile module's "stderr" mode writes "first line", 1 MiB, "last
	// line" to stderr and exits 3.
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: sw.hostileModule(t), Args: []string{"stderr"}})
	if err != nil {
		t.Fatal(err)
	}
	info := sub.wait(t, id, 60*time.Second)
	if info.State != JobFailed {
		t.Fatalf("job %s: %s, want failed", id, info.State)
	}
	logs, err := sub.s.Logs(t.Context(), id, -1)
	if err != nil {
		t.Fatalf("Logs(%s) = %v", id, err)
	}
	if len(logs) != 1 {
		t.Fatalf("Logs(%s) = %d runs, want 1: %+v", id, len(logs), logs)
	}
	l := logs[0]
	if l.Unit != 0 || l.Worker != w.h.ID() || l.ExitCode != 3 || !strings.HasPrefix(l.Failure, "exit") {
		t.Errorf("run log = unit %d, worker %s, exit %d, failure %q; want unit 0 on %s, exit 3, an exit failure", l.Unit, l.Worker, l.ExitCode, l.Failure, w.h.ID())
	}
	if !l.Truncated || len(l.Stderr) > wire.MaxStderrLen || !strings.HasPrefix(l.Stderr, "first line\n") ||
		!strings.HasSuffix(l.Stderr, "last line\n") || !strings.Contains(l.Stderr, "bytes dropped") {
		t.Errorf("run log stderr: %d bytes, truncated %v, head %.40q, tail %q; want at most %d bytes, truncated, head and tail kept, the cut marked",
			len(l.Stderr), l.Truncated, l.Stderr, l.Stderr[max(0, len(l.Stderr)-40):], wire.MaxStderrLen)
	}
	if got := info.Units[0].Stderr; !strings.HasPrefix(got, "first line\n") || len(got) > StderrHeadBytes+4 {
		t.Errorf("unit 0 Stderr = %q; want the first lines of its stderr", got)
	}
	why, err := sub.s.Why(t.Context(), id)
	if err != nil || !strings.Contains(why, "  stderr:\n    first line\n") {
		t.Errorf("Why(%s) = %q, %v; want the first lines of the failed run's stderr", id, why, err)
	}
	if _, err := sub.s.Logs(t.Context(), id, 1); err == nil {
		t.Errorf("Logs(%s, unit 1) of a one-unit job = nil error", id)
	}
	if _, err := sub.s.Logs(t.Context(), "nosuchjob", -1); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("Logs(nosuchjob) = %v, want ErrUnknownJob", err)
	}

	ok, err := sub.s.Submit(t.Context(), JobSpec{Module: sw.module(t, "wordcount"), Inputs: []cid.Cid{sw.content.putBytes(t, []byte("a\n"))}})
	if err != nil {
		t.Fatal(err)
	}
	if info := sub.wait(t, ok, 60*time.Second); info.State != JobDone {
		t.Fatalf("job %s: %s %s", ok, info.State, info.Error)
	}
	logs, err = sub.s.Logs(t.Context(), ok, 0)
	if err != nil || len(logs) != 1 || logs[0].ExitCode != 0 || logs[0].Failure != "" || logs[0].Stderr != "" {
		t.Errorf("Logs(%s, 0) = %+v, %v; want one successful run with exit code 0", ok, logs, err)
	}
}

func TestStderrHead(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"one line", "boom\n", "boom"},
		{"five lines", "1\n2\n3\n4\n5\n", "1\n2\n3\n4\n5"},
		{"more lines", "1\n2\n3\n4\n5\n6\n", "1\n2\n3\n4\n5\n..."},
		{"long line", strings.Repeat("x", StderrHeadBytes+10), strings.Repeat("x", StderrHeadBytes) + "\n..."},
		{"cut inside a rune", strings.Repeat("x", StderrHeadBytes-1) + "é", strings.Repeat("x", StderrHeadBytes-1) + "\n..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StderrHead(tt.in); got != tt.want {
				t.Errorf("StderrHead(%.30q) = %.40q, want %.40q", tt.in, got, tt.want)
			}
		})
	}
}
