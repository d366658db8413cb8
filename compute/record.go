package compute

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/enxame/enxame/compute/wire"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The persisted form of a job: its own types, apart from JobInfo (the
// snapshot the control API answers with), so that renaming a field of
// either is not a data migration. A record carries its version; records
// written before versions existed (version 0) are JobInfo's JSON of the
// time, read by migrateV0. testdata/jobrecord-v0*.json are such records.

// jobRecordVersion is the version of jobRecord written now.
const jobRecordVersion = 1

// jobRecord is a job as kept in the datastore.
type jobRecord struct {
	Version   int          `json:"version"`
	ID        string       `json:"id"`
	State     string       `json:"state"`
	Spec      specRecord   `json:"spec"`
	Units     []unitRecord `json:"units"`
	Submitted time.Time    `json:"submitted"`
	Ended     time.Time    `json:"ended,omitzero"`
	Error     string       `json:"error,omitempty"`
}

type specRecord struct {
	Module         cid.Cid   `json:"module"`
	Inputs         []cid.Cid `json:"inputs,omitempty"`
	Split          string    `json:"split"`
	N              int       `json:"n,omitempty"`
	From           int64     `json:"from,omitempty"`
	To             int64     `json:"to,omitempty"`
	Args           []string  `json:"args,omitempty"`
	Replicas       int       `json:"replicas,omitempty"`
	TimeoutNS      int64     `json:"timeout_ns,omitempty"`
	MemoryMiB      int       `json:"memory_mib,omitempty"`
	MaxOutputBytes int64     `json:"max_output_bytes,omitempty"`
	Reduce         cid.Cid   `json:"reduce,omitzero"`
	ReduceArgs     []string  `json:"reduce_args,omitempty"`
}

type unitRecord struct {
	Index  int       `json:"index"`
	Reduce bool      `json:"reduce,omitempty"`
	Status string    `json:"status"`
	Inputs []cid.Cid `json:"inputs,omitempty"`
	Bytes  int64     `json:"bytes,omitempty"`
	Args   []string  `json:"args,omitempty"`
	Output cid.Cid   `json:"output,omitzero"`
	// Receipts are kept in their canonical signed encoding
	// (wire.MarshalReceipt): what the worker signed, whatever the Go
	// fields are called.
	Receipts [][]byte `json:"receipts,omitempty"`
	Faulty   []string `json:"faulty,omitempty"`
	Failures []string `json:"failures,omitempty"`
	Stderr   string   `json:"stderr,omitempty"`
}

// encodeJob returns the record of info, as JSON.
func encodeJob(info *JobInfo) ([]byte, error) {
	sp := info.Spec
	rec := jobRecord{
		Version: jobRecordVersion, ID: string(info.ID), State: info.State.String(),
		Spec: specRecord{Module: sp.Module, Inputs: sp.Inputs, Split: sp.Split.Kind.String(), N: sp.Split.N,
			From: sp.Split.From, To: sp.Split.To, Args: sp.Args, Replicas: sp.Replicas, TimeoutNS: int64(sp.Timeout),
			MemoryMiB: sp.MemoryMiB, MaxOutputBytes: sp.MaxOutputBytes, Reduce: sp.Reduce, ReduceArgs: sp.ReduceArgs},
		Submitted: info.Submitted, Ended: info.Ended, Error: info.Error,
	}
	for _, u := range info.Units {
		ur := unitRecord{Index: u.Index, Reduce: u.Reduce, Status: u.Status.String(), Inputs: u.Inputs, Bytes: u.Bytes,
			Args: u.Args, Output: u.Output, Failures: u.Failures, Stderr: u.Stderr}
		for i := range u.Receipts {
			b, err := wire.MarshalReceipt(&u.Receipts[i])
			if err != nil {
				return nil, fmt.Errorf("unit %d: %w", u.Index, err)
			}
			ur.Receipts = append(ur.Receipts, b)
		}
		for _, p := range u.Faulty {
			ur.Faulty = append(ur.Faulty, p.String())
		}
		rec.Units = append(rec.Units, ur)
	}
	return json.Marshal(&rec)
}

func parseJobState(s string) (JobState, error) {
	var st JobState
	err := st.UnmarshalText([]byte(s))
	return st, err
}

func parseUnitState(s string) (UnitState, error) {
	var st UnitState
	err := st.UnmarshalText([]byte(s))
	return st, err
}

