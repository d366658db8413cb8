package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// MaxRequestBytes caps a request body; larger bodies are rejected before
// they are buffered whole.
const MaxRequestBytes = 64 << 10

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
}

// NewServer returns a server for b. A nil logger discards logs.
func NewServer(b Backend, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{b: b, log: log.With("component", "control"), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /api/v0/id", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.b.ID()) })
	s.mux.HandleFunc("GET /api/v0/peers", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.b.Peers()) })
	s.mux.HandleFunc("GET /api/v0/dht/table", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.b.Table()) })
	s.mux.HandleFunc("GET /api/v0/status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.b.Status()) })
	s.mux.HandleFunc("GET /api/v0/version", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.b.Version()) })
	s.mux.HandleFunc("POST /api/v0/connect", func(w http.ResponseWriter, r *http.Request) {
		var req ConnectRequest
		if !s.decode(w, r, &req) {
			return
		}
		res, err := s.b.Connect(r.Context(), req)
		s.reply(w, r, res, err)
	})
	s.mux.HandleFunc("POST /api/v0/dht/find-peer", func(w http.ResponseWriter, r *http.Request) {
		var req FindPeerRequest
		if !s.decode(w, r, &req) {
			return
		}
		res, err := s.b.FindPeer(r.Context(), req)
		s.reply(w, r, res, err)
	})
	return s
}

// Handle registers an extra route on the server (for services that node
// wires in). It must be called before Serve.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve serves on ln until ctx ends, then shuts down, waiting up to 2s for
// requests in flight. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
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
		writeJSON(w, http.StatusBadRequest, Error{Error: err.Error(), Code: CodeBadRequest})
		return false
	}
	return true
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	code, status := CodeInternal, http.StatusInternalServerError
	var ce *CodedError
	switch {
	case errors.As(err, &ce):
		code = ce.Code
		status = statusFor(code)
	case errors.Is(err, context.DeadlineExceeded):
		code, status = CodeTimeout, http.StatusGatewayTimeout
	}
	if status == http.StatusInternalServerError {
		s.log.Error("request", "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, Error{Error: err.Error(), Code: code})
}

func statusFor(code string) int {
	switch code {
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
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if len(data) > MaxRequestBytes {
		return fmt.Errorf("request body over %d bytes", MaxRequestBytes)
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

// Reply answers with v as JSON, or with err as an Error whose status follows
// its code (see CodedError), for a handler registered with Handle.
func (s *Server) Reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	s.reply(w, r, v, err)
}
