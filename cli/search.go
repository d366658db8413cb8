package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/enxame/enxame/node/control"
	"github.com/spf13/cobra"
)

func searchCommands(e *env) []*cobra.Command {
	return []*cobra.Command{newSearchCmd(e), newPublishCmd(e)}
}

func newSearchCmd(e *env) *cobra.Command {
	var req control.SearchRequest
	var quiet bool
	c := &cobra.Command{
		Use:   "search WORD...",
		Short: "Find files published in the swarm by the words of their names",
		Long: `search looks up files that peers published ('enxame add --publish',
'enxame publish') under the words of their names. Words are matched without
case and accents ("acores" finds "Açores"); words under 3 letters and common
Portuguese and English words are ignored. The rarest word (the longest) is
looked up in the DHT and the other words filter its records. Each file found
is shown on stderr as it arrives; when the search ends (--timeout) the results
are printed best first: by how many distinct peers publish or provide the
file, then by how many of the words its name holds; a file nobody provides
comes last. 'enxame get CID' fetches one. --json prints each event as a JSON
line as it arrives ("result", then "done" with the ranked results).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("search takes one or more words")}
			}
			req.Words = args
			cl, err := e.client()
			if err != nil {
				return err
			}
			var done control.SearchEvent
			seen := map[string]bool{}
			err = cl.Search(cmd.Context(), req, func(ev control.SearchEvent) error {
				if e.json {
					line, err := json.Marshal(ev)
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "%s\n", line)
				}
				switch ev.Event {
				case "result":
					if r := ev.Result; r != nil && !seen[r.CID] && !e.json && !quiet {
						seen[r.CID] = true
						fmt.Fprintf(e.stderr, "found %s  %s  %s\n", r.Name, bytesHuman(int64(r.Size)), r.CID)
					}
				case "done":
					done = ev
				}
				return nil
			})
			if err != nil {
				return e.apiErr(&opError{op: "search", err: err})
			}
			if e.json {
				return nil
			}
			if len(done.Results) == 0 {
				return fmt.Errorf("search %s: nothing found (asked %d peers about %q)", strings.Join(args, " "), done.Queried, done.Lookup)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PEERS\tSIZE\tTYPE\tNAME\tCID")
			for _, r := range done.Results {
				peers := fmt.Sprint(r.Peers)
				if r.Providers == 0 {
					peers += " (no provider)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", peers, bytesHuman(int64(r.Size)), r.Type, r.Name, r.CID)
			}
			return tw.Flush()
		},
	}
	c.Flags().DurationVar(&req.Timeout, "timeout", 0, "search for this long (default 30s, at most 5m)")
	c.Flags().IntVar(&req.Limit, "limit", 0, "print at most this many results (default 100)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "do not show files on stderr as they are found")
	return c
}

// publishFlags are the flags that publish a file under keywords (publish,
// add --publish).
type publishFlags struct {
	on          bool
	name        string
	keywords    []string
	description string
	timeout     time.Duration
}

func (f *publishFlags) add(c *cobra.Command, withName bool) {
	if withName {
		c.Flags().StringVar(&f.name, "name", "", "the file's name, whose words are its keywords")
	}
	c.Flags().StringSliceVar(&f.keywords, "keywords", nil, "extra keywords, comma-separated")
	c.Flags().StringVar(&f.description, "description", "", "a description shown with search results (and matched by them)")
}

// addPublishFlags gives add its --publish, --keywords and --description.
func addPublishFlags(c *cobra.Command) *publishFlags {
	f := &publishFlags{}
	c.Flags().BoolVar(&f.on, "publish", false, "announce the added files under the words of their names ('enxame search' finds them)")
	f.add(c, false)
	return f
}

// check rejects --keywords or --description without --publish.
func (f *publishFlags) check(c *cobra.Command) error {
	if !f.on && (c.Flags().Changed("keywords") || c.Flags().Changed("description")) {
		return usageError{errors.New("--keywords and --description go with --publish")}
	}
	return nil
}

// publishAdded publishes the roots of an add (with --publish): each under
// the name of the path it came from (the first path's for a wrapped add,
// stdinName for stdin).
func (e *env) publishAdded(ctx context.Context, cl *control.Client, f *publishFlags, roots, paths []string, stdinName string) error {
	if !f.on {
		return nil
	}
	for i, root := range roots {
		name := stdinName
		if i < len(paths) {
			name = filepath.Base(paths[i])
		}
		res, err := cl.Publish(ctx, control.PublishRequest{CID: root, Name: name, Keywords: f.keywords, Description: f.description})
		if err != nil {
			return e.apiErr(&opError{op: "publish", subject: root, err: err})
		}
		e.printPublished(res)
	}
	return nil
}

func (e *env) printPublished(res control.PublishResult) {
	if e.json {
		line, _ := json.Marshal(res)
		fmt.Fprintf(e.stdout, "%s\n", line)
		return
	}
	if res.Deferred {
		fmt.Fprintf(e.stderr, "published %s as %q under %s (no peers yet: stored as soon as there are)\n", res.CID, res.Name, strings.Join(res.Keywords, ", "))
		return
	}
	most := 0
	for _, n := range res.Stored {
		most = max(most, n)
	}
	fmt.Fprintf(e.stderr, "published %s as %q under %s (on up to %d peers each)\n", res.CID, res.Name, strings.Join(res.Keywords, ", "), most)
}

func newPublishCmd(e *env) *cobra.Command {
	f := &publishFlags{}
	c := &cobra.Command{
		Use:   "publish CID",
		Short: "Announce a pinned file or directory under the words of its name",
		Long: `publish announces a file or directory pinned here under keywords, so that
'enxame search' finds it: the words of --name (case-folded, accents removed,
short and common words dropped) and --keywords. A signed record per keyword
goes to the peers closest to the keyword in the DHT; the daemon publishes it
again while the CID stays pinned.`,
		Args: exactArgs(1, "one CID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.name == "" && len(f.keywords) == 0 {
				return usageError{errors.New("publish needs --name or --keywords")}
			}
			cl, err := e.cidClient(args[0])
			if err != nil {
				return err
			}
			res, err := cl.Publish(cmd.Context(), control.PublishRequest{CID: args[0], Name: f.name, Keywords: f.keywords,
				Description: f.description, Timeout: f.timeout})
			if err != nil {
				return e.apiErr(&opError{op: "publish", subject: args[0], err: err})
			}
			e.printPublished(res)
			return nil
		},
	}
	f.add(c, true)
	c.Flags().DurationVar(&f.timeout, "timeout", 0, "give up the first publication after this long (default 1m; it is retried)")
	return c
}
