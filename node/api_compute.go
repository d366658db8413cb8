package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/ipfs/go-cid"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/node/control"
)

// registerComputeAPI adds the compute routes to the control API.
func (n *Node) registerComputeAPI(s *control.Server) {
	s.Handle("POST "+control.PathSubmit, http.HandlerFunc(n.handleSubmit))
	s.Handle("POST "+control.PathJob, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := n.decodeJob(w, r)
		if !ok {
			return
		}
		info, err := n.submitter.Status(r.Context(), id)
		s.Reply(w, r, info, jobError(err))
	}))
	s.Handle("POST "+control.PathWait, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := n.decodeJob(w, r)
		if !ok {
			return
		}
		info, err := n.submitter.Wait(r.Context(), id)
		s.Reply(w, r, info, jobError(err))
	}))
	s.Handle("POST "+control.PathWatch, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := n.decodeJob(w, r)
		if !ok {
			return
		}
		events, err := n.submitter.Watch(r.Context(), id)
		if err != nil {
			s.Reply(w, r, nil, jobError(err))
			return
		}
		sw := control.NewStreamWriter(w)
		for ev := range events {
			if err := sw.Send(ev); err != nil {
				return
			}
		}
	}))
	s.Handle("POST "+control.PathCancel, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := n.decodeJob(w, r)
		if !ok {
			return
		}
		err := n.submitter.Cancel(r.Context(), id)
		if errors.Is(err, compute.ErrJobEnded) {
			err = &control.CodedError{Code: control.CodeBadRequest, Err: err}
		}
		s.Reply(w, r, control.SubmitResult{Job: string(id)}, jobError(err))
	}))
	s.Handle("GET "+control.PathJobs, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jobs, err := n.submitter.List(r.Context())
		if jobs == nil {
			jobs = []compute.JobInfo{}
		}
		s.Reply(w, r, jobs, err)
	}))
	s.Handle("POST "+control.PathWhy, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := n.decodeJob(w, r)
		if !ok {
			return
		}
		jw, err := n.submitter.Explain(r.Context(), id)
		res := control.WhyResult{Why: jw.String(), Job: string(jw.Job), State: string(jw.State), Error: jw.Error, Units: []control.UnitWhy{}}
		for _, u := range jw.Units {
			res.Units = append(res.Units, control.UnitWhy{Unit: u.Unit, Reduce: u.Reduce, Status: u.Status, Why: u.Why, Failures: u.Failures})
		}
		s.Reply(w, r, res, jobError(err))
	}))
	s.Handle("GET "+control.PathWorkers, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		known, err := n.submitter.Workers(r.Context())
		res := control.WorkersResult{Known: []control.WorkerInfo{}}
		for _, k := range known {
			res.Known = append(res.Known, control.WorkerInfo{ID: k.ID.String(), Lost: k.Lost, Slots: k.Slots,
				FreeSlots: k.FreeSlots, QueueLen: k.QueueLen, Speed: k.Speed, InFlight: k.InFlight,
				Completed: k.Completed, Failed: k.Failed, Outvoted: k.Outvoted, Stalled: k.Stalled, BidErr: k.BidErr})
		}
		slices.SortFunc(res.Known, func(a, b control.WorkerInfo) int {
			switch {
			case a.ID < b.ID:
				return -1
			case a.ID > b.ID:
				return 1
			}
			return 0
		})
		if n.worker != nil {
			st := n.worker.Stats()
			res.Self = &control.WorkerSelf{ID: n.host.ID().String(), Slots: st.Slots, Running: st.Running,
				Queued: st.Queued, Completed: st.Completed, Failed: st.Failed, Rejected: st.Rejected, Speed: st.Speed}
		}
		s.Reply(w, r, res, err)
	}))
}

func (n *Node) decodeJob(w http.ResponseWriter, r *http.Request) (compute.JobID, bool) {
	var req control.JobRequest
	if !n.api.Decode(w, r, &req) {
		return "", false
	}
	if req.Job == "" {
		n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "no job ID"))
		return "", false
	}
	id, err := n.resolveJob(r.Context(), req.Job)
	if err != nil {
		n.api.Reply(w, r, nil, err)
		return "", false
	}
	return id, true
}

// maxCandidates caps the jobs an ambiguous prefix's error names.
const maxCandidates = 8

