package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/enxame/enxame/node/control"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Defaults of share operations that reach the network.
const (
	defaultFetchTimeout     = time.Hour
	defaultProvidersTimeout = 30 * time.Second
	maxProviders            = 100
)

// registerShareAPI adds the share routes to the control API.
func (n *Node) registerShareAPI(s *control.Server) {
	s.Handle("POST "+control.PathAdd, n.withOp("add", false, http.HandlerFunc(n.handleAdd)))
	s.Handle("POST "+control.PathAddStream, n.withOp("add", false, http.HandlerFunc(n.handleAddStream)))
	s.Handle("POST "+control.PathGet, n.withOp("get", true, http.HandlerFunc(n.handleGet)))
	s.Handle("POST "+control.PathCat, n.withOp("cat", true, http.HandlerFunc(n.handleCat)))
	s.Handle("POST "+control.PathLs, n.withOp("ls", true, http.HandlerFunc(n.handleLs)))
	s.Handle("GET "+control.PathPinLs, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pins, err := n.blocks.Pins(r.Context())
		out := make([]string, len(pins))
		for i, c := range pins {
			out[i] = c.String()
		}
		slices.Sort(out)
		s.Reply(w, r, out, err)
	}))
	s.Handle("POST "+control.PathPinAdd, n.withOp("pin add", true, http.HandlerFunc(n.handlePinAdd)))
	s.Handle("POST "+control.PathPinRm, n.withOp("pin rm", true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := n.decodeCID(w, r, nil)
		if !ok {
			return
		}
		err := n.blocks.Unpin(r.Context(), c)
		if errors.Is(err, share.ErrNotPinned) {
			err = control.Errorf(control.CodeNotFound, "%s is not pinned", c)
		}
		s.Reply(w, r, struct{}{}, err)
	})))
	s.Handle("POST "+control.PathGC, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := n.share.GC(r.Context())
		s.Reply(w, r, control.GCResult{Removed: res.Removed, Freed: res.Freed, DiskFreed: res.DiskFreed}, err)
	}))
	s.Handle("POST "+control.PathProviders, n.withOp("providers", true, http.HandlerFunc(n.handleProviders)))
	s.Handle("POST "+control.PathExport, n.withOp("export", true, http.HandlerFunc(n.handleExport)))
	s.Handle("POST "+control.PathImport, n.withOp("import", false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := n.uploadBody(w, r)
		if !ok {
			return
		}
		roots, err := n.share.ImportCAR(r.Context(), body)
		res := control.ImportResult{Roots: []string{}}
		for _, c := range roots {
			res.Roots = append(res.Roots, c.String())
		}
		if err != nil {
			err = control.Errorf(control.CodeBadRequest, "import: %v", err)
		}
		s.Reply(w, r, res, err)
	})))
}

func (n *Node) handleExport(w http.ResponseWriter, r *http.Request) {
	ctx, cancel, root, ok := n.fetchRequest(w, r)
	defer cancel()
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/vnd.ipld.car")
	w.WriteHeader(http.StatusOK)
	if err := n.blocks.ExportCAR(ctx, root, w); err != nil && r.Context().Err() == nil {
		n.log.Warn("export: stream", "cid", root, "err", err)
		panic(http.ErrAbortHandler) // the client sees a truncated body as an error
	}
}

// decodeCID decodes a CIDRequest (or into req when not nil) and parses its
// CID, answering 400 on failure.
func (n *Node) decodeCID(w http.ResponseWriter, r *http.Request, req *control.CIDRequest) (cid.Cid, bool) {
	if req == nil {
		req = new(control.CIDRequest)
	}
	if !n.api.Decode(w, r, req) {
		return cid.Undef, false
	}
	c, err := parseCID(req.CID)
	if err != nil {
		n.api.Reply(w, r, nil, err)
		return cid.Undef, false
	}
	return c, true
}

func parseCID(s string) (cid.Cid, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, control.Errorf(control.CodeBadRequest, "invalid CID %q: %v", s, err)
	}
	return c, nil
}

func addOptions(req control.AddRequest) (share.AddOptions, error) {
	if req.ChunkSize < 0 || req.ChunkSize > share.MaxChunkSize {
		return share.AddOptions{}, control.Errorf(control.CodeBadRequest, "chunk size %d: want 1..%d", req.ChunkSize, share.MaxChunkSize)
	}
	return share.AddOptions{
		ChunkSize:   req.ChunkSize,
		CIDv0:       req.CIDv0,
		NoRawLeaves: req.NoRawLeaves,
		Wrap:        req.Wrap,
		Hidden:      req.Hidden,
		NoPin:       req.NoPin,
	}, nil
}

