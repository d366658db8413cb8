package compute

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// jobsPrefix is the datastore namespace of a submitter's jobs: one JSON
// jobRecord per job (record.go), under jobsPrefix/ID.
const jobsPrefix = "/compute/jobs"

func jobKey(id JobID) datastore.Key { return datastore.NewKey(jobsPrefix + "/" + string(id)) }

// save writes j's record; it is up to date then.
func (s *Submitter) save(ctx context.Context, j *job) error {
	j.staleSince = time.Time{}
	b, err := encodeJob(&j.Info)
	if err != nil {
		return fmt.Errorf("compute: encode job %s: %w", j.Info.ID, err)
	}
	if err := s.deps.Datastore.Put(ctx, jobKey(j.Info.ID), b); err != nil {
		return fmt.Errorf("compute: save job %s: %w", j.Info.ID, err)
	}
	return nil
}

// markStale notes that j's saved record lags behind its units; saveStale
// writes it within SaveInterval.
func (s *Submitter) markStale(j *job) {
	if !j.staleSince.IsZero() {
		return
	}
	j.staleSince = time.Now()
	if !slices.Contains(s.stale, j) { // it may be there still, saved meanwhile
		s.stale = append(s.stale, j)
	}
}

// nextSave is when saveStale has a record to write, if any.
func (s *Submitter) nextSave() (time.Time, bool) {
	var at time.Time
	for _, j := range s.stale {
		if !j.staleSince.IsZero() && (at.IsZero() || j.staleSince.Before(at)) {
			at = j.staleSince
		}
	}
	return at.Add(s.cfg.SaveInterval), !at.IsZero()
}

// saveStale writes the records of the stale jobs that have been stale for
// SaveInterval, or of all of them when all is set.
func (s *Submitter) saveStale(ctx context.Context, all bool) {
	now := time.Now()
	n := 0
	for _, j := range s.stale {
		if j.staleSince.IsZero() { // saved meanwhile (the job ended)
			continue
		}
		if !all && now.Sub(j.staleSince) < s.cfg.SaveInterval {
			s.stale[n] = j
			n++
			continue
		}
		if err := s.save(ctx, j); err != nil {
			s.log.Error("save job", "job", j.Info.ID, "err", err)
		}
	}
	clear(s.stale[n:])
	s.stale = s.stale[:n]
}

// load reads every kept job, in submission order, and resumes the active
// ones: their units without an accepted output are scheduled again.
func (s *Submitter) load(ctx context.Context) error {
	res, err := s.deps.Datastore.Query(ctx, query.Query{Prefix: jobsPrefix})
	if err != nil {
		return fmt.Errorf("compute: load jobs: %w", err)
	}
	defer res.Close()
	var infos []JobInfo
	for e := range res.Next() {
		if e.Error != nil {
			return fmt.Errorf("compute: load jobs: %w", e.Error)
		}
		info, err := decodeJob(e.Value)
		if err != nil {
			s.log.Warn("skip unreadable job record", "key", e.Key, "err", err)
			continue
		}
		infos = append(infos, info)
	}
	slices.SortStableFunc(infos, func(a, b JobInfo) int { return a.Submitted.Compare(b.Submitted) })
	for _, info := range infos {
		if _, dup := s.jobs[info.ID]; dup {
			continue
		}
		j := &job{Info: info, done: make(chan struct{})}
		s.jobs[info.ID] = j
		s.order = append(s.order, info.ID)
		if info.State != JobActive {
			close(j.done)
			continue
		}
		s.log.Info("resuming job", "job", info.ID)
		s.emit(j, Event{Unit: -1, Kind: EventSubmitted, Detail: "resumed after a restart"})
		s.advance(ctx, j)
	}
	return nil
}
