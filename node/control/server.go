package control

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// MaxRequestBytes caps a request body; larger bodies are rejected before
// they are buffered whole (413, code too_large). Uploads (file contents, a
// CAR, a module) stream with their own caps.
const MaxRequestBytes = 64 << 10

// ErrTooLarge is a request body over its cap.
var ErrTooLarge = errors.New("control: request body too large")

// CodedError is an error the server reports with a given code (and the
// matching HTTP status). Backends return one (via Errorf) for errors that are
// the caller's fault or an expected outcome, such as "not found".
type CodedError struct {
	Code string
	Err  error
}

func (e *CodedError) Error() string { return e.Err.Error() }
func (e *CodedError) Unwrap() error { return e.Err }

// Errorf builds a *CodedError with a formatted message (%w allowed).
func Errorf(code, format string, args ...any) error {
	return &CodedError{Code: code, Err: fmt.Errorf(format, args...)}
}

// Backend is what the server exposes. node implements it. Methods must be
// safe for concurrent use; those taking ctx may block until it ends.
type Backend interface {
	ID() ID
	Peers() []Peer
	Connect(ctx context.Context, req ConnectRequest) (ConnectResult, error)
	FindPeer(ctx context.Context, req FindPeerRequest) (FindPeerResult, error)
	Table() []Bucket
	Status() Status
	Version() Version
}

// Server serves the control API over HTTP/JSON.
type Server struct {
	b   Backend
	log *slog.Logger
	mux *http.ServeMux

	mu     sync.Mutex
	routes []string        // patterns registered, "METHOD /path"
	paths  map[string]bool // paths of routes, for 405 vs 404
	public map[string]bool // patterns served without a token
}

// NewServer returns a server for b. A nil logger discards logs.
func NewServer(b Backend, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{b: b, log: log.With("component", "control"), mux: http.NewServeMux(),
		paths: map[string]bool{}, public: map[string]bool{}}
	s.handleFunc("GET "+PathID, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.b.ID()) })
	s.handleFunc("GET "+PathPeers, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.b.Peers()) })
	s.handleFunc("GET "+PathTable, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.b.Table()) })
	s.handleFunc("GET "+PathStatus, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.b.Status()) })
	s.handleFunc("GET "+PathVersion, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.b.Version()) })
	s.handleFunc("GET "+PathOpenAPI, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(OpenAPI())
	})
	s.handleFunc("POST "+PathConnect, func(w http.ResponseWriter, r *http.Request) {
		var req ConnectRequest
		if !s.decode(w, r, &req) {
			return
		}
		res, err := s.b.Connect(r.Context(), req)
		s.reply(w, r, res, err)
	})
	s.handleFunc("POST "+PathFindPeer, func(w http.ResponseWriter, r *http.Request) {
		var req FindPeerRequest
		if !s.decode(w, r, &req) {
			return
		}
		res, err := s.b.FindPeer(r.Context(), req)
		s.reply(w, r, res, err)
	})
	// Unknown routes under /api/ answer a typed error too.
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		known := s.paths[r.URL.Path]
		s.mu.Unlock()
		if known {
			writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed", r.Method, r.URL.Path))
			return
		}
		writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})
	return s
}

func (s *Server) handleFunc(pattern string, h http.HandlerFunc) { s.Handle(pattern, h) }

// Handle registers an extra route on the server (for services that node
// wires in). pattern is "METHOD /path". It must be called before Serve.
// Served on TCP (ServeAuth), the route needs the API token.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mu.Lock()
	s.routes = append(s.routes, pattern)
	if _, path, ok := strings.Cut(pattern, " "); ok {
		s.paths[path] = true
	}
	s.mu.Unlock()
	s.mux.Handle(pattern, h)
}

// HandlePublic registers a route that ServeAuth serves without the token
// (for a page that asks its user for the token, such as a dashboard). It
// must not be under /api/ and must be called before Serve.
func (s *Server) HandlePublic(pattern string, h http.Handler) {
	s.mu.Lock()
	s.public[pattern] = true
	s.mu.Unlock()
	s.Handle(pattern, h)
}

// Routes returns the patterns registered ("METHOD /path"), in order.
func (s *Server) Routes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.routes)
}