func (n *Node) handleAdd(w http.ResponseWriter, r *http.Request) {
	var req control.AddRequest
	if !n.api.Decode(w, r, &req) {
		return
	}
	opts, err := addOptions(req)
	if err != nil {
		n.api.Reply(w, r, nil, err)
		return
	}
	if len(req.Paths) == 0 {
		n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "no paths to add"))
		return
	}
	var total int64
	for _, p := range req.Paths {
		if !filepath.IsAbs(p) {
			n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "path %q is not absolute", p))
			return
		}
		size, err := treeSize(p, req.Hidden)
		if err != nil {
			n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "%v", err))
			return
		}
		total += size
	}
	n.streamAdd(w, r, total, opts, func(opts share.AddOptions) (share.AddResult, error) {
		return n.Add(r.Context(), req.Paths, opts)
	})
}

func (n *Node) handleAddStream(w http.ResponseWriter, r *http.Request) {
	var req control.AddRequest
	if q := r.URL.Query().Get("opts"); q != "" {
		if err := json.Unmarshal([]byte(q), &req); err != nil {
			n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "add options: %v", err))
			return
		}
	}
	opts, err := addOptions(req)
	if err != nil {
		n.api.Reply(w, r, nil, err)
		return
	}
	body, ok := n.uploadBody(w, r)
	if !ok {
		return
	}
	if isMultipart(r) {
		mr, err := r.MultipartReader()
		if err != nil {
			n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "add: %v", err))
			return
		}
		part, err := firstFilePart(mr)
		if err != nil {
			n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "add: %v", err))
			return
		}
		defer part.Close()
		if req.Name == "" {
			req.Name = part.FileName()
		}
		body = part
	}
	// Progress lines go out while the body still arrives: an HTTP/1.1
	// server otherwise closes the request body when the response starts
	// ("invalid Read on closed Body"). HTTP/2 is full duplex already.
	if err := http.NewResponseController(w).EnableFullDuplex(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		n.log.Debug("add stream: full duplex", "err", err)
	}
	n.streamAdd(w, r, max(r.ContentLength, 0), opts, func(opts share.AddOptions) (share.AddResult, error) {
		return n.AddReader(r.Context(), body, req.Name, opts)
	})
}

// uploadBody caps an upload's body at the store's quota (storage.max):
// a declared length over it is refused at once (413, too_large), and a
// body that runs past it fails when it does. On failure it has answered.
func (n *Node) uploadBody(w http.ResponseWriter, r *http.Request) (io.Reader, bool) {
	limit := int64(n.cfg.Storage.Max)
	if limit <= 0 {
		return r.Body, true
	}
	if r.ContentLength > limit {
		n.api.Reply(w, r, nil, control.Errorf(control.CodeTooLarge, "upload of %d bytes is over the store's quota of %d bytes", r.ContentLength, limit))
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	return r.Body, true
}

// firstFilePart returns the first part of mr that is a file.
func firstFilePart(mr *multipart.Reader) (*multipart.Part, error) {
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil, fmt.Errorf("multipart body has no file: %w", err)
		}
		if part.FileName() != "" {
			return part, nil
		}
		part.Close()
	}
}

// streamAdd runs add, streaming progress and results as NDJSON.
func (n *Node) streamAdd(w http.ResponseWriter, r *http.Request, total int64, opts share.AddOptions, add func(share.AddOptions) (share.AddResult, error)) {
	sw := control.NewStreamWriter(w)
	// Send the headers now: a client streaming the body (add/stream from
	// stdin) waits for them before it reads any event, and the first event
	// may need more of the body than it has sent.
	_ = http.NewResponseController(w).Flush()
	var last time.Time
	opts.Progress = func(b int64) {
		if now := time.Now(); now.Sub(last) >= 100*time.Millisecond {
			last = now
			sw.Send(control.AddEvent{Event: "progress", Bytes: b, Total: total})
		}
	}
	opts.OnAdded = func(e share.AddedEntry) {
		sw.Send(control.AddEvent{Event: "added", Path: e.Path, CID: e.CID.String(), Size: e.Size})
	}
	res, err := add(opts)
	if err != nil {
		sw.Send(control.AddEvent{Event: "error", Error: control.Message(r.Context(), err), Code: control.CodeOf(err)})
		return
	}
	roots := make([]string, len(res.Roots))
	for i, c := range res.Roots {
		roots[i] = c.String()
	}
	sw.Send(control.AddEvent{Event: "done", Root: res.Root.String(), Roots: roots, Bytes: res.Bytes, Total: total})
}

