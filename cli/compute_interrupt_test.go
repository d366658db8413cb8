//go:build unix

package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/enxame/enxame/node/control"
)

// TestFollowJobInterrupts: the first SIGINT while compute run follows a
// job asks the daemon to cancel it (saying so) and keeps following; a
// second SIGINT ends the follow at once, exit 130, though the daemon has
// not answered.
func TestFollowJobInterrupts(t *testing.T) {
	dir, err := os.MkdirTemp("", "fj") // short: a socket path has a length cap
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	cancels, release := make(chan string, 1), make(chan struct{})
	var handlers sync.WaitGroup
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		if r.URL.Path == control.PathCancel {
			cancels <- r.URL.Path
			<-release // a daemon slow to confirm
		}
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		close(release)
		srv.Close()
		handlers.Wait()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	cl := control.NewClient(sock)
	defer cl.Close()

	var stderr bytes.Buffer
	e := syncStderr(&env{stderr: &stderr, stdout: &bytes.Buffer{}})
	ctx, end := followJob(t.Context(), e, cl, "0123abcd")
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-cancels
	if ctx.Err() != nil {
		t.Fatalf("the first interrupt ended the follow: %v", context.Cause(ctx))
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	err = end(ctx.Err())
	var ce codeError
	if !errors.As(err, &ce) || ce.code != exitInterrupted || !strings.Contains(err.Error(), "0123abcd") {
		t.Errorf("end after two interrupts = %v, want exit %d naming the job", err, exitInterrupted)
	}
	if s := e.stderr.(*syncWriter); !strings.Contains(stderrText(s), "cancelling job 0123abcd") {
		t.Errorf("stderr %q, want 'cancelling job 0123abcd'", stderrText(s))
	}
}

func stderrText(s *syncWriter) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.(*bytes.Buffer).String()
}
