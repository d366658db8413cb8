package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// ChildMain is the entry point of a sandbox child process: the enxame
// binary's hidden "sandbox-child" subcommand runs
//
//	os.Exit(sandbox.ChildMain(os.Stdin, os.Stdout))
//
// It reads the pool's init message from stdin, answers ready on stdout, then
// runs one unit per run message and answers each with a result, until stdin
// ends. It returns the process's exit status: 0 when stdin ended cleanly,
// 1 on a protocol or setup error (reported on os.Stderr). It never writes
// anything but protocol frames to stdout.
func ChildMain(stdin io.Reader, stdout io.Writer) int {
	if err := childMain(context.Background(), stdin, stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox child:", err)
		return 1
	}
	return 0
}

func childMain(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	limitChild()
	in := bufio.NewReaderSize(stdin, 64<<10)
	b, err := readFrame(in, maxControlFrame)
	if err != nil {
		return fmt.Errorf("read init: %w", err)
	}
	init, err := decodeInit(b)
	if err != nil {
		return err
	}
	if init.Version != protocolVersion {
		return fmt.Errorf("protocol version %d, want %d", init.Version, protocolVersion)
	}
	r, err := newRunner(ctx, runnerConfig{
		CacheDir:    init.CacheDir,
		MemoryMiB:   int(init.MemoryMiB),
		MaxCompiled: int(init.MaxCompiled),
		// The parent kills this process KillGrace after a unit's deadline.
		ExternalDeadline: true,
	})
	if err != nil {
		return err
	}
	defer r.close(ctx)
	if err := writeFrame(stdout, encodeReady(readyMsg{Version: protocolVersion})); err != nil {
		return fmt.Errorf("write ready: %w", err)
	}
	for {
		b, err := readFrame(in, maxRunFrame)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read run: %w", err)
		}
		m, err := decodeRun(b)
		if err != nil {
			return err
		}
		res, crashed := runGuarded(ctx, r, m)
		if err := writeFrame(stdout, encodeResult(res)); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
		if crashed {
			return errors.New("runner panicked; exiting so that the pool replaces this child")
		}
		if len(res.Stdout) > 8<<20 {
			debug.FreeOSMemory() // give a big output's memory back while idle
		}
	}
}

// runGuarded runs m, turning a panic in wazero or the runner into a crash
// result.
func runGuarded(ctx context.Context, r *runner, m runMsg) (res resultMsg, crashed bool) {
	defer func() {
		if p := recover(); p != nil {
			res = resultMsg{ID: m.ID}.fail(ReasonCrash, fmt.Sprintf("sandbox panic: %v", p))
			crashed = true
		}
	}()
	return r.run(ctx, m), false
}