// treeSize is the total size of the regular files under p.
func treeSize(p string, hidden bool) (int64, error) {
	var total int64
	err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != p && !hidden && len(d.Name()) > 0 && d.Name()[0] == '.' {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("add %s: %w", p, unwrapPathError(err))
	}
	return total, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// fetchCtx bounds a fetch by the request's timeout or the default.
func fetchCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = defaultFetchTimeout
	}
	return context.WithTimeout(ctx, d)
}

// progressTo returns a share.Progress callback that sends progress events
// on sw through a one-slot mailbox keeping the newest report, so that a
// client that reads slowly never blocks the fetch, and a stop that waits
// until the mailbox is drained.
func progressTo(sw *control.StreamWriter) (progress func(share.Progress), stop func()) {
	latest := make(chan share.Progress, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for p := range latest {
			sw.Send(fetchEvent("progress", p))
		}
	})
	progress = func(p share.Progress) {
		for {
			select {
			case latest <- p:
				return
			default:
			}
			select {
			case <-latest: // drop the older report
			default:
			}
		}
	}
	stop = func() {
		close(latest)
		wg.Wait()
	}
	return progress, stop
}

func fetchEvent(kind string, p share.Progress) control.FetchEvent {
	ev := control.FetchEvent{Event: kind, BytesDone: p.BytesDone, BytesTotal: p.BytesTotal,
		BytesFetched: p.BytesFetched, Blocks: p.BlocksFetched, Rate: p.Rate, Elapsed: p.Elapsed}
	for _, fp := range p.Providers {
		ev.Providers = append(ev.Providers, control.FetchProvider{Peer: fp.Peer.String(), State: fp.State,
			Bytes: fp.Bytes, Share: fp.Share, Rate: fp.Rate})
	}
	return ev
}

func (n *Node) handleGet(w http.ResponseWriter, r *http.Request) {
	var req control.GetRequest
	if !n.api.Decode(w, r, &req) {
		return
	}
	root, err := parseCID(req.CID)
	if err == nil && !filepath.IsAbs(req.Output) {
		err = control.Errorf(control.CodeBadRequest, "output path %q is not absolute", req.Output)
	}
	if err == nil && req.MaxBytes < 0 {
		err = control.Errorf(control.CodeBadRequest, "max bytes %d: want >= 0", req.MaxBytes)
	}
	if err == nil {
		if _, serr := os.Lstat(req.Output); serr == nil {
			err = control.Errorf(control.CodeBadRequest, "%s already exists", req.Output)
		}
	}
	if err != nil {
		n.api.Reply(w, r, nil, err)
		return
	}
	// Drain the request body: only then does net/http watch the connection
	// and cancel r.Context() when the client goes away (Ctrl-C), which
	// stops the get and removes its temporary file.
	_, _ = io.Copy(io.Discard, r.Body)
	ctx, cancel := fetchCtx(r.Context(), req.Timeout)
	defer cancel()
	sw := control.NewStreamWriter(w)
	progress, stop := progressTo(sw)
	err = n.share.Get(ctx, root, req.Output, share.GetOptions{MaxBytes: req.MaxBytes, Progress: progress, NoShare: req.NoShare})
	stop()
	if err != nil {
		sw.Send(control.FetchEvent{Event: "error", Error: control.Message(ctx, err), Code: control.CodeOf(err)})
		return
	}
	sw.Send(control.FetchEvent{Event: "done", Path: req.Output})
}

func (n *Node) handleCat(w http.ResponseWriter, r *http.Request) {
	var req control.CatRequest
	if !n.api.Decode(w, r, &req) {
		return
	}
	root, err := parseCID(req.CID)
	if err == nil && (req.Offset < 0 || req.Length < 0) {
		err = control.Errorf(control.CodeBadRequest, "offset and length must be >= 0")
	}
	if err != nil {
		n.api.Reply(w, r, nil, err)
		return
	}
	ctx, cancel := fetchCtx(r.Context(), req.Timeout)
	defer cancel()
	dr, err := n.share.OpenStream(ctx, root)
	if err != nil {
		if errors.Is(err, share.ErrNoProviders) || errors.Is(err, context.DeadlineExceeded) {
			err = fetchError(err)
		} else {
			err = control.Errorf(control.CodeBadRequest, "cat %s: %v", root, err)
		}
		n.api.Reply(w, r, nil, err)
		return
	}
	defer dr.Close()
	if _, err := dr.Seek(req.Offset, io.SeekStart); err != nil {
		n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "seek to %d: %v", req.Offset, err))
		return
	}
	// The body is the raw bytes with their length: no chunked framing, and
	// a DAG whose leaves hold fewer bytes than its root states ends the
	// body short, which the client sees as an error.
	size := int64(min(dr.Size(), 1<<62))
	length := max(size-req.Offset, 0)
	if req.Length > 0 {
		length = min(length, req.Length)
	}
	dr.SetEnd(req.Offset + length)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(http.StatusOK)
	// Stream.WriteTo writes up to 1 MiB at a time, straight to the socket.
	if _, err := dr.WriteTo(w); err != nil && r.Context().Err() == nil {
		n.log.Warn("cat: stream", "cid", root, "err", err)
		// The status is sent: abort the response so the client sees a
		// truncated body as an error, not as the end of the file.
		panic(http.ErrAbortHandler)
	}
}

