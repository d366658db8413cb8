package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/enxame/enxame/node/control"
)

// exitInterrupted: a second interrupt ended compute run before the job
// did (128 + SIGINT, as shells report it).
const exitInterrupted = 130

// errInterruptedTwice is the cause of followJob's context ending on a
// second interrupt.
var errInterruptedTwice = errors.New("interrupted twice")

// followJob returns the context compute run follows job under (watching
// it, waiting for it and writing its result), which the first interrupt
// does not end, and end, to call with follow's error once done. The first
// interrupt (ctx ending, as Main's SIGINT and SIGTERM do, or one of those
// signals) cancels the job through the daemon, and the follower then sees
// it end as cancelled (exit 3); a second signal ends the returned context
// at once, leaving the job to the swarm, and end returns exit 130.
func followJob(ctx context.Context, e *env, cl *control.Client, job string) (context.Context, func(error) error) {
	// Main's signal.NotifyContext turns the first signal into ctx ending
	// and swallows later ones: count them here too.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)

	jobCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	done, first := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // count interrupts
		defer wg.Done()
		signals, ctxDone, ended := 0, ctx.Done(), false
		level := 0
		for level < 2 {
			select {
			case <-done:
				return
			case <-ctxDone:
				ctxDone, ended = nil, true
			case <-sigs:
				signals++
			}
			// ctx ending and the signal that ended it are one interrupt.
			n := signals
			if ended {
				n = max(n, 1)
			}
			if level == 0 && n >= 1 {
				close(first)
			}
			level = n
		}
		cancel(errInterruptedTwice)
	}()
	go func() { // cancel the job on the first interrupt
		defer wg.Done()
		select {
		case <-done:
			return
		case <-first:
		}
		fmt.Fprintf(e.stderr, "\ncancelling job %s… (interrupt again to exit and leave it running)\n", job)
		var res control.SubmitResult
		if err := cl.Do(jobCtx, "POST", control.PathCancel, control.JobRequest{Job: job}, &res); err != nil && jobCtx.Err() == nil {
			// Most likely the job ended meanwhile: the follower says how.
			fmt.Fprintf(e.stderr, "cancel job %s: %s\n", job, oneLine(e.apiErr(err)))
		}
	}()
	end := func(err error) error {
		close(done)
		cancel(context.Canceled)
		wg.Wait()
		signal.Stop(sigs)
		if err != nil && errors.Is(context.Cause(jobCtx), errInterruptedTwice) {
			return codeError{exitInterrupted, fmt.Errorf("interrupted: job %s may still be running (see 'enxame compute status %s', 'enxame compute cancel %s')", job, job, job)}
		}
		return err
	}
	return jobCtx, end
}

// syncStderr returns e, or a copy whose stderr takes one write at a time
// when it is not a file (whose writes are safe already): followJob's
// goroutines write to it beside the command's own output.
func syncStderr(e *env) *env {
	if _, ok := e.stderr.(*os.File); ok {
		return e
	}
	c := *e
	c.stderr = &syncWriter{w: e.stderr}
	return &c
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
