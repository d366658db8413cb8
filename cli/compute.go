package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/control"
	"github.com/ipfs/go-cid"
	"github.com/spf13/cobra"
)

type jobFlags struct {
	inputs     []string
	split      int
	splitLines int
	rangeSpec  string
	eachInput  bool
	args       []string
	replicas   int
	trust      string
	timeout    time.Duration
	memory     int
	reduce     string
	reduceArgs []string
	// script and reduceScript are --script and --reduce-script (script.go).
	script, reduceScript string
}

func (f *jobFlags) add(c *cobra.Command) {
	fl := c.Flags()
	fl.StringArrayVar(&f.inputs, "input", nil, "an input file or CID (repeatable)")
	fl.IntVar(&f.split, "split", 0, "cut the input into N parts of equal size, one unit each")
	fl.IntVar(&f.splitLines, "split-lines", 0, "cut the input into units of N lines each, like split -l N (the last unit takes the rest)")
	fl.StringVar(&f.rangeSpec, "range", "", "A:B/N: N units, each given 'lo hi' of one N-th of [A, B) as arguments")
	fl.BoolVar(&f.eachInput, "each-input", false, "one unit per input")
	fl.StringArrayVar(&f.args, "arg", nil, "an argument for every unit (repeatable)")
	fl.IntVar(&f.replicas, "replicas", 0, "the trust setting: run each unit on k distinct workers and accept the output a majority of them agree on; 1 takes one worker's word unchecked (default: the daemon's compute.replicas, 1)")
	fl.StringVar(&f.trust, "trust", "", "the trust setting by name: one (1 replica: one worker's word), pair (2 replicas that must agree, BOINC's usual quorum) or majority (3 replicas, 2 must agree)")
	fl.DurationVar(&f.timeout, "timeout", 0, "each unit's wall time (default 60s)")
	fl.IntVar(&f.memory, "memory", 0, "each unit's memory cap in MiB (default 256)")
	fl.StringVar(&f.reduce, "reduce", "", "a module (file or CID) run last over every unit's output")
	fl.StringArrayVar(&f.reduceArgs, "reduce-arg", nil, "an argument for the reduce unit (repeatable)")
	fl.StringVar(&f.script, "script", "", "run this script (.star Starlark, .js JavaScript) instead of a module; see docs/scripts.md")
	fl.StringVar(&f.reduceScript, "reduce-script", "", "a script (.star, .js) run last over every unit's output, instead of --reduce")
}

// request builds the submit request, adding local files to the swarm.
func (f *jobFlags) request(ctx context.Context, e *env, cl *control.Client, module string) (control.SubmitRequest, error) {
	var req control.SubmitRequest
	n := 0
	for _, set := range []bool{f.split > 0, f.splitLines > 0, f.rangeSpec != "", f.eachInput} {
		if set {
			n++
		}
	}
	if n > 1 {
		return req, usageError{errors.New("use one of --split, --split-lines, --range and --each-input")}
	}
	if f.split < 0 || f.splitLines < 0 || f.replicas < 0 || f.memory < 0 || f.timeout < 0 {
		return req, usageError{errors.New("--split, --split-lines, --memory and --timeout must be >= 0, --replicas >= 1")}
	}
	replicas, err := f.trustReplicas()
	if err != nil {
		return req, err
	}
	switch {
	case f.split > 0:
		req.Split, req.N = "bytes", f.split
	case f.splitLines > 0:
		req.Split, req.N = "lines-per-unit", f.splitLines
	case f.eachInput:
		req.Split = "each"
	case f.rangeSpec != "":
		n, from, to, err := node.ParseRange(f.rangeSpec)
		if err != nil {
			return req, usageError{fmt.Errorf("--range %q: %v", f.rangeSpec, err)}
		}
		req.Split, req.N, req.From, req.To = "range", n, from, to
	}
	if (req.Split == "bytes" || req.Split == "lines") && len(f.inputs) != 1 {
		return req, usageError{fmt.Errorf("--split and --split-lines cut exactly one --input, got %d", len(f.inputs))}
	}
	if req.Split == "lines-per-unit" {
		if err := checkSplitLines(f.inputs[0], f.splitLines); err != nil {
			return req, err
		}
	}
	var modArgs, redArgs []string
	if req.Module, modArgs, err = moduleOrScript(ctx, e, cl, module, f.script, "--script"); err != nil {
		return req, err
	}
	names, err := inputNames(f.inputs)
	if err != nil {
		return req, err
	}
	for _, in := range f.inputs {
		c, err := resolveContent(ctx, e, cl, in)
		if err != nil {
			return req, err
		}
		req.Inputs = append(req.Inputs, c)
	}
	if names != nil {
		// A CID input among files is named by its CID.
		for i, n := range names {
			if n == "" {
				names[i] = req.Inputs[i]
			}
		}
		req.InputNames = names
	}
	if f.reduce != "" || f.reduceScript != "" {
		if req.Reduce, redArgs, err = moduleOrScript(ctx, e, cl, f.reduce, f.reduceScript, "--reduce-script"); err != nil {
			return req, err
		}
	}
	req.Args, req.Replicas, req.Timeout, req.MemoryMiB, req.ReduceArgs =
		append(modArgs, f.args...), replicas, f.timeout, f.memory, append(redArgs, f.reduceArgs...)
	return req, nil
}

