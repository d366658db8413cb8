package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/control"
	"github.com/ipfs/go-cid"
	"github.com/spf13/cobra"
)

func shareCommands(e *env) []*cobra.Command {
	return []*cobra.Command{newAddCmd(e), newGetCmd(e), newCatCmd(e), newLsCmd(e), newPinCmd(e),
		newGCCmd(e), newProvidersCmd(e), newExportCmd(e), newImportCmd(e)}
}

// cidClient checks a CID argument, then returns the daemon's client.
func (e *env) cidClient(arg string) (*control.Client, error) {
	if err := checkCID(arg); err != nil {
		return nil, err
	}
	return e.client()
}

// checkCID rejects a malformed CID before contacting the daemon.
func checkCID(s string) error {
	if _, err := cid.Decode(s); err != nil {
		return usageError{fmt.Errorf("invalid CID %q: %v", s, err)}
	}
	return nil
}

func newAddCmd(e *env) *cobra.Command {
	var req control.AddRequest
	var cidVersion int
	var rawLeaves, verbose, quiet bool
	var stdinName string
	var pub *publishFlags // --publish (search.go)
	c := &cobra.Command{
		Use:   "add PATH... | add -",
		Short: "Add files or directories (or stdin) to the swarm and print the root CID",
		Long: `add imports files and directories (recursively) into a UnixFS DAG (CIDv1, raw
leaves, 256 KiB chunks by default: the CID Kubo prints for
'ipfs add --cid-version=1 --raw-leaves'), stores it, pins the root and
announces it in the DHT. '-' reads stdin; like Kubo, stdin's content is
named by its CID (inside the directory -w makes, and in -v's lines) unless
--stdin-name names it. -v prints each file's path relative to the parent
of the argument it came from, as Kubo does.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("add takes one or more paths, or - for stdin")}
			}
			switch cidVersion {
			case 0:
				req.CIDv0 = true
				req.NoRawLeaves = !cmd.Flags().Changed("raw-leaves") || !rawLeaves
			case 1:
				req.NoRawLeaves = !rawLeaves
			default:
				return usageError{fmt.Errorf("--cid-version %d: want 0 or 1", cidVersion)}
			}
			if err := pub.check(cmd); err != nil {
				return err
			}
			stdin := len(args) == 1 && args[0] == "-"
			if !stdin && stdinName != "" {
				return usageError{errors.New("--stdin-name names stdin: pass - as the only path")}
			}
			if !stdin {
				for _, a := range args {
					abs, err := filepath.Abs(a)
					if err != nil {
						return err
					}
					if _, err := os.Lstat(abs); err != nil {
						return fmt.Errorf("add %s: %w", a, unwrapPath(err))
					}
					req.Paths = append(req.Paths, abs)
				}
			}
			shown := shownPaths(req.Paths)
			cl, err := e.client()
			if err != nil {
				return err
			}
			bar := newProgressLine(e.stderr)
			if e.json || quiet {
				bar.on = false
			}
			var done control.AddEvent
			start := time.Now()
			handle := func(line []byte) error {
				if e.json {
					fmt.Fprintf(e.stdout, "%s\n", line)
				}
				var ev control.AddEvent
				if err := json.Unmarshal(line, &ev); err != nil {
					return fmt.Errorf("decode add event: %w", err)
				}
				switch ev.Event {
				case "progress":
					rate := float64(ev.Bytes) / max(time.Since(start).Seconds(), 1e-3)
					if ev.Total > 0 {
						bar.draw(false, "added %s of %s (%d%%)  %s  ETA %s", bytesHuman(ev.Bytes), bytesHuman(ev.Total),
							ev.Bytes*100/ev.Total, rateHuman(rate), eta(ev.Total-ev.Bytes, rate))
					} else {
						bar.draw(false, "added %s  %s", bytesHuman(ev.Bytes), rateHuman(rate))
					}
				case "added":
					if verbose && !e.json {
						bar.done()
						fmt.Fprintf(e.stdout, "added %s %s\n", ev.CID, shown.show(ev.Path))
					}
				case "error":
					return daemonError(ev.Error)
				case "done":
					done = ev
				}
				return nil
			}
			if stdin {
				req.Name = stdinName
				opts, _ := json.Marshal(req)
				err = cl.StreamBody(cmd.Context(), control.PathAddStream+"?opts="+url.QueryEscape(string(opts)), e.stdin, handle)
			} else {
				err = cl.Stream(cmd.Context(), "POST", control.PathAdd, req, handle)
			}
			bar.done()
			if err != nil {
				return e.apiErr(&opError{op: "add", err: err})
			}
			if done.Root == "" {
				return errors.New("add: the daemon ended the stream without a result")
			}
			if err := e.publishAdded(cmd.Context(), cl, pub, done.Roots, req.Paths, stdinName); err != nil {
				return err
			}
			if e.json {
				return nil
			}
			if bar.on {
				took := time.Since(start)
				fmt.Fprintf(e.stderr, "added %s in %s (%s)\n", bytesHuman(done.Bytes), took.Round(time.Millisecond),
					rateHuman(float64(done.Bytes)/took.Seconds()))
			}
			fmt.Fprintln(e.stdout, done.Root)
			return nil
		},
	}
	fl := c.Flags()
	fl.IntVar(&req.ChunkSize, "chunk-size", 0, "chunk size in bytes (default 262144)")
	fl.IntVar(&cidVersion, "cid-version", 1, "CID version, 0 or 1")
	fl.BoolVar(&rawLeaves, "raw-leaves", true, "store file leaves as raw blocks (default true with --cid-version 1, false with 0)")
	fl.BoolVarP(&req.Wrap, "wrap", "w", false, "wrap the paths in a directory")
	fl.StringVar(&stdinName, "stdin-name", "", "name of stdin's content (default: its CID)")
	fl.BoolVar(&req.Hidden, "hidden", false, "include files whose name starts with a dot")
	fl.BoolVar(&req.NoPin, "no-pin", false, "do not pin the root (gc may remove it)")
	fl.BoolVarP(&verbose, "verbose", "v", false, "print every file's CID")
	fl.BoolVarP(&quiet, "quiet", "q", false, "no progress")
	pub = addPublishFlags(c)
	return c
}

// shownPaths shows the paths of an add's entries as Kubo does.
type shownPaths []string

// show turns the absolute path of an added entry, below one of the absolute
// paths given to add, into the path Kubo prints: relative to the parent of
// that path (`add -v sub/dir` prints dir/a.txt, never an absolute path).
// Other paths (stdin's name or CID) are returned as they are.
func (s shownPaths) show(p string) string {
	best := ""
	for _, a := range s {
		if (p == a || strings.HasPrefix(p, strings.TrimSuffix(a, string(filepath.Separator))+string(filepath.Separator))) && len(a) > len(best) {
			best = a
		}
	}
	if best == "" {
		return p
	}
	rel, err := filepath.Rel(filepath.Dir(best), p)
	if err != nil {
		return p
	}
	return rel
}

// opError is the error of a share command: "op subject: message". An
// error the daemon sent (a typed API error, or an error event of a
// stream: daemonError) is already worded that way (the daemon names the op
// and its subject once, see control.WithOp) and is printed as it is; the
// CLI never rewrites the daemon's text.
type opError struct {
	op      string // the command, "ls", "pin add"
	subject string // the CID or path it is about; "" for none
	err     error
}

func (e *opError) Error() string {
	var ae *control.APIError
	var de daemonError
	switch {
	case errors.As(e.err, &ae):
		return ae.Msg
	case errors.As(e.err, &de):
		return string(de)
	case e.subject == "":
		return e.op + ": " + e.err.Error()
	}
	return e.op + " " + e.subject + ": " + e.err.Error()
}

func (e *opError) Unwrap() error { return e.err }

// daemonError is the message of an error event in a daemon's stream.
type daemonError string

func (e daemonError) Error() string { return string(e) }

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fetchPrinter draws fetch progress on a terminal.
func fetchPrinter(e *env, bar *progressLine) func(line []byte) (control.FetchEvent, error) {
	return func(line []byte) (control.FetchEvent, error) {
		if e.json {
			fmt.Fprintf(e.stdout, "%s\n", line)
		}
		var ev control.FetchEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return ev, fmt.Errorf("decode fetch event: %w", err)
		}
		if ev.Event == "error" {
			return ev, daemonError(ev.Error)
		}
		if ev.Event == "progress" && ev.BytesTotal > 0 {
			var provs []string
			for _, p := range ev.Providers {
				if p.State == "active" || p.Bytes > 0 {
					provs = append(provs, fmt.Sprintf("%s %.0f%%", shortID(p.Peer), 100*p.Share))
				}
			}
			bar.draw(false, "%s / %s  %s  ETA %s  providers: %s", bytesHuman(ev.BytesDone), bytesHuman(ev.BytesTotal),
				rateHuman(ev.Rate), eta(ev.BytesTotal-ev.BytesDone, ev.Rate), strings.Join(provs, ", "))
		}
		return ev, nil
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return "…" + id[len(id)-6:]
	}
	return id
}

func newGetCmd(e *env) *cobra.Command {
	var out, maxSize string
	var noShare bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "get CID",
		Short: "Fetch a file or directory from the swarm and write it",
		Long: `get fetches the DAG of CID from several providers at once (every block verified
against its hash) and writes it to -o (default ./CID). The output appears at
its path only when complete; an interrupted get resumes where it stopped.
A DAG that declares more than --max-size, or more than the free space at -o,
is refused before it is written; a directory with an entry that could write
outside -o (a name twice, or twice up to case, or a bad name) is refused.
The peer then announces what it fetched while it keeps the blocks (config
share.provide: fetched, the default); --no-share skips that for this fetch.`,
		Args: exactArgs(1, "one CID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkCID(args[0]); err != nil {
				return err
			}
			var maxBytes int64
			if maxSize != "" {
				var err error
				if maxBytes, err = parseSize(maxSize); err != nil {
					return usageError{fmt.Errorf("--max-size: %w", err)}
				}
			}
			if out == "" {
				out = args[0]
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				return err
			}
			if _, err := os.Lstat(abs); err == nil {
				return fmt.Errorf("get: %s already exists", out)
			}
			if fi, err := os.Stat(filepath.Dir(abs)); err != nil || !fi.IsDir() {
				return fmt.Errorf("get: no directory %s for the output", filepath.Dir(abs))
			}
			cl, err := e.client()
			if err != nil {
				return err
			}
			bar := newProgressLine(e.stderr)
			bar.on = bar.on && !e.json
			pr := fetchPrinter(e, bar)
			var last control.FetchEvent
			start := time.Now()
			err = cl.Stream(cmd.Context(), "POST", control.PathGet, control.GetRequest{CID: args[0], Output: abs, Timeout: timeout, MaxBytes: maxBytes, NoShare: noShare},
				func(line []byte) error {
					ev, err := pr(line)
					if ev.Event != "" {
						last = ev
					}
					return err
				})
			bar.done()
			if err != nil {
				return e.apiErr(&opError{op: "get", subject: args[0], err: err})
			}
			if last.Event != "done" {
				return fmt.Errorf("get %s: the daemon ended the stream early", args[0])
			}
			if !e.json {
				fmt.Fprintf(e.stdout, "saved %s to %s in %s\n", args[0], out, time.Since(start).Round(time.Millisecond))
			}
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "where to write (default ./CID)")
	c.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (default 1h)")
	c.Flags().StringVar(&maxSize, "max-size", "", "refuse a DAG larger than this (e.g. 500MB, 10GiB; default: no cap but the free space)")
	c.Flags().BoolVar(&noShare, "no-share", false, "do not announce what this fetch brings (config share.provide)")
	return c
}

func newCatCmd(e *env) *cobra.Command {
	var req control.CatRequest
	c := &cobra.Command{
		Use:   "cat CID",
		Short: "Write a file's bytes to stdout",
		Args:  exactArgs(1, "one CID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkCID(args[0]); err != nil {
				return err
			}
			if req.Offset < 0 || req.Length < 0 {
				return usageError{errors.New("--offset and --length must be >= 0")}
			}
			cl, err := e.client()
			if err != nil {
				return err
			}
			req.CID = args[0]
			body, err := cl.Raw(cmd.Context(), "POST", control.PathCat, req)
			if err != nil {
				return e.apiErr(&opError{op: "cat", subject: args[0], err: err})
			}
			defer body.Close()
			// Hide stdout's ReadFrom (an *os.File's falls back to 32 KiB
			// copies when the body is not a file) so the 1 MiB buffer is
			// used: one write syscall per MiB.
			buf := make([]byte, 1<<20)
			if _, err := io.CopyBuffer(struct{ io.Writer }{e.stdout}, body, buf); err != nil {
				return &opError{op: "cat", subject: args[0], err: err}
			}
			return nil
		},
	}
	c.Flags().Int64Var(&req.Offset, "offset", 0, "start at this byte")
	c.Flags().Int64Var(&req.Length, "length", 0, "write at most this many bytes (0: to the end)")
	c.Flags().DurationVar(&req.Timeout, "timeout", 0, "give up fetching after this long (default 1h)")
	return c
}

func newLsCmd(e *env) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "ls CID",
		Short: "List a directory",
		Args:  exactArgs(1, "one CID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := e.cidClient(args[0])
			if err != nil {
				return err
			}
			var entries []control.LsEntry
			if err := cl.Do(cmd.Context(), "POST", control.PathLs, control.CIDRequest{CID: args[0], Timeout: timeout}, &entries); err != nil {
				return e.apiErr(&opError{op: "ls", subject: args[0], err: err})
			}
			if e.json {
				return e.printJSON(entries)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			for _, en := range entries {
				name := en.Name
				if en.Type == "dir" {
					name += "/"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\n", en.CID, en.Size, name)
			}
			return tw.Flush()
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 0, "give up fetching the directory after this long (default 1h)")
	return c
}

func newPinCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "pin", Short: "List, add and remove pins (pinned content is kept by gc)"}
	c.AddCommand(&cobra.Command{
		Use:   "ls",
		Short: "List pinned roots",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := e.client()
			if err != nil {
				return err
			}
			var pins []string
			if err := cl.Do(cmd.Context(), "GET", control.PathPinLs, nil, &pins); err != nil {
				return e.apiErr(err)
			}
			if e.json {
				return e.printJSON(pins)
			}
			for _, p := range pins {
				fmt.Fprintln(e.stdout, p)
			}
			return nil
		},
	}, newPinAddCmd(e), &cobra.Command{
		Use:   "rm CID",
		Short: "Unpin a root (gc may then remove its blocks)",
		Args:  exactArgs(1, "one CID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := e.cidClient(args[0])
			if err != nil {
				return err
			}
			if err := cl.Do(cmd.Context(), "POST", control.PathPinRm, control.CIDRequest{CID: args[0]}, nil); err != nil {
				return e.apiErr(&opError{op: "pin rm", subject: args[0], err: err})
			}
			if e.json {
				return e.printJSON(map[string]string{"unpinned": args[0]})
			}
			fmt.Fprintf(e.stdout, "unpinned %s\n", args[0])
			return nil
		},
	})
	return c
}

func newPinAddCmd(e *env) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "add CID",
		Short: "Fetch a DAG if needed and pin it",
		Args:  exactArgs(1, "one CID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := e.cidClient(args[0])
			if err != nil {
				return err
			}
			bar := newProgressLine(e.stderr)
			bar.on = bar.on && !e.json
			pr := fetchPrinter(e, bar)
			err = cl.Stream(cmd.Context(), "POST", control.PathPinAdd, control.CIDRequest{CID: args[0], Timeout: timeout}, func(line []byte) error {
				_, err := pr(line)
				return err
			})
			bar.done()
			if err != nil {
				return e.apiErr(&opError{op: "pin add", subject: args[0], err: err})
			}
			if !e.json {
				fmt.Fprintf(e.stdout, "pinned %s\n", args[0])
			}
			return nil
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 0, "give up fetching after this long (default 1h)")
	return c
}

func newGCCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "Remove blocks that no pin reaches and no fetch holds",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := e.client()
			if err != nil {
				return err
			}
			var res control.GCResult
			if err := cl.Do(cmd.Context(), "POST", control.PathGC, nil, &res); err != nil {
				return e.apiErr(err)
			}
			if e.json {
				return e.printJSON(res)
			}
			fmt.Fprintf(e.stdout, "removed %d blocks (%s); %s of disk freed\n", res.Removed, bytesHuman(res.Freed), bytesHuman(res.DiskFreed))
			return nil
		},
	}
}

func newProvidersCmd(e *env) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "providers CID",
		Short: "Find the peers that provide a CID, through the DHT",
		Args:  exactArgs(1, "one CID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := e.cidClient(args[0])
			if err != nil {
				return err
			}
			var provs []control.Provider
			if err := cl.Do(cmd.Context(), "POST", control.PathProviders, control.CIDRequest{CID: args[0], Timeout: timeout}, &provs); err != nil {
				return e.apiErr(&opError{op: "providers", subject: args[0], err: err})
			}
			if e.json {
				return e.printJSON(provs)
			}
			if len(provs) == 0 {
				fmt.Fprintln(e.stdout, "no providers found")
				return nil
			}
			for _, p := range provs {
				fmt.Fprintf(e.stdout, "%s %s\n", p.ID, strings.Join(p.Addrs, " "))
			}
			return nil
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 0, "lookup deadline (default 30s)")
	return c
}

func newExportCmd(e *env) *cobra.Command {
	var out string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "export CID",
		Short: "Write the DAG of CID as a CAR file (to stdout or -o)",
		Args:  exactArgs(1, "one CID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkCID(args[0]); err != nil {
				return err
			}
			if out == "" && isTerminal(e.stdout) {
				return usageError{errors.New("export writes binary CAR data: redirect stdout or pass -o FILE")}
			}
			cl, err := e.client()
			if err != nil {
				return err
			}
			body, err := cl.Raw(cmd.Context(), "POST", control.PathExport, control.CIDRequest{CID: args[0], Timeout: timeout})
			if err != nil {
				return e.apiErr(&opError{op: "export", subject: args[0], err: err})
			}
			defer body.Close()
			if out == "" {
				if _, err := io.Copy(e.stdout, body); err != nil {
					return &opError{op: "export", subject: args[0], err: err}
				}
				return nil
			}
			// Through an os.Root of out's directory, into a new temporary
			// file renamed when complete: never written through a symlink.
			err = node.WriteFileAtomic(out, func(w io.Writer) error {
				_, err := io.Copy(w, body)
				return err
			})
			if err != nil {
				return &opError{op: "export", subject: args[0], err: err}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	c.Flags().DurationVar(&timeout, "timeout", 0, "give up fetching after this long (default 1h)")
	return c
}

func newImportCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE.car | import -",
		Short: "Import a CAR file (v1 or v2): verify every block, store and pin its roots",
		Args:  exactArgs(1, "one CAR file, or - for stdin"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var src io.Reader = e.stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import %s: %w", args[0], unwrapPath(err))
				}
				defer f.Close()
				src = f
			}
			cl, err := e.client()
			if err != nil {
				return err
			}
			var res control.ImportResult
			if err := cl.DoBody(cmd.Context(), control.PathImport, src, &res); err != nil {
				return e.apiErr(&opError{op: "import", subject: args[0], err: err})
			}
			if e.json {
				return e.printJSON(res)
			}
			for _, r := range res.Roots {
				fmt.Fprintf(e.stdout, "imported %s\n", r)
			}
			return nil
		},
	}
}
