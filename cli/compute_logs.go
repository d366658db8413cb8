package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/enxame/enxame/node/control"
	"github.com/spf13/cobra"
)

func newComputeLogsCmd(e *env) *cobra.Command {
	var follow bool
	c := &cobra.Command{
		Use:   "logs JOB [UNIT]",
		Short: "Show the stderr and exit code of a job's runs",
		Long: `logs shows, for each run of a job's units (or of one unit), the worker that
ran it, its exit code, why it failed if it did, and what it wrote to its
standard error (at most 32 KiB per run: its head and tail, with a line saying
how many bytes were dropped in between). With --follow it waits for the runs
of an active job and shows their logs as they end.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageError{fmt.Errorf("%s takes a job ID and optionally a unit index (see '%s --help')", cmd.CommandPath(), cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			req := control.LogsRequest{Job: args[0]}
			if len(args) == 2 {
				u, err := strconv.Atoi(args[1])
				if err != nil || u < 0 {
					return usageError{fmt.Errorf("unit %q: want a unit index (0, 1, ...)", args[1])}
				}
				req.Unit = &u
			}
			cl, err := e.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if !follow {
				res, err := cl.ComputeLogs(ctx, req)
				if err != nil {
					return e.apiErr(fmt.Errorf("logs of %s: %w", req.Job, err))
				}
				if e.json {
					return e.printJSON(res)
				}
				for _, l := range res.Logs {
					printRunLog(e.stdout, l)
				}
				if len(res.Logs) == 0 {
					fmt.Fprintf(e.stderr, "no runs of job %s have ended yet (%s)\n", req.Job, res.State)
				}
				return nil
			}
			return followLogs(ctx, e, cl, req)
		},
	}
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep showing the logs of runs as they end, until the job ends")
	return c
}

// followLogs prints the logs of req's runs, then those of the runs that
// end, until the job ends.
func followLogs(ctx context.Context, e *env, cl *control.Client, req control.LogsRequest) error {
	seen := map[string]bool{}
	show := func() (string, error) {
		res, err := cl.ComputeLogs(ctx, req)
		if err != nil {
			return "", e.apiErr(fmt.Errorf("logs of %s: %w", req.Job, err))
		}
		for _, l := range res.Logs {
			k := fmt.Sprintf("%d/%s/%d", l.Unit, l.Worker, l.At.UnixNano())
			if seen[k] {
				continue
			}
			seen[k] = true
			if e.json {
				b, _ := json.Marshal(l)
				fmt.Fprintf(e.stdout, "%s\n", b)
			} else {
				printRunLog(e.stdout, l)
			}
		}
		return res.State, nil
	}
	state, err := show()
	if err != nil || state != "active" {
		return err
	}
	// A run's log is kept before its event is sent: show the new logs
	// after each event that ends a run, and once more when the job ends.
	err = cl.Stream(ctx, "POST", control.PathWatch, control.JobRequest{Job: req.Job}, func(line []byte) error {
		var ev struct {
			Unit  int    `json:"unit"`
			Event string `json:"event"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("decode event: %w", err)
		}
		switch ev.Event {
		case "done", "retried":
			if req.Unit == nil || *req.Unit == ev.Unit {
				_, err := show()
				return err
			}
		}
		return nil
	})
	if err != nil {
		return e.apiErr(fmt.Errorf("watch job %s: %w", req.Job, err))
	}
	_, err = show()
	return err
}

// printRunLog prints one run's log: a header line, then its stderr.
func printRunLog(w io.Writer, l control.RunLog) {
	fmt.Fprintf(w, "== unit %d on %s at %s: exit code %d", l.Unit, shortID(l.Worker), l.At.Local().Format(time.TimeOnly), l.ExitCode)
	if l.Failure != "" {
		fmt.Fprintf(w, ", failed: %s", l.Failure)
	}
	fmt.Fprintln(w)
	if l.Stderr == "" {
		fmt.Fprintln(w, "(no stderr)")
		return
	}
	fmt.Fprint(w, l.Stderr)
	if !strings.HasSuffix(l.Stderr, "\n") {
		fmt.Fprintln(w)
	}
	if l.Truncated {
		fmt.Fprintln(w, "(stderr truncated: the run wrote more than is kept)")
	}
}