// inputNames returns the names units see the inputs under: a file's base
// name, "" for a CID; nil when no input is a file (units then see
// /input/000000, ...). Two files of the same name are a usage error.
func inputNames(inputs []string) ([]string, error) {
	names := make([]string, len(inputs))
	seen := map[string]string{}
	files := false
	for i, in := range inputs {
		if _, err := os.Stat(in); err != nil {
			continue
		}
		files = true
		n := filepath.Base(filepath.Clean(in))
		if prev, ok := seen[n]; ok {
			return nil, usageError{fmt.Errorf("--input %s and --input %s have the same name %q under /input: rename one", prev, in, n)}
		}
		seen[n] = in
		names[i] = n
	}
	if !files {
		return nil, nil
	}
	return names, nil
}

// trustLevels are --trust's names and their replicas.
var trustLevels = map[string]int{"one": 1, "pair": 2, "majority": 3}

// trustReplicas returns the replicas --replicas or --trust ask for; 0 when
// neither is given (the daemon's compute.replicas then).
func (f *jobFlags) trustReplicas() (int, error) {
	if f.trust == "" {
		return f.replicas, nil
	}
	k, ok := trustLevels[f.trust]
	if !ok {
		return 0, usageError{fmt.Errorf("--trust %q: want one, pair or majority", f.trust)}
	}
	if f.replicas != 0 && f.replicas != k {
		return 0, usageError{fmt.Errorf("--trust %s means --replicas %d, not %d: give one of them", f.trust, k, f.replicas)}
	}
	return k, nil
}

// trustNotice says on stderr, once, that a job whose trust was not chosen
// takes one worker's word per unit unverified: the user chose by giving
// --replicas or --trust (--trust one keeps the default and silences this).
func trustNotice(ctx context.Context, e *env, cl *control.Client, f *jobFlags, job string) {
	if f.replicas != 0 || f.trust != "" {
		return
	}
	var info control.Job
	if err := cl.Do(ctx, "POST", control.PathJob, control.JobRequest{Job: job}, &info); err != nil || info.Spec.Replicas > 1 {
		return
	}
	fmt.Fprintln(e.stderr, "note: each unit runs on one worker, whose output is accepted unchecked; --trust pair or majority (--replicas 2, 3) makes workers vote, --trust one hides this note")
}

// resolveContent returns s when it is a CID and no file of that name
// exists; otherwise it adds the file and returns its CID.
func resolveContent(ctx context.Context, e *env, cl *control.Client, s string) (string, error) {
	if _, err := os.Stat(s); err != nil {
		if _, cerr := cid.Decode(s); cerr == nil {
			return s, nil
		}
		return "", fmt.Errorf("%s: %w (neither a file nor a CID)", s, unwrapPath(err))
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		return "", err
	}
	var root string
	err = cl.Stream(ctx, "POST", control.PathAdd, control.AddRequest{Paths: []string{abs}}, func(line []byte) error {
		var ev control.AddEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return err
		}
		switch ev.Event {
		case "error":
			return errors.New(ev.Error)
		case "done":
			root = ev.Root
		}
		return nil
	})
	if err != nil {
		return "", e.apiErr(fmt.Errorf("add %s: %w", s, err))
	}
	return root, nil
}

func newComputeCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "compute",
		Short: "Publish WebAssembly jobs to the swarm and follow them",
	}
	c.AddCommand(newComputeRunCmd(e), newComputeSubmitCmd(e), newComputeStatusCmd(e), newComputeResultCmd(e),
		newComputeCancelCmd(e), newComputeListCmd(e), newComputeWorkersCmd(e), newComputeWhyCmd(e),
		newComputeLogsCmd(e))
	return c
}

func newComputeRunCmd(e *env) *cobra.Command {
	var f jobFlags
	var out string
	var quiet, verbose, detach bool
	c := &cobra.Command{
		Use:   "run MODULE.wasm|CID | --script FILE",
		Short: "Run a job on the swarm, show its progress and print the result",
		Long: `run publishes a job (a WASI module plus inputs, split into work units) to the
swarm, places each unit on the most available worker, shows one progress
line on a terminal (every unit's events with --verbose, as NDJSON on stdout
with --json), and prints the result: a single unit's stdout, the reduce
unit's output, or every unit's output in unit order. With -o DIR and no
reduce, each unit's output is written to DIR/NAME (its input's name with
--each-input, else its index). The job's result directory, which anyone can
'enxame get', is named on stderr.

Inputs given as files keep their names: a unit sees --input a.txt as
/input/a.txt (inputs given as CIDs alone are /input/000000, ...).

With --script FILE (a .star Starlark or .js JavaScript file) the job runs
the script in a runtime module instead of a module of your own.

Ctrl-C (SIGINT or SIGTERM) cancels the job and waits for the daemon to
confirm it (exit 3); a second Ctrl-C exits at once (130) and leaves the job
running. With --detach, run prints the job's ID and returns at once.

Exit status: 0 done, 1 failed, 2 usage, 3 cancelled, 130 interrupted twice.`,
		Args: moduleArgs,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			e := syncStderr(e)
			cl, err := e.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			req, err := f.request(ctx, e, cl, firstArg(args))
			if err != nil {
				return err
			}
			var sub control.SubmitResult
			if err := cl.Do(ctx, "POST", control.PathSubmit, req, &sub); err != nil {
				return e.apiErr(fmt.Errorf("submit: %w", err))
			}
			if detach {
				trustNotice(ctx, e, cl, &f, sub.Job)
				if e.json {
					return e.printJSON(sub)
				}
				fmt.Fprintln(e.stdout, sub.Job)
				return nil
			}
			if !e.json && !quiet {
				fmt.Fprintf(e.stderr, "job %s\n", sub.Job)
			}
			trustNotice(ctx, e, cl, &f, sub.Job)
			// From here Ctrl-C cancels the job rather than abandoning it.
			ctx, endFollow := followJob(ctx, e, cl, sub.Job)
			defer func() { err = endFollow(err) }()
			total := 0
			var first control.Job
			if err := cl.Do(ctx, "POST", control.PathJob, control.JobRequest{Job: sub.Job}, &first); err == nil {
				total = len(first.Units)
			}
			prog := newJobProgress(total)
			bar := newProgressLine(e.stderr)
			bar.on = bar.on && !e.json && !quiet && !verbose
			start := time.Now()
			err = cl.Stream(ctx, "POST", control.PathWatch, control.JobRequest{Job: sub.Job}, func(line []byte) error {
				if e.json {
					fmt.Fprintf(e.stdout, "%s\n", line)
					return nil
				}
				if quiet {
					return nil
				}
				var ev control.Event
				if err := json.Unmarshal(line, &ev); err != nil {
					return fmt.Errorf("decode event: %w", err)
				}
				prog.observe(ev)
				if verbose {
					fmt.Fprintf(e.stderr, "%6.1fs  %s\n", time.Since(start).Seconds(), describeEvent(ev))
				}
				bar.draw(false, "%s", prog.line(time.Since(start)))
				return nil
			})
			bar.draw(true, "%s", prog.line(time.Since(start)))
			bar.done()
			if err != nil {
				return e.apiErr(fmt.Errorf("watch job %s: %w", sub.Job, err))
			}
			var info control.Job
			if err := cl.Do(ctx, "POST", control.PathWait, control.JobRequest{Job: sub.Job}, &info); err != nil {
				return e.apiErr(fmt.Errorf("job %s: %w", sub.Job, err))
			}
			if !e.json && !quiet && !bar.on && !verbose {
				fmt.Fprintln(e.stderr, prog.line(time.Since(start)))
			}
			if err := jobEnded(&info); err != nil {
				return err
			}
			if !e.json && !quiet && info.ResultDir.Defined() {
				fmt.Fprintf(e.stderr, "result directory %s\n", info.ResultDir)
			}
			if e.json {
				return nil
			}
			return writeResult(ctx, e, cl, &info, out)
		},
	}
	f.add(c)
	c.Flags().BoolVarP(&detach, "detach", "d", false, "print the job's ID on stdout and return once it is submitted, leaving it running (like 'compute submit')")
	c.Flags().StringVarP(&out, "output", "o", "", "write the result to this file (without a reduce: one file per unit in this directory) instead of stdout")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress on stderr")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every unit's events on stderr instead of a progress line")
	return c
}

