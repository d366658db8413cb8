package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"

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
		s.Reply(w, r, apiJob(info), jobError(err))
	}))
	s.Handle("POST "+control.PathWait, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := n.decodeJob(w, r)
		if !ok {
			return
		}
		info, err := n.submitter.Wait(r.Context(), id)
		s.Reply(w, r, apiJob(info), jobError(err))
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
			if err := sw.Send(apiEvent(ev)); err != nil {
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
		s.Reply(w, r, apiJobs(jobs), err)
	}))
	s.Handle("POST "+control.PathWhy, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := n.decodeJob(w, r)
		if !ok {
			return
		}
		jw, err := n.submitter.Explain(r.Context(), id)
		s.Reply(w, r, apiWhy(jw), jobError(err))
	}))
	s.Handle("POST "+control.PathResult, http.HandlerFunc(n.handleResult))
	s.Handle("POST "+control.PathLogs, http.HandlerFunc(n.handleLogs))
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

func (n *Node) handleLogs(w http.ResponseWriter, r *http.Request) {
	var req control.LogsRequest
	if !n.api.Decode(w, r, &req) {
		return
	}
	if req.Job == "" {
		n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "no job ID"))
		return
	}
	unit := -1
	if req.Unit != nil {
		if *req.Unit < 0 {
			n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "unit %d: want >= 0", *req.Unit))
			return
		}
		unit = *req.Unit
	}
	id := compute.JobID(req.Job)
	// The state first: a follower that sees it ended knows the logs read
	// after it are complete.
	info, err := n.submitter.Status(r.Context(), id)
	if err != nil {
		n.api.Reply(w, r, nil, jobError(err))
		return
	}
	logs, err := n.submitter.Logs(r.Context(), id, unit)
	if err != nil && !errors.Is(err, compute.ErrUnknownJob) {
		err = &control.CodedError{Code: control.CodeBadRequest, Err: err}
	}
	res := control.LogsResult{State: fmt.Sprint(info.State), Logs: []control.RunLog{}}
	for _, l := range logs {
		res.Logs = append(res.Logs, control.RunLog{Unit: l.Unit, Worker: l.Worker.String(), Failure: l.Failure,
			ExitCode: l.ExitCode, Stderr: l.Stderr, Truncated: l.Truncated, At: l.At})
	}
	n.api.Reply(w, r, res, jobError(err))
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
	case "lines-per-unit":
		spec.Split = compute.Split{Kind: compute.SplitLinesPerUnit, N: req.N}
	case "range":
		spec.Split = compute.Split{Kind: compute.SplitRange, N: req.N, From: req.From, To: req.To}
	case "each":
		spec.Split.Kind = compute.SplitEachInput
	default:
		return spec, control.Errorf(control.CodeBadRequest, "split %q: want bytes, lines, lines-per-unit, range or each", req.Split)
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
	if isMultipart(r) {
		if !n.decodeSubmitUpload(w, r, &req) {
			return
		}
	} else if !n.api.Decode(w, r, &req) {
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

// maxUploadModuleBytes caps a module uploaded with a submit: the workers'
// default cap (compute.DefaultMaxModuleBytes).
const maxUploadModuleBytes = compute.DefaultMaxModuleBytes

// decodeSubmitUpload reads a multipart submit: a "spec" field holding a
// SubmitRequest as JSON (module empty) and a "module" file, which it adds
// to the store; req.Module becomes its CID. On failure it has answered.
func (n *Node) decodeSubmitUpload(w http.ResponseWriter, r *http.Request, req *control.SubmitRequest) bool {
	mr, err := r.MultipartReader()
	if err != nil {
		n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "submit: %v", err))
		return false
	}
	var haveSpec, haveModule bool
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "submit: read multipart body: %v", err))
			return false
		}
		switch part.FormName() {
		case "spec":
			err := control.DecodeRequest(part, req)
			if errors.Is(err, control.ErrTooLarge) {
				n.api.Reply(w, r, nil, &control.CodedError{Code: control.CodeTooLarge, Err: fmt.Errorf("submit: spec: %w", err)})
				return false
			}
			if err != nil {
				n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "submit: spec: %v", err))
				return false
			}
			haveSpec = true
		case "module":
			lr := &io.LimitedReader{R: part, N: maxUploadModuleBytes + 1}
			res, err := n.AddReader(r.Context(), lr, part.FileName(), share.AddOptions{})
			if err == nil && lr.N == 0 {
				err = &control.CodedError{Code: control.CodeTooLarge, Err: fmt.Errorf("module over %d bytes", maxUploadModuleBytes)}
			}
			if err != nil {
				n.api.Reply(w, r, nil, fmt.Errorf("submit: upload module: %w", err))
				return false
			}
			req.Module = res.Root.String()
			haveModule = true
		}
		part.Close()
	}
	if !haveSpec || !haveModule {
		n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "submit: a multipart submit needs a 'spec' field and a 'module' file"))
		return false
	}
	return true
}

// handleResult streams a finished job's result: its single or reduce
// output, else every unit's output in order.
func (n *Node) handleResult(w http.ResponseWriter, r *http.Request) {
	id, ok := n.decodeJob(w, r)
	if !ok {
		return
	}
	info, err := n.submitter.Status(r.Context(), id)
	if err != nil {
		n.api.Reply(w, r, nil, jobError(err))
		return
	}
	if info.State != compute.JobDone {
		n.api.Reply(w, r, nil, control.Errorf(control.CodeConflict, "job %s is %s, not done", id, info.State))
		return
	}
	outs := []cid.Cid{info.Output()}
	if !outs[0].Defined() {
		outs = info.Outputs()
	}
	// Open every output before the status is sent, so that a missing one
	// is an error answer rather than a truncated body.
	ctx, cancel := fetchCtx(r.Context(), 0)
	defer cancel()
	var size int64
	streams := make([]*share.FetchStream, 0, len(outs))
	defer func() {
		for _, st := range streams {
			st.Close()
		}
	}()
	for _, c := range outs {
		st, err := n.share.OpenStream(ctx, c)
		if err != nil {
			n.api.Reply(w, r, nil, fetchError(fmt.Errorf("result %s: %w", c, err)))
			return
		}
		streams = append(streams, st)
		size += int64(min(st.Size(), 1<<62))
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	for _, st := range streams {
		if _, err := st.WriteTo(w); err != nil && r.Context().Err() == nil {
			n.log.Warn("result: stream", "job", id, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
}

// isMultipart reports whether r's body is multipart/form-data.
func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}