// decodeJob decodes a job record of any version.
func decodeJob(b []byte) (JobInfo, error) {
	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return JobInfo{}, err
	}
	switch v.Version {
	case 0:
		return migrateV0(b)
	case 1:
		return decodeV1(b)
	}
	return JobInfo{}, fmt.Errorf("job record version %d: want 0 to %d (written by a newer enxame?)", v.Version, jobRecordVersion)
}

func decodeV1(b []byte) (JobInfo, error) {
	var rec jobRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return JobInfo{}, err
	}
	if rec.ID == "" {
		return JobInfo{}, errors.New("job record without an ID")
	}
	info := JobInfo{ID: JobID(rec.ID), Submitted: rec.Submitted, Ended: rec.Ended, Error: rec.Error}
	var err error
	if info.State, err = parseJobState(rec.State); err != nil {
		return JobInfo{}, err
	}
	sp := rec.Spec
	info.Spec = JobSpec{Module: sp.Module, Inputs: sp.Inputs, Split: Split{N: sp.N, From: sp.From, To: sp.To}, Args: sp.Args,
		Replicas: sp.Replicas, Timeout: time.Duration(sp.TimeoutNS), MemoryMiB: sp.MemoryMiB, MaxOutputBytes: sp.MaxOutputBytes,
		Reduce: sp.Reduce, ReduceArgs: sp.ReduceArgs}
	if err := info.Spec.Split.Kind.UnmarshalText([]byte(sp.Split)); err != nil {
		return JobInfo{}, err
	}
	for _, ur := range rec.Units {
		u := UnitInfo{Index: ur.Index, Reduce: ur.Reduce, Inputs: ur.Inputs, Bytes: ur.Bytes, Args: ur.Args,
			Output: ur.Output, Failures: ur.Failures, Stderr: ur.Stderr}
		if u.Status, err = parseUnitState(ur.Status); err != nil {
			return JobInfo{}, fmt.Errorf("unit %d: %w", ur.Index, err)
		}
		for _, rb := range ur.Receipts {
			r, err := wire.UnmarshalReceipt(rb)
			if err != nil {
				return JobInfo{}, fmt.Errorf("unit %d: %w", ur.Index, err)
			}
			u.Receipts = append(u.Receipts, r)
		}
		for _, s := range ur.Faulty {
			p, err := peer.Decode(s)
			if err != nil {
				return JobInfo{}, fmt.Errorf("unit %d: faulty worker: %w", ur.Index, err)
			}
			u.Faulty = append(u.Faulty, p)
		}
		info.Units = append(info.Units, u)
	}
	return info, nil
}

// recordV0 is a job as kept before records had a version: JobInfo's JSON
// then, receipts with their Go field names.
type recordV0 struct {
	ID    string  `json:"id"`
	State string  `json:"state"`
	Spec  JobSpec `json:"spec"` // JobSpec.UnmarshalJSON reads every earlier form
	Units []struct {
		Index    int            `json:"index"`
		Reduce   bool           `json:"reduce"`
		Status   string         `json:"status"`
		Inputs   []cid.Cid      `json:"inputs"`
		Bytes    int64          `json:"bytes"`
		Args     []string       `json:"args"`
		Output   cid.Cid        `json:"output"`
		Receipts []wire.Receipt `json:"receipts"`
		Faulty   []peer.ID      `json:"faulty"`
		Failures []string       `json:"failures"`
	} `json:"units"`
	Submitted time.Time `json:"submitted"`
	Ended     time.Time `json:"ended"`
	Error     string    `json:"error"`
}

func migrateV0(b []byte) (JobInfo, error) {
	var rec recordV0
	if err := json.Unmarshal(b, &rec); err != nil {
		return JobInfo{}, err
	}
	if rec.ID == "" {
		return JobInfo{}, errors.New("job record without an ID")
	}
	info := JobInfo{ID: JobID(rec.ID), Spec: rec.Spec, Submitted: rec.Submitted, Ended: rec.Ended, Error: rec.Error}
	var err error
	if info.State, err = parseJobState(rec.State); err != nil {
		return JobInfo{}, err
	}
	for _, ur := range rec.Units {
		u := UnitInfo{Index: ur.Index, Reduce: ur.Reduce, Inputs: ur.Inputs, Bytes: ur.Bytes, Args: ur.Args,
			Output: ur.Output, Receipts: ur.Receipts, Faulty: ur.Faulty, Failures: ur.Failures}
		if u.Status, err = parseUnitState(ur.Status); err != nil {
			return JobInfo{}, fmt.Errorf("unit %d: %w", ur.Index, err)
		}
		info.Units = append(info.Units, u)
	}
	return info, nil
}
