package node_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/control"
)

// hangDeadline bounds the add/stream tests: they pass in well under a
// second; reaching it means the exchange deadlocked (the server waiting
// for body bytes the client only sends after an event), not a slow machine.
const hangDeadline = 2 * time.Minute

// addStreamData is more than one put batch of the adder (16 chunks of
// 256 KiB), so the first half alone makes the server send a progress line.
var addStreamData = bytes.Repeat([]byte("0123456789abcdef"), 10<<20/16)

// pipeBody returns a request body fed by the test, closed with ctx's error
// when ctx ends so no write can block past the deadline.
func pipeBody(ctx context.Context, t *testing.T) (*io.PipeReader, *io.PipeWriter) {
	pr, pw := io.Pipe()
	stop := context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	t.Cleanup(func() { stop(); pw.Close() })
	return pr, pw
}

// TestAPIAddStreamFullDuplex (bug: "invalid Read on closed Body"):
// add/stream, as 'enxame add -' uses it, sends progress lines while the body
// is still arriving; an HTTP/1.1 server closed the request body when the
// first line went out, and the add failed. Here the client sends half the
// body, waits for a progress line, then sends the rest: the add must
// finish with the root of the whole body, over the socket and over TCP.
func TestAPIAddStreamFullDuplex(t *testing.T) {
	n, base := apiNode(t, nodetest.Config(t), node.Deps{})
	addr := strings.TrimPrefix(base, "http://")
	status, body := apiCall(t, "POST", base+control.PathAddStream, "Bearer "+n.APIToken(), "application/octet-stream", bytes.NewReader(addStreamData))
	want := doneRoot(t, status, body)

	for _, tc := range []struct {
		name string
		cl   *control.Client
	}{
		{"socket", control.NewClient(n.APISocket())},
		{"tcp", control.NewTCPClient(addr, n.APIToken())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.cl.Close()
			ctx, cancel := context.WithTimeout(t.Context(), hangDeadline)
			defer cancel()
			pr, pw := pipeBody(ctx, t)
			events := make(chan control.AddEvent, 64)
			errc := make(chan error, 1)
			go func() {
				defer close(events)
				errc <- tc.cl.StreamBody(ctx, control.PathAddStream, pr, func(line []byte) error {
					var ev control.AddEvent
					if err := json.Unmarshal(line, &ev); err != nil {
						return err
					}
					events <- ev
					return nil
				})
			}()
			half := len(addStreamData) / 2
			if _, err := pw.Write(addStreamData[:half]); err != nil {
				t.Fatalf("write the first half: %v", err)
			}
			first, ok := <-events
			if !ok {
				t.Fatalf("stream ended before any event: %v", <-errc)
			}
			if first.Event != "progress" {
				t.Fatalf("first event %+v, want progress", first)
			}
			if _, err := pw.Write(addStreamData[half:]); err != nil {
				t.Fatalf("write the second half after the first event: %v", err)
			}
			pw.Close()
			var last control.AddEvent
			for ev := range events {
				last = ev
			}
			if err := <-errc; err != nil {
				t.Fatalf("add/stream: %v", err)
			}
			if ctx.Err() != nil {
				t.Fatalf("add/stream hung until the deadline (%v)", hangDeadline)
			}
			if last.Event != "done" || last.Root != want || last.Bytes != int64(len(addStreamData)) {
				t.Fatalf("last event %+v, want done with root %s and %d bytes", last, want, len(addStreamData))
			}
		})
	}
}

// TestAPIAddStreamHeadersFirst: add/stream answers with its headers before
// it has read any of the body, so a client that streams the body and waits
// for the response (http.Client.Do) before sending more does not deadlock.
func TestAPIAddStreamHeadersFirst(t *testing.T) {
	n, base := apiNode(t, nodetest.Config(t), node.Deps{})
	ctx, cancel := context.WithTimeout(t.Context(), hangDeadline)
	defer cancel()
	pr, pw := pipeBody(ctx, t)
	req, err := http.NewRequestWithContext(ctx, "POST", base+control.PathAddStream, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+n.APIToken())
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("Do before any body byte was sent: %v (a deadline here means the headers never came)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := pw.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	sc := bufio.NewScanner(resp.Body)
	var last control.AddEvent
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("event %q: %v", sc.Bytes(), err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read events: %v", err)
	}
	if last.Event != "done" || last.Bytes != 6 {
		t.Fatalf("last event %+v, want done with 6 bytes", last)
	}
}

// doneRoot returns the root of the done event of an add/stream answer.
func doneRoot(t *testing.T, status int, body []byte) string {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("add: %d %s", status, body)
	}
	for line := range bytes.Lines(body) {
		var ev control.AddEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		if ev.Event == "done" {
			return ev.Root
		}
	}
	t.Fatalf("no done event in %s", body)
	return ""
}
