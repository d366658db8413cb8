package compute

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/enxame/enxame/compute/wire"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"
)

// logsPrefix is the datastore namespace of the runs' logs: one JSON
// logRecord per run under logsPrefix/JOB/UNIT/TIME-WORKER, beside the job
// records (kept apart so that a job's record stays small).
const logsPrefix = "/compute/logs"

// MaxLogsPerUnit caps the runs of one unit whose logs are kept; later runs'
// logs are dropped (their failures are still listed in UnitInfo.Failures).
const MaxLogsPerUnit = 16

// StderrHeadLines and StderrHeadBytes bound UnitInfo.Stderr, the first lines
// of a failed run's stderr shown by status and why.
const (
	StderrHeadLines = 5
	StderrHeadBytes = 1024
)

// RunLog is one run of a unit as its worker reported it: its exit code and
// standard error.
type RunLog struct {
	Job    JobID   `json:"job"`
	Unit   int     `json:"unit"`
	Worker peer.ID `json:"worker"`
	// Failure is why the run failed ("exit: exit status 2", ...); empty
	// when it returned an output.
	Failure  string `json:"failure,omitempty"`
	ExitCode uint32 `json:"exit_code"`
	// Stderr is what the run wrote to its standard error, at most
	// wire.MaxStderrLen bytes: when more was written, its head and tail
	// with a line "[... N bytes dropped ...]" between them, and Truncated
	// set.
	Stderr    string    `json:"stderr"`
	Truncated bool      `json:"truncated,omitempty"`
	At        time.Time `json:"at"`
}

// logRecordVersion is the version of logRecord written now.
const logRecordVersion = 1

// logRecord is a RunLog as kept in the datastore.
type logRecord struct {
	Version   int       `json:"v"`
	Worker    string    `json:"worker"`
	Failure   string    `json:"failure,omitempty"`
	ExitCode  uint32    `json:"exit_code"`
	Stderr    []byte    `json:"stderr,omitempty"`
	Truncated bool      `json:"truncated,omitempty"`
	At        time.Time `json:"at"`
}

func logKey(id JobID, unit int) string {
	return fmt.Sprintf("%s/%s/%06d", logsPrefix, id, unit)
}

// keepLog stores the log of a run of unit ui of j, and, for a failed run
// that wrote to stderr, keeps its first lines in the unit's Stderr. Runs
// past MaxLogsPerUnit of a unit are not stored.
func (s *Submitter) keepLog(ctx context.Context, j *job, ui int, w peer.ID, failure string, l *wire.Log, at time.Time) {
	if l == nil {
		return
	}
	if failure != "" && len(l.Stderr) > 0 {
		j.Info.Units[ui].Stderr = StderrHead(string(l.Stderr))
	}
	if j.logs == nil {
		j.logs = map[int]int{}
	}
	if j.logs[ui] >= MaxLogsPerUnit {
		return
	}
	j.logs[ui]++
	rec := logRecord{Version: logRecordVersion, Worker: w.String(), Failure: failure, ExitCode: l.ExitCode,
		Stderr: l.Stderr, Truncated: l.Truncated, At: at}
	b, err := json.Marshal(&rec)
	if err == nil {
		key := datastore.NewKey(fmt.Sprintf("%s/%020d-%s", logKey(j.Info.ID, ui), at.UnixNano(), w))
		err = s.deps.Datastore.Put(ctx, key, b)
	}
	if err != nil {
		s.log.Error("save run log", "job", j.Info.ID, "unit", ui, "err", err)
	}
}

// Logs returns the kept logs of a job's runs, of every unit (unit < 0) or
// of one, ordered by unit and then by time. It returns ErrUnknownJob for a
// job it does not hold, and an error for a unit the job does not have.
func (s *Submitter) Logs(ctx context.Context, id JobID, unit int) ([]RunLog, error) {
	units := -1
	err := s.do(ctx, func(context.Context) {
		if j, ok := s.jobs[id]; ok {
			units = len(j.Info.Units)
		}
	})
	switch {
	case err != nil:
		return nil, err
	case units < 0:
		return nil, fmt.Errorf("%w: %s", ErrUnknownJob, id)
	case unit >= units:
		return nil, fmt.Errorf("compute: job %s has no unit %d (it has %d)", id, unit, units)
	}
	prefix := logsPrefix + "/" + string(id)
	if unit >= 0 {
		prefix = logKey(id, unit)
	}
	res, err := s.deps.Datastore.Query(ctx, query.Query{Prefix: prefix})
	if err != nil {
		return nil, fmt.Errorf("compute: logs of %s: %w", id, err)
	}
	defer res.Close()
	out := []RunLog{}
	for e := range res.Next() {
		if e.Error != nil {
			return nil, fmt.Errorf("compute: logs of %s: %w", id, e.Error)
		}
		l, err := decodeLog(id, e.Key, e.Value)
		if err != nil {
			s.log.Warn("skip unreadable run log", "key", e.Key, "err", err)
			continue
		}
		out = append(out, l)
	}
	slices.SortStableFunc(out, func(a, b RunLog) int {
		if a.Unit != b.Unit {
			return a.Unit - b.Unit
		}
		return a.At.Compare(b.At)
	})
	return out, nil
}

// decodeLog decodes the log record under key (logsPrefix/JOB/UNIT/...).
func decodeLog(id JobID, key string, b []byte) (RunLog, error) {
	var rec logRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return RunLog{}, err
	}
	if rec.Version < 1 || rec.Version > logRecordVersion {
		return RunLog{}, fmt.Errorf("run log version %d: want 1 to %d", rec.Version, logRecordVersion)
	}
	parts := strings.Split(strings.TrimPrefix(key, logsPrefix+"/"+string(id)+"/"), "/")
	var unit int
	if _, err := fmt.Sscanf(parts[0], "%d", &unit); err != nil {
		return RunLog{}, fmt.Errorf("run log key %s: %w", key, err)
	}
	w, err := peer.Decode(rec.Worker)
	if err != nil {
		return RunLog{}, fmt.Errorf("run log worker: %w", err)
	}
	return RunLog{Job: id, Unit: unit, Worker: w, Failure: rec.Failure, ExitCode: rec.ExitCode,
		Stderr: string(rec.Stderr), Truncated: rec.Truncated, At: rec.At}, nil
}

// StderrHead returns the first StderrHeadLines lines of stderr, at most
// StderrHeadBytes bytes of them (cut on a rune boundary), without the last
// newline; "..." marks a cut.
func StderrHead(stderr string) string {
	cut := false
	lines := 0
	end := len(stderr)
	for i := 0; i < len(stderr); i++ {
		if stderr[i] == '\n' {
			lines++
			if lines == StderrHeadLines {
				end = i
				cut = strings.TrimSpace(stderr[i:]) != ""
				break
			}
		}
	}
	if end > StderrHeadBytes {
		end = StderrHeadBytes
		for end > 0 && !utf8.RuneStart(stderr[end]) {
			end--
		}
		cut = true
	}
	head := strings.TrimRight(stderr[:end], "\n")
	head = string(bytes.ToValidUTF8([]byte(head), []byte("?")))
	if cut {
		head += "\n..."
	}
	return head
}
