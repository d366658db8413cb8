package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/node/control"
	"github.com/google/go-cmp/cmp"
)

func TestJobProgressLine(t *testing.T) {
	w1, w2 := "worker-one", "worker-two"
	tests := []struct {
		name   string
		total  int
		events []control.Event
		want   string
	}{
		{"nothing yet", 12, nil, "0/12 done, 0 running, 0 failed, 3.1 s"},
		{"running on two workers", 12, []control.Event{
			{Unit: 0, Kind: control.EventRunning, Worker: w1},
			{Unit: 1, Kind: control.EventRunning, Worker: w2},
			{Unit: 1, Kind: control.EventRunning, Worker: w1}, // a replica
		}, "0/12 done, 2 running, 0 failed, 3.1 s"},
		{"done and verified", 12, []control.Event{
			{Unit: 0, Kind: control.EventRunning, Worker: w1},
			{Unit: 0, Kind: control.EventDone, Worker: w1},
			{Unit: 0, Kind: control.EventVerified},
			{Unit: 1, Kind: control.EventRunning, Worker: w1},
		}, "1/12 done, 1 running, 0 failed, 3.1 s"},
		{"a failed run is retried", 3, []control.Event{
			{Unit: 2, Kind: control.EventRunning, Worker: w1},
			{Unit: 2, Kind: control.EventRetried, Worker: w1},
			{Unit: 2, Kind: control.EventRunning, Worker: w2},
		}, "0/3 done, 1 running, 1 failed, 3.1 s"},
		{"a rejection is no failure", 3, []control.Event{
			{Unit: 2, Kind: control.EventRejected, Worker: w1},
		}, "0/3 done, 0 running, 0 failed, 3.1 s"},
		{"job events are not units", 1, []control.Event{
			{Unit: -1, Kind: control.EventSubmitted},
			{Unit: 0, Kind: control.EventVerified},
			{Unit: -1, Kind: control.EventJobDone},
		}, "1/1 done, 0 running, 0 failed, 3.1 s"},
		{"total unknown: counted from the units seen", 0, []control.Event{
			{Unit: 4, Kind: control.EventVerified},
		}, "1/5 done, 0 running, 0 failed, 3.1 s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newJobProgress(tt.total)
			for _, ev := range tt.events {
				p.observe(ev)
			}
			if got := p.line(3140 * time.Millisecond); got != tt.want {
				t.Errorf("line() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDescribeEventShortens(t *testing.T) {
	w := "12D3KooWQkLuzNhwo4HKdFf8bN7ZnvzmbFUwUDhHLH68hus3i4tG"
	got := describeEvent(control.Event{Unit: 3, Kind: control.EventDone, Worker: w, Detail: "12.345678ms"})
	if want := "unit 3   done on …s3i4tG (12.35ms)"; !strings.Contains(got, shortID(w)) || strings.Contains(got, w) || !strings.HasSuffix(got, "(12.35ms)") {
		t.Errorf("describeEvent() = %q, want like %q", got, want)
	}
}

func TestInputNames(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.txt", "b.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "a.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const c = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	a, b, suba := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt"), filepath.Join(dir, "sub", "a.txt")
	tests := []struct {
		name     string
		inputs   []string
		want     []string
		usageErr bool
	}{
		{"no inputs", nil, nil, false},
		{"CIDs only: numbered", []string{c, c}, nil, false},
		{"files by base name", []string{a, b}, []string{"a.txt", "b.txt"}, false},
		{"a CID among files: named later", []string{a, c}, []string{"a.txt", ""}, false},
		{"a directory", []string{filepath.Join(dir, "sub") + "/"}, []string{"sub"}, false},
		{"two files of one name", []string{a, suba}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := inputNames(tt.inputs)
			var ue usageError
			if isUsage := errors.As(err, &ue); isUsage != tt.usageErr || (err != nil && !isUsage) {
				t.Fatalf("inputNames(%q) error = %v, want usage error %v", tt.inputs, err, tt.usageErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("inputNames(%q) mismatch (-want +got):\n%s", tt.inputs, diff)
			}
		})
	}
}

// TestJobEndedExitStatus: compute run and result exit 0 for a done job, 1
// for a failed one and 3 for a cancelled one (issue 14).
func TestJobEndedExitStatus(t *testing.T) {
	tests := []struct {
		state control.JobState
		want  int
	}{
		{control.JobDone, exitOK},
		{control.JobFailed, exitError},
		{control.JobActive, exitError},
		{control.JobCancelled, exitCancelled},
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			err := jobEnded(&control.Job{ID: "j", State: tt.state})
			got := exitOK
			var ce codeError
			switch {
			case errors.As(err, &ce):
				got = ce.code
			case err != nil:
				got = exitError
			}
			if got != tt.want {
				t.Errorf("jobEnded(%s) = %v: exit %d, want %d", tt.state, err, got, tt.want)
			}
		})
	}
}

func TestShortenIDs(t *testing.T) {
	const id = "12D3KooWQkLuzNhwo4HKdFf8bN7ZnvzmbFUwUDhHLH68hus3i4tG"
	tests := []struct{ in, want string }{
		{"unit 0: failed on " + id + ": trap", "unit 0: failed on …s3i4tG: trap"},
		{id + ": exit", "…s3i4tG: exit"},
		{"no IDs here, 12D3KooW alone", "no IDs here, 12D3KooW alone"},
		{"output bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "output bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
	}
	for _, tt := range tests {
		if got := shortenIDs(tt.in); got != tt.want {
			t.Errorf("shortenIDs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