// peerIDs matches the peer IDs text shows: Ed25519 (12D3KooW…) and
// SHA-256 multihash (Qm…) ones, in base58.
var peerIDs = regexp.MustCompile(`\b(12D3KooW|Qm)[1-9A-HJ-NP-Za-km-z]{38,}\b`)

// shortenIDs replaces every peer ID in s with its shortID.
func shortenIDs(s string) string { return peerIDs.ReplaceAllStringFunc(s, shortID) }

// jobEnded returns nil for a done job, else an error with its exit status:
// 3 when it was cancelled, 1 when it failed (or still runs).
func jobEnded(info *control.Job) error {
	switch info.State {
	case control.JobDone:
		return nil
	case control.JobCancelled:
		return codeError{exitCancelled, fmt.Errorf("job %s cancelled: %s", info.ID, info.Error)}
	case control.JobActive:
		return fmt.Errorf("job %s is still running (see 'enxame compute status %s')", info.ID, info.ID)
	}
	return fmt.Errorf("job %s %s: %s", info.ID, info.State, info.Error)
}

func describeEvent(ev control.Event) string {
	var b strings.Builder
	if ev.Unit >= 0 {
		fmt.Fprintf(&b, "unit %-3d ", ev.Unit)
	} else {
		b.WriteString("job      ")
	}
	b.WriteString(string(ev.Kind))
	if ev.Worker != "" {
		fmt.Fprintf(&b, " on %s", shortID(ev.Worker))
	}
	if ev.Output.Defined() {
		fmt.Fprintf(&b, " → %s", ev.Output)
	}
	if ev.Detail != "" {
		detail := ev.Detail
		if d, err := time.ParseDuration(detail); err == nil {
			detail = roundDuration(d).String()
		}
		fmt.Fprintf(&b, " (%s)", detail)
	}
	return b.String()
}

// roundDuration rounds d to 3 significant figures or so: 1.234s, 12.3ms.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// writeResult writes the job's result: the single or reduce output, else
// every unit's output in order; to out (node.WriteFileAtomic) or stdout.
// Without a reduce, and with several units or out an existing directory,
// out is a directory that gets one file per unit (writeUnits).
func writeResult(ctx context.Context, e *env, cl *control.Client, info *control.Job, out string) error {
	outs := []cid.Cid{info.Output()}
	if !outs[0].Defined() {
		outs = info.Outputs()
	}
	if out != "" && !info.Spec.Reduce.Defined() {
		fi, err := os.Stat(out)
		if len(info.Units) > 1 || (err == nil && fi.IsDir()) {
			return writeUnits(ctx, e, cl, info, out)
		}
	}
	if out == "" {
		return catAll(ctx, e, cl, outs, e.stdout)
	}
	return writeAtomic(out, func(w io.Writer) error { return catAll(ctx, e, cl, outs, w) })
}

// catAll copies the content of outs to w, in order.
func catAll(ctx context.Context, e *env, cl *control.Client, outs []cid.Cid, w io.Writer) error {
	for _, c := range outs {
		body, err := cl.Raw(ctx, "POST", control.PathCat, control.CatRequest{CID: c.String()})
		if err != nil {
			return e.apiErr(fmt.Errorf("read result %s: %w", c, err))
		}
		_, err = io.Copy(w, body)
		body.Close()
		if err != nil {
			return fmt.Errorf("read result %s: %w", c, err)
		}
	}
	return nil
}

