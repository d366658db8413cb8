package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// ChildMain is the entry point of a sandbox child process: the enxame
// binary's hidden "sandbox-child" subcommand runs
//
//	os.Exit(sandbox.ChildMain(os.Stdin, os.Stdout))
//
// It reads the pool's init message from stdin, confines itself (on Linux:
// Landlock, for which it executes itself again, then no_new_privs, a
// seccomp filter and rlimits; see DESIGN.md, Isolation), answers ready on
// stdout, then runs one unit per run message and answers each with a
// result, until stdin ends. It returns the process's exit status: 0 when
// stdin ended cleanly, 1 on a protocol or setup error (reported on
// os.Stderr). It never writes anything but protocol frames to stdout.
// The re-execution needs stdin and stdout to be os.Stdin and os.Stdout;
// with other readers and writers the child runs without Landlock.
func ChildMain(stdin io.Reader, stdout io.Writer) int {
	if err := childMain(context.Background(), stdin, stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox child:", err)
		return 1
	}
	return 0
}

func childMain(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	init, isolation, err := isolateChild(stdin, stdout)
	if err != nil {
		return err
	}
	r, err := newRunner(ctx, runnerConfig{
		CacheDir:      init.CacheDir,
		MemoryMiB:     int(init.MemoryMiB),
		MaxCompiled:   int(init.MaxCompiled),
		MaxCacheBytes: int64(min(init.MaxCacheBytes, 1<<62)),
		// The parent kills this process KillGrace after a unit's deadline.
		ExternalDeadline: true,
	})
	if err != nil {
		return err
	}
	defer r.close(ctx)
	// The filter goes on once the runner is set up, before any unit is
	// read.
	isolation = strings.TrimSpace(isolation + " " + restrictProcess(init))
	if err := writeFrame(stdout, encodeReady(readyMsg{Version: protocolVersion, Isolation: clip(isolation, maxIsolationLen)})); err != nil {
		return fmt.Errorf("write ready: %w", err)
	}
	in := bufio.NewReaderSize(stdin, 64<<10)
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

// isolateChild reads the init message and confines the process's files
// (on Linux, by executing itself again: the second run takes the init from
// its environment). It returns the init and what confines the files. The
// init frame is read unbuffered, so that nothing after it is lost across
// the re-execution.
func isolateChild(stdin io.Reader, stdout io.Writer) (initMsg, string, error) {
	b, isolation, stage2, err := stage2Init()
	if err != nil {
		return initMsg{}, "", err
	}
	if !stage2 {
		limitChild()
		if b, err = readFrame(stdin, maxControlFrame); err != nil {
			return initMsg{}, "", fmt.Errorf("read init: %w", err)
		}
	}
	init, err := decodeInit(b)
	if err != nil {
		return initMsg{}, "", err
	}
	if init.Version != protocolVersion {
		return initMsg{}, "", fmt.Errorf("protocol version %d, want %d", init.Version, protocolVersion)
	}
	if !stage2 {
		own := stdin == io.Reader(os.Stdin) && stdout == io.Writer(os.Stdout)
		isolation = restrictFiles(init, b, own) // returns only without re-executing
	}
	return init, isolation, nil
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
