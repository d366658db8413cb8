package compute

import (
	"context"
	"fmt"
	"slices"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// jobsPrefix is the datastore namespace of a submitter's jobs: one JSON
// jobRecord per job (record.go), under jobsPrefix/ID.
const jobsPrefix = "/compute/jobs"

func jobKey(id JobID) datastore.Key { return datastore.NewKey(jobsPrefix + "/" + string(id)) }

// save writes j's record.
func (s *Submitter) save(ctx context.Context, j *job) error {
	b, err := encodeJob(&j.Info)
	if err != nil {
		return fmt.Errorf("compute: encode job %s: %w", j.Info.ID, err)
	}
	if err := s.deps.Datastore.Put(ctx, jobKey(j.Info.ID), b); err != nil {
		return fmt.Errorf("compute: save job %s: %w", j.Info.ID, err)
	}
	return nil
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
