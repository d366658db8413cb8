package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
)

// ErrNoDaemon is returned by Client calls when no daemon listens on the
// socket (or the TCP address).
var ErrNoDaemon = errors.New("control: no daemon running")

// APIError is a non-2xx answer from the daemon: its HTTP status and the
// typed error of its body (ErrorBody). Programs branch on Code, never on
// the message.
type APIError struct {
	Status int
	Code   string
	Msg    string
}

func (e *APIError) Error() string { return e.Msg }

// Client talks to a daemon's control API over its unix socket or over TCP
// with a token. It is safe for concurrent use.
type Client struct {
	socket string // the unix socket, or "" over TCP
	addr   string // host:port over TCP
	token  string
	hc     *http.Client
}

// NewClient returns a client for the daemon listening on socket. It does not
// connect until the first call.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
	}
	return &Client{socket: socket, hc: &http.Client{Transport: tr}}
}

// NewTCPClient returns a client for the daemon's API at addr (host:port)
// that sends token as "Authorization: Bearer TOKEN". It does not connect
// until the first call.
func NewTCPClient(addr, token string) *Client {
	tr := &http.Transport{
		DialContext:        (&net.Dialer{}).DialContext,
		DisableCompression: true,
	}
	return &Client{addr: addr, token: token, hc: &http.Client{Transport: tr}}
}

// Close closes the client's idle connections to the daemon.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Socket is the path the client dials, or "" over TCP.
func (c *Client) Socket() string { return c.socket }

// target names where the client dials, for error messages.
func (c *Client) target() string {
	if c.socket != "" {
		return "socket " + c.socket
	}
	return "address " + c.addr
}

// url is the URL of path on the daemon.
func (c *Client) url(path string) string {
	if c.socket != "" {
		return "http://enxame" + path
	}
	return "http://" + c.addr + path
}

// ID returns the daemon's identity and addresses.
func (c *Client) ID(ctx context.Context) (ID, error) {
	var v ID
	return v, c.do(ctx, http.MethodGet, PathID, nil, &v)
}

// Peers lists connected peers.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	var v []Peer
	return v, c.do(ctx, http.MethodGet, PathPeers, nil, &v)
}

// Connect asks the daemon to connect to addr (a multiaddr with /p2p/).
func (c *Client) Connect(ctx context.Context, addr string) (ConnectResult, error) {
	var v ConnectResult
	return v, c.do(ctx, http.MethodPost, PathConnect, ConnectRequest{Addr: addr}, &v)
}

// FindPeer asks the daemon to look a peer up in the DHT.
func (c *Client) FindPeer(ctx context.Context, req FindPeerRequest) (FindPeerResult, error) {
	var v FindPeerResult
	return v, c.do(ctx, http.MethodPost, PathFindPeer, req, &v)
}

// Table returns the DHT routing table.
func (c *Client) Table(ctx context.Context) ([]Bucket, error) {
	var v []Bucket
	return v, c.do(ctx, http.MethodGet, PathTable, nil, &v)
}

// Status returns the daemon's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var v Status
	return v, c.do(ctx, http.MethodGet, PathStatus, nil, &v)
}

// Version returns the daemon's version.
func (c *Client) Version(ctx context.Context) (Version, error) {
	var v Version
	return v, c.do(ctx, http.MethodGet, PathVersion, nil, &v)
}

// ComputeLogs returns the kept logs of a job's runs (PathLogs).
func (c *Client) ComputeLogs(ctx context.Context, req LogsRequest) (LogsResult, error) {
	var v LogsResult
	return v, c.do(ctx, http.MethodPost, PathLogs, req, &v)
}

// Do sends a request with an optional JSON body and decodes a JSON answer
// into out (unless nil). It is the building block for service routes.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.do(ctx, method, path, in, out)
}

// Stream sends a request and calls fn with each NDJSON line of the answer
// (the slice is reused after fn returns). It returns fn's first error.
func (c *Client) Stream(ctx context.Context, method, path string, in any, fn func(line []byte) error) error {
	resp, err := c.send(ctx, method, path, in, "application/x-ndjson")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return readLines(path, resp.Body, fn)
}

func readLines(path string, r io.Reader, fn func(line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read stream %s: %w", path, err)
	}
	return nil
}

// StreamBody is Stream with a raw request body (for uploads such as stdin
// or a CAR file) and a query string appended to path.
func (c *Client) StreamBody(ctx context.Context, path string, body io.Reader, fn func(line []byte) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(path), body)
	if err != nil {
		return fmt.Errorf("build request to %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := c.roundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return readLines(path, resp.Body, fn)
}

// DoBody sends a raw request body (such as a CAR file) to path and decodes
// the JSON answer into out.
func (c *Client) DoBody(ctx context.Context, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(path), body)
	if err != nil {
		return fmt.Errorf("build request to %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", "application/json")
	resp, err := c.roundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer to %s: %w", path, err)
	}
	return nil
}

// Raw sends a request and returns the response body for the caller to read
// and close (for byte streams such as file contents).
func (c *Client) Raw(ctx context.Context, method, path string, in any) (io.ReadCloser, error) {
	resp, err := c.send(ctx, method, path, in, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer to %s: %w", path, err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, in any, accept string) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request to %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), body)
	if err != nil {
		return nil, fmt.Errorf("build request to %s: %w", path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return c.roundTrip(req)
}

// roundTrip sends req and turns transport failures and non-2xx answers
// into errors.
func (c *Client) roundTrip(req *http.Request) (*http.Response, error) {
	method, path := req.Method, req.URL.Path
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if isNoDaemon(err) {
			return nil, fmt.Errorf("%w (%s)", ErrNoDaemon, c.target())
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var e ErrorResponse
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(data, &e) != nil || e.Error.Message == "" {
			e.Error.Message = fmt.Sprintf("%s %s: %s", method, path, resp.Status)
		}
		return nil, &APIError{Status: resp.StatusCode, Code: e.Error.Code, Msg: e.Error.Message}
	}
	return resp, nil
}

func isNoDaemon(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT) ||
		errors.Is(err, syscall.ECONNREFUSED)
}