// writeAtomic writes out through an os.Root of its directory, into a new
// temporary file renamed when complete: never through a symlink.
func writeAtomic(out string, fill func(w io.Writer) error) error {
	var inner error
	err := node.WriteFileAtomic(out, func(w io.Writer) error {
		inner = fill(w)
		return inner
	})
	if inner != nil {
		return inner
	}
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// writeUnits writes each map unit's output to dir/NAME (UnitInfo.
// OutputName), making dir if needed.
func writeUnits(ctx context.Context, e *env, cl *control.Client, info *control.Job, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	for i := range info.Units {
		u := &info.Units[i]
		if u.Reduce {
			continue
		}
		name := u.OutputName()
		if !node.ValidName(name) {
			return fmt.Errorf("write result: unit %d: bad file name %q", u.Index, name)
		}
		err := writeAtomic(filepath.Join(dir, name), func(w io.Writer) error { return catAll(ctx, e, cl, []cid.Cid{u.Output}, w) })
		if err != nil {
			return err
		}
	}
	return nil
}

func newComputeSubmitCmd(e *env) *cobra.Command {
	var f jobFlags
	c := &cobra.Command{
		Use:   "submit MODULE.wasm|CID | --script FILE",
		Short: "Publish a job and print its ID at once",
		Args:  moduleArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := e.client()
			if err != nil {
				return err
			}
			req, err := f.request(cmd.Context(), e, cl, firstArg(args))
			if err != nil {
				return err
			}
			var sub control.SubmitResult
			if err := cl.Do(cmd.Context(), "POST", control.PathSubmit, req, &sub); err != nil {
				return e.apiErr(fmt.Errorf("submit: %w", err))
			}
			trustNotice(cmd.Context(), e, cl, &f, sub.Job)
			if e.json {
				return e.printJSON(sub)
			}
			fmt.Fprintln(e.stdout, sub.Job)
			return nil
		},
	}
	f.add(c)
	return c
}

func jobInfo(cmd *cobra.Command, e *env, path, job string) (control.Job, *control.Client, error) {
	var info control.Job
	cl, err := e.client()
	if err != nil {
		return info, nil, err
	}
	if err := cl.Do(cmd.Context(), "POST", path, control.JobRequest{Job: job}, &info); err != nil {
		return info, nil, e.apiErr(fmt.Errorf("job %s: %w", job, err))
	}
	return info, cl, nil
}

func newComputeStatusCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "status JOB",
		Short: "Show a job and each of its units",
		Args:  exactArgs(1, "one job ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, _, err := jobInfo(cmd, e, control.PathJob, args[0])
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(info)
			}
			fmt.Fprintf(e.stdout, "job %s: %s (submitted %s ago)\n", info.ID, info.State, time.Since(info.Submitted).Round(time.Second))
			if info.Error != "" {
				fmt.Fprintf(e.stdout, "error: %s\n", info.Error)
			}
			if info.ResultDir.Defined() {
				fmt.Fprintf(e.stdout, "result directory: %s\n", info.ResultDir)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "UNIT\tSTATUS\tWORKERS\tTOOK\tOUTPUT")
			for _, u := range info.Units {
				name := fmt.Sprint(u.Index)
				if u.Reduce {
					name += " (reduce)"
				}
				var workers []string
				var took time.Duration
				for _, r := range u.Receipts {
					workers = append(workers, shortID(r.Worker))
					took = max(took, r.Took)
				}
				out := "-"
				if u.Output.Defined() {
					out = u.Output.String()
				}
				tk := "-"
				if took > 0 {
					tk = took.Round(time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, u.Status, strings.Join(workers, ","), tk, out)
				for _, f := range u.Failures {
					fmt.Fprintf(tw, "\t  failed: %s\t\t\t\n", shortenIDs(f))
				}
				if u.Stderr != "" && !u.Output.Defined() {
					fmt.Fprintf(tw, "\t  stderr:\t\t\t\n")
					for l := range strings.Lines(u.Stderr) {
						fmt.Fprintf(tw, "\t    %s\t\t\t\n", strings.ReplaceAll(strings.TrimRight(l, "\n"), "\t", "  "))
					}
				}
			}
			return tw.Flush()
		},
	}
}

