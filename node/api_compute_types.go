package node

import (
	"slices"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/compute/wire"
	"github.com/enxame/enxame/node/control"
)

// The compute API answers node/control's types, converted here from
// compute's: a field renamed or added inside compute changes the API only
// through this file (TestComputeAPIJSON pins the JSON).

func apiJob(j compute.JobInfo) control.Job {
	out := control.Job{
		ID:        string(j.ID),
		State:     control.JobState(j.State.String()),
		Spec:      apiSpec(j.Spec),
		Units:     make([]control.Unit, len(j.Units)),
		Submitted: j.Submitted,
		Ended:     j.Ended,
		Error:     j.Error,
		ResultDir: j.ResultDir,
	}
	for i, u := range j.Units {
		out.Units[i] = apiUnit(u)
	}
	return out
}

func apiJobs(js []compute.JobInfo) []control.Job {
	out := make([]control.Job, len(js))
	for i, j := range js {
		out[i] = apiJob(j)
	}
	return out
}

func apiSpec(s compute.JobSpec) control.JobSpec {
	return control.JobSpec{
		Module:         s.Module,
		Inputs:         slices.Clone(s.Inputs),
		InputNames:     slices.Clone(s.InputNames),
		Split:          control.Split{Kind: s.Split.Kind.String(), N: s.Split.N, From: s.Split.From, To: s.Split.To},
		Args:           slices.Clone(s.Args),
		Replicas:       s.Replicas,
		Timeout:        s.Timeout,
		MemoryMiB:      s.MemoryMiB,
		MaxOutputBytes: s.MaxOutputBytes,
		Reduce:         s.Reduce,
		ReduceArgs:     slices.Clone(s.ReduceArgs),
	}
}

func apiUnit(u compute.UnitInfo) control.Unit {
	out := control.Unit{
		Index:    u.Index,
		Reduce:   u.Reduce,
		Status:   control.UnitState(u.Status.String()),
		Inputs:   slices.Clone(u.Inputs),
		Bytes:    u.Bytes,
		Args:     slices.Clone(u.Args),
		Output:   u.Output,
		Failures: slices.Clone(u.Failures),
		Stderr:   u.Stderr,
		File:     u.File,
	}
	for _, r := range u.Receipts {
		out.Receipts = append(out.Receipts, apiReceipt(r))
	}
	for _, f := range u.Faulty {
		out.Faulty = append(out.Faulty, f.String())
	}
	return out
}

func apiReceipt(r wire.Receipt) control.Receipt {
	return control.Receipt{
		Worker:     r.Worker.String(),
		Job:        r.Job,
		Unit:       r.Unit,
		Module:     r.Module,
		Inputs:     slices.Clone(r.Inputs),
		Args:       slices.Clone(r.Args),
		Output:     r.Output,
		Took:       r.Took,
		PeakMemory: r.PeakMemory,
		Finished:   r.Finished,
		Signature:  slices.Clone(r.Signature),
	}
}

func apiEvent(ev compute.Event) control.Event {
	out := control.Event{
		Job:    string(ev.Job),
		Unit:   ev.Unit,
		Kind:   control.EventKind(ev.Kind),
		Output: ev.Output,
		Detail: ev.Detail,
		At:     ev.At,
	}
	if ev.Worker != "" {
		out.Worker = ev.Worker.String()
	}
	return out
}

func apiWhy(jw compute.JobWhy) control.WhyResult {
	out := control.WhyResult{
		Why:   jw.String(),
		Job:   string(jw.Job),
		State: control.JobState(jw.State.String()),
		Error: jw.Error,
		Units: make([]control.UnitWhy, len(jw.Units)),
	}
	for i, u := range jw.Units {
		out.Units[i] = control.UnitWhy{Unit: u.Unit, Reduce: u.Reduce, Status: control.UnitState(u.Status.String()),
			Why: u.Why, Failures: slices.Clone(u.Failures), Stderr: u.Stderr}
	}
	return out
}