// resolveJob returns the job whose ID is s, or else the only one whose ID
// starts with s; an error naming the candidates when several do.
func (n *Node) resolveJob(ctx context.Context, s string) (compute.JobID, error) {
	jobs, err := n.submitter.List(ctx)
	if err != nil {
		return "", err
	}
	var cands []string
	for _, j := range jobs {
		if string(j.ID) == s {
			return j.ID, nil
		}
		if strings.HasPrefix(string(j.ID), s) {
			cands = append(cands, string(j.ID))
		}
	}
	switch {
	case len(cands) == 1:
		return compute.JobID(cands[0]), nil
	case len(cands) > maxCandidates:
		return "", control.Errorf(control.CodeBadRequest, "job ID prefix %q is ambiguous: %d jobs match (%s, ...)", s, len(cands), strings.Join(cands[:maxCandidates], ", "))
	case len(cands) > 1:
		return "", control.Errorf(control.CodeBadRequest, "job ID prefix %q is ambiguous: %s match", s, strings.Join(cands, ", "))
	}
	// Unknown: the submitter says so in its own words.
	return compute.JobID(s), nil
}

func jobError(err error) error {
	if errors.Is(err, compute.ErrUnknownJob) {
		return &control.CodedError{Code: control.CodeNotFound, Err: err}
	}
	return err
}

// JobSpec turns a submit request into a job spec.
func jobSpec(req control.SubmitRequest) (compute.JobSpec, error) {
	var spec compute.JobSpec
	var err error
	if spec.Module, err = parseCID(req.Module); err != nil {
		return spec, err
	}
	for _, s := range req.Inputs {
		c, err := parseCID(s)
		if err != nil {
			return spec, err
		}
		spec.Inputs = append(spec.Inputs, c)
	}
	spec.InputNames = req.InputNames
	if req.Reduce != "" {
		if spec.Reduce, err = parseCID(req.Reduce); err != nil {
			return spec, err
		}
	}
	switch req.Split {
	case "":
		spec.Split.Kind = compute.SplitNone
	case "bytes":
		spec.Split = compute.Split{Kind: compute.SplitBytes, N: req.N}
	case "lines":
		spec.Split = compute.Split{Kind: compute.SplitLines, N: req.N}
	case "range":
		spec.Split = compute.Split{Kind: compute.SplitRange, N: req.N, From: req.From, To: req.To}
	case "each":
		spec.Split.Kind = compute.SplitEachInput
	default:
		return spec, control.Errorf(control.CodeBadRequest, "split %q: want bytes, lines, range or each", req.Split)
	}
	if req.Replicas < 0 || req.MemoryMiB < 0 || req.Timeout < 0 {
		return spec, control.Errorf(control.CodeBadRequest, "replicas, memory and timeout must be >= 0")
	}
	spec.Args, spec.Replicas, spec.Timeout, spec.MemoryMiB, spec.ReduceArgs =
		req.Args, req.Replicas, req.Timeout, req.MemoryMiB, req.ReduceArgs
	return spec, nil
}

func (n *Node) handleSubmit(w http.ResponseWriter, r *http.Request) {
	var req control.SubmitRequest
	if !n.api.Decode(w, r, &req) {
		return
	}
	spec, err := jobSpec(req)
	if err != nil {
		n.api.Reply(w, r, nil, err)
		return
	}
	for _, m := range []cid.Cid{spec.Module, spec.Reduce} {
		if !m.Defined() {
			continue
		}
		if err := n.checkModule(r.Context(), m); err != nil {
			n.api.Reply(w, r, nil, err)
			return
		}
	}
	id, err := n.submitter.Submit(r.Context(), spec)
	if err != nil {
		err = &control.CodedError{Code: control.CodeBadRequest, Err: err}
	}
	n.api.Reply(w, r, control.SubmitResult{Job: string(id)}, err)
}

// wasmMagic starts every WebAssembly binary module (version 1).
var wasmMagic = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// checkModule rejects a module that is not WebAssembly before any worker is
// asked to run it: the bytes are content-addressed, so every worker would
// fail it the same way.
func (n *Node) checkModule(ctx context.Context, c cid.Cid) error {
	fctx, cancel := context.WithTimeout(ctx, defaultProvidersTimeout)
	defer cancel()
	rd, err := n.Open(fctx, c)
	if err != nil {
		return fetchError(fmt.Errorf("module %s: %w", c, err))
	}
	defer rd.Close()
	head := make([]byte, len(wasmMagic))
	if _, err := io.ReadFull(rd, head); err != nil || !bytes.Equal(head, wasmMagic) {
		return control.Errorf(control.CodeBadRequest, "module %s is not a WebAssembly module", c)
	}
	return nil
}