func newComputeResultCmd(e *env) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "result JOB",
		Short: "Print a finished job's result (exit 1 if it failed, 3 if cancelled)",
		Args:  exactArgs(1, "one job ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, cl, err := jobInfo(cmd, e, control.PathJob, args[0])
			if err != nil {
				return err
			}
			if err := jobEnded(&info); err != nil {
				return err
			}
			if e.json {
				outs := []string{}
				for _, c := range info.Outputs() {
					outs = append(outs, c.String())
				}
				res := map[string]any{"job": info.ID, "output": info.Output().String(), "outputs": outs}
				if info.ResultDir.Defined() {
					res["result_dir"] = info.ResultDir.String()
				}
				return e.printJSON(res)
			}
			return writeResult(cmd.Context(), e, cl, &info, out)
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write the result to this file (without a reduce: one file per unit in this directory) instead of stdout")
	return c
}

func newComputeCancelCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel JOB",
		Short: "Cancel a running job (a job that already ended is an error)",
		Args:  exactArgs(1, "one job ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := e.client()
			if err != nil {
				return err
			}
			var res control.SubmitResult
			if err := cl.Do(cmd.Context(), "POST", control.PathCancel, control.JobRequest{Job: args[0]}, &res); err != nil {
				return e.apiErr(fmt.Errorf("cancel %s: %w", args[0], err))
			}
			if res.Job == "" {
				res.Job = args[0]
			}
			if e.json {
				return e.printJSON(map[string]string{"cancelled": res.Job})
			}
			fmt.Fprintf(e.stdout, "cancelled %s\n", res.Job)
			return nil
		},
	}
}

func newComputeListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List this peer's jobs",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := e.client()
			if err != nil {
				return err
			}
			var jobs []control.Job
			if err := cl.Do(cmd.Context(), "GET", control.PathJobs, nil, &jobs); err != nil {
				return e.apiErr(err)
			}
			if e.json {
				return e.printJSON(jobs)
			}
			if len(jobs) == 0 {
				fmt.Fprintln(e.stdout, "no jobs")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tSTATE\tUNITS\tSUBMITTED")
			for _, j := range jobs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", j.ID, j.State, len(j.Units), j.Submitted.Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
}

func newComputeWorkersCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "workers",
		Short: "Show the workers this peer knows: slots, load, speed, track record",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := e.client()
			if err != nil {
				return err
			}
			var res control.WorkersResult
			if err := cl.Do(cmd.Context(), "GET", control.PathWorkers, nil, &res); err != nil {
				return e.apiErr(err)
			}
			if e.json {
				return e.printJSON(res)
			}
			if s := res.Self; s != nil {
				fmt.Fprintf(e.stdout, "this peer: %d slots, %d running, %d queued, %d completed, %d failed, speed %.2f\n",
					s.Slots, s.Running, s.Queued, s.Completed, s.Failed, s.Speed)
			} else {
				fmt.Fprintln(e.stdout, "this peer: not a worker (--no-compute)")
			}
			if len(res.Known) == 0 {
				fmt.Fprintln(e.stdout, "no other workers seen yet (they are found when a job is submitted)")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "WORKER\tSLOTS\tFREE\tQUEUE\tSPEED\tDONE\tFAILED\tOUTVOTED\tSTALLED")
			for _, w := range res.Known {
				id := shortID(w.ID)
				if w.Lost {
					id += " (lost)"
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%d\t%d\t%d\t%d\n", id, w.Slots, w.FreeSlots, w.QueueLen, w.Speed,
					w.Completed, w.Failed, w.Outvoted, w.Stalled)
			}
			return tw.Flush()
		},
	}
}

func newComputeWhyCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "why JOB",
		Short: "Explain why a job's units are not running",
		Args:  exactArgs(1, "one job ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := e.client()
			if err != nil {
				return err
			}
			var res control.WhyResult
			if err := cl.Do(cmd.Context(), "POST", control.PathWhy, control.JobRequest{Job: args[0]}, &res); err != nil {
				return e.apiErr(fmt.Errorf("why %s: %w", args[0], err))
			}
			if e.json {
				return e.printJSON(res)
			}
			fmt.Fprintln(e.stdout, shortenIDs(strings.TrimRight(res.Why, "\n")))
			return nil
		},
	}
}