// fetchRequest decodes a CIDRequest and makes its DAG local within the
// request's deadline. When ok is false it has answered the request. The
// caller defers cancel in every case; until then the DAG's blocks are safe
// from GC.
func (n *Node) fetchRequest(w http.ResponseWriter, r *http.Request) (ctx context.Context, cancel context.CancelFunc, root cid.Cid, ok bool) {
	var req control.CIDRequest
	if root, ok = n.decodeCID(w, r, &req); !ok {
		return r.Context(), func() {}, root, false
	}
	ctx, cancelCtx := fetchCtx(r.Context(), req.Timeout)
	hold := n.blocks.NewHold()
	cancel = func() {
		cancelCtx()
		hold.Release()
	}
	if err := n.share.FetchHeld(ctx, root, share.FetchOptions{}, hold); err != nil {
		n.api.Reply(w, r, nil, fetchError(err))
		return ctx, cancel, root, false
	}
	return ctx, cancel, root, true
}

// fetchError maps fetch failures to API error codes.
func fetchError(err error) error {
	switch {
	case errors.Is(err, share.ErrNoProviders):
		return &control.CodedError{Code: control.CodeNotFound, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &control.CodedError{Code: control.CodeTimeout, Err: err}
	}
	return err
}

func (n *Node) handleLs(w http.ResponseWriter, r *http.Request) {
	ctx, cancel, root, ok := n.fetchRequest(w, r)
	defer cancel()
	if !ok {
		return
	}
	entries, err := n.blocks.List(ctx, root)
	if err != nil {
		n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "ls %s: %v", root, err))
		return
	}
	out := make([]control.LsEntry, len(entries))
	for i, e := range entries {
		out[i] = control.LsEntry{Name: e.Name, CID: e.CID.String(), Size: e.Size, Type: e.Type.String()}
	}
	n.api.Reply(w, r, out, nil)
}

func (n *Node) handlePinAdd(w http.ResponseWriter, r *http.Request) {
	var req control.CIDRequest
	root, ok := n.decodeCID(w, r, &req)
	if !ok {
		return
	}
	ctx, cancel := fetchCtx(r.Context(), req.Timeout)
	defer cancel()
	sw := control.NewStreamWriter(w)
	progress, stop := progressTo(sw)
	err := n.share.Pin(ctx, root, share.FetchOptions{Progress: progress})
	stop()
	if err != nil {
		sw.Send(control.FetchEvent{Event: "error", Error: control.Message(ctx, err), Code: control.CodeOf(err)})
		return
	}
	sw.Send(control.FetchEvent{Event: "done"})
}

func (n *Node) handleProviders(w http.ResponseWriter, r *http.Request) {
	var req control.CIDRequest
	c, ok := n.decodeCID(w, r, &req)
	if !ok {
		return
	}
	d := req.Timeout
	if d <= 0 {
		d = defaultProvidersTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	out := []control.Provider{}
	seen := map[peer.ID]bool{}
	for ai := range n.router.FindProviders(ctx, c, maxProviders) {
		if seen[ai.ID] {
			continue
		}
		seen[ai.ID] = true
		p := control.Provider{ID: ai.ID.String()}
		for _, a := range ai.Addrs {
			p.Addrs = append(p.Addrs, a.String())
		}
		out = append(out, p)
	}
	n.api.Reply(w, r, out, nil)
}

// withOp runs h with the request's op and subject in its context (see
// control.WithOp), so its errors reach the client as one line naming them
// once. With peek, the subject is the "cid" of the JSON body, which is read
// (up to its cap) and handed on to h unchanged.
func (n *Node) withOp(op string, peek bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var subject, alias string
		if peek {
			data, err := io.ReadAll(io.LimitReader(r.Body, control.MaxRequestBytes+1))
			if err != nil {
				n.api.Reply(w, r, nil, control.Errorf(control.CodeBadRequest, "read request: %v", err))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(data))
			var v struct {
				CID string `json:"cid"`
			}
			if json.Unmarshal(data, &v) == nil {
				subject = v.CID
				if c, err := cid.Decode(v.CID); err == nil {
					alias = c.String()
				}
			}
		}
		h.ServeHTTP(w, r.WithContext(control.WithOp(r.Context(), op, subject, alias)))
	})
}