// ServeHTTP makes Server an http.Handler (with no token check).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Authenticated returns s as a handler that requires "Authorization:
// Bearer TOKEN" on every route but those registered with HandlePublic,
// answering 401 (code unauthorized) otherwise. The token is compared in
// constant time. An empty token refuses every request but public ones.
func (s *Server) Authenticated(token string) http.Handler {
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.mux.Handler(r); pattern != "" {
			s.mu.Lock()
			pub := s.public[pattern]
			s.mu.Unlock()
			if pub {
				s.mux.ServeHTTP(w, r)
				return
			}
		}
		got, ok := bearer(r.Header.Get("Authorization"))
		if !ok || len(want) == 0 || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="enxame"`)
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "missing or wrong API token (see 'enxame api token')")
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// Serve serves on ln (the unix socket: no token) until ctx ends, then
// shuts down, waiting up to 2s for requests in flight. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s)
}

// ServeAuth is Serve for a TCP listener: every request but public routes
// needs the bearer token (see Authenticated).
func (s *Server) ServeAuth(ctx context.Context, ln net.Listener, token string) error {
	return s.serve(ctx, ln, s.Authenticated(token))
}

func (s *Server) serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("control: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := DecodeRequest(http.MaxBytesReader(w, r.Body, MaxRequestBytes), v); err != nil {
		if errors.Is(err, ErrTooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, err.Error())
			return false
		}
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return false
	}
	return true
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	err = describe(r.Context(), err)
	code := CodeOf(err)
	status := statusFor(code)
	if status == http.StatusInternalServerError {
		s.log.Error("request", "path", r.URL.Path, "err", err)
	}
	writeError(w, status, code, err.Error())
}

// CodeOf is the error code of err: a *CodedError's code, timeout for a
// deadline, else internal.
func CodeOf(err error) string {
	var ce *CodedError
	switch {
	case errors.As(err, &ce):
		return ce.Code
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	}
	return CodeInternal
}

// writeError answers with a typed error body.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, ErrorResponse{Error: ErrorBody{Code: code, Message: msg}})
}

// statusFor is the HTTP status of an error code.
func statusFor(code string) int {
	switch code {
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeNotImplemented:
		return http.StatusNotImplemented
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeConflict:
		return http.StatusConflict
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeNotFound:
		return http.StatusNotFound
	case CodeTimeout:
		return http.StatusGatewayTimeout
	case CodeUnreached:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// DecodeRequest decodes one JSON object from r into v: unknown fields,
// trailing data and bodies over MaxRequestBytes are errors.
func DecodeRequest(r io.Reader, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxRequestBytes+1))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || len(data) > MaxRequestBytes {
		return fmt.Errorf("%w: over %d bytes", ErrTooLarge, MaxRequestBytes)
	}
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode request: %w", err)
	}
	if dec.More() {
		return errors.New("decode request: trailing data after the JSON object")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// StreamWriter writes NDJSON events to a streaming response, flushing each.
type StreamWriter struct {
	w   http.ResponseWriter
	enc *json.Encoder
	rc  *http.ResponseController
}

// NewStreamWriter starts an NDJSON response on w.
func NewStreamWriter(w http.ResponseWriter) *StreamWriter {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	return &StreamWriter{w: w, enc: json.NewEncoder(w), rc: http.NewResponseController(w)}
}

// Send writes one event and flushes it to the client.
func (sw *StreamWriter) Send(v any) error {
	if err := sw.enc.Encode(v); err != nil {
		return fmt.Errorf("control: stream: %w", err)
	}
	if err := sw.rc.Flush(); err != nil {
		return fmt.Errorf("control: stream flush: %w", err)
	}
	return nil
}

// Decode decodes the request body into v for a handler registered with
// Handle. On failure it answers 400 and returns false.
func (s *Server) Decode(w http.ResponseWriter, r *http.Request, v any) bool { return s.decode(w, r, v) }

// WriteError answers with a typed error body (ErrorResponse) of code, with
// the status the code maps to, for a handler registered with Handle.
func WriteError(w http.ResponseWriter, code, msg string) { writeError(w, statusFor(code), code, msg) }

// Reply answers with v as JSON, or with err as an Error whose status follows
// its code (see CodedError), for a handler registered with Handle.
func (s *Server) Reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	s.reply(w, r, v, err)
}
