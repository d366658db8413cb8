package plan

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/libp2p/go-libp2p/core/peer"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual output")

// TestScripts runs the golden scenario scripts in testdata/, in the style
// of etcd raft's interaction tests. A script is a list of commands, each
// on a line starting with "> ", followed by the output it produced; lines
// starting with "#" and blank lines are comments. Run with -update to
// rewrite the expected output, then review the diff.
//
// Commands (times are offsets from the virtual epoch, sizes take K and M):
//
//	config key=value...              first command only; keys: block-size,
//	                                 initial-window, min-window, max-window,
//	                                 queue-time, max-batch, rate-half-life,
//	                                 min-timeout, max-timeout,
//	                                 failure-threshold, endgame-copies
//	want NAME [size=N] [prio=N] [order=N]
//	join PEER [all]
//	has PEER NAME...
//	leave PEER
//	recv PEER NAME SIZE TIME
//	fail PEER NAME [notfound]
//	invalid PEER [NAME]
//	next TIME                        prints the actions, one a line
//	stats                            prints totals and one line a provider
//	deadline                         prints the next timer, or "none"
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := runScript(t, string(in))
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(string(in), got); diff != "" {
				t.Errorf("script %s mismatch (-want +got):\n%s", file, diff)
			}
		})
	}
}

// runScript executes a script and returns its transcript: every comment and
// command followed by the command's output.
func runScript(t *testing.T, script string) string {
	var out strings.Builder
	var pl *Planner
	planner := func() *Planner {
		if pl == nil {
			var err error
			if pl, err = New(Config{}); err != nil {
				t.Fatal(err)
			}
		}
		return pl
	}
	lines := strings.Split(strings.TrimRight(script, "\n"), "\n")
	for n, line := range lines {
		if !strings.HasPrefix(line, "> ") {
			if line == "" || strings.HasPrefix(line, "#") {
				out.WriteString(line + "\n")
			}
			continue
		}
		out.WriteString(line + "\n")
		f := strings.Fields(line[2:])
		res, err := runCommand(&pl, planner, f)
		if err != nil {
			t.Fatalf("line %d: %q: %v", n+1, line, err)
		}
		for _, r := range res {
			out.WriteString(r + "\n")
		}
	}
	return out.String()
}

func runCommand(plp **Planner, planner func() *Planner, f []string) ([]string, error) {
	if len(f) == 0 {
		return nil, errors.New("empty command")
	}
	observe := func(ev Event) ([]string, error) {
		if err := planner().Observe(ev); err != nil {
			return []string{"error: " + err.Error()}, nil
		}
		return nil, nil
	}
	args := f[1:]
	need := func(n int) error {
		if len(args) < n {
			return fmt.Errorf("%s needs %d arguments", f[0], n)
		}
		return nil
	}
	switch f[0] {
	case "config":
		if *plp != nil {
			return nil, errors.New("config must come first")
		}
		cfg, err := parseConfig(args)
		if err != nil {
			return nil, err
		}
		pl, err := New(cfg)
		if err != nil {
			return []string{"error: " + err.Error()}, nil
		}
		*plp = pl
		return nil, nil
	case "want":
		if err := need(1); err != nil {
			return nil, err
		}
		ev := WantAdded{Key: key(args[0])}
		for _, kv := range args[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := parseSize(v)
			if err != nil {
				return nil, err
			}
			switch k {
			case "size":
				ev.Size = n
			case "prio":
				ev.Priority = int(n)
			case "order":
				ev.Order = uint64(n)
			default:
				return nil, fmt.Errorf("unknown want option %q", k)
			}
		}
		return observe(ev)
	case "join":
		if err := need(1); err != nil {
			return nil, err
		}
		return observe(ProviderJoined{Peer: peer.ID(args[0]), HasAll: len(args) > 1 && args[1] == "all"})
	case "has":
		if err := need(2); err != nil {
			return nil, err
		}
		return observe(ProviderHas{Peer: peer.ID(args[0]), Keys: keyList(args[1:]...)})
	case "leave":
		if err := need(1); err != nil {
			return nil, err
		}
		return observe(ProviderLeft{Peer: peer.ID(args[0])})
	case "recv":
		if err := need(4); err != nil {
			return nil, err
		}
		size, err := parseSize(args[2])
		if err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(args[3])
		if err != nil {
			return nil, err
		}
		return observe(BlockReceived{Peer: peer.ID(args[0]), Key: key(args[1]), Bytes: size, At: at(d)})
	case "fail":
		if err := need(2); err != nil {
			return nil, err
		}
		err := errors.New("stream reset")
		if len(args) > 2 && args[2] == "notfound" {
			err = fmt.Errorf("provider answered: %w", ErrNotFound)
		}
		return observe(BlockFailed{Peer: peer.ID(args[0]), Key: key(args[1]), Err: err})
	case "invalid":
		if err := need(1); err != nil {
			return nil, err
		}
		ev := BlockInvalid{Peer: peer.ID(args[0]), Err: errors.New("hash mismatch")}
		if len(args) > 1 {
			ev.Key = key(args[1])
		}
		return observe(ev)
	case "next":
		if err := need(1); err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(args[0])
		if err != nil {
			return nil, err
		}
		return fmtActions(planner().Next(at(d))), nil
	case "stats":
		return fmtStats(planner().Stats()), nil
	case "deadline":
		d, ok := planner().Deadline()
		if !ok {
			return []string{"deadline none"}, nil
		}
		return []string{"deadline " + d.Sub(t0).String()}, nil
	}
	return nil, fmt.Errorf("unknown command %q", f[0])
}

func parseConfig(args []string) (Config, error) {
	var c Config
	for _, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return c, fmt.Errorf("config: %q is not key=value", kv)
		}
		var err error
		dur := func(p *time.Duration) { *p, err = time.ParseDuration(v) }
		size := func(p *int64) { *p, err = parseSize(v) }
		num := func(p *int) {
			var n int64
			n, err = parseSize(v)
			*p = int(n)
		}
		switch k {
		case "block-size":
			size(&c.BlockSize)
		case "initial-window":
			size(&c.InitialWindow)
		case "min-window":
			size(&c.MinWindow)
		case "max-window":
			size(&c.MaxWindow)
		case "queue-time":
			dur(&c.QueueTime)
		case "max-batch":
			num(&c.MaxBatch)
		case "rate-half-life":
			dur(&c.RateHalfLife)
		case "min-timeout":
			dur(&c.MinRequestTimeout)
		case "max-timeout":
			dur(&c.MaxRequestTimeout)
		case "failure-threshold":
			num(&c.FailureThreshold)
		case "endgame-copies":
			num(&c.EndgameCopies)
		default:
			return c, fmt.Errorf("config: unknown key %q", k)
		}
		if err != nil {
			return c, fmt.Errorf("config %s: %w", k, err)
		}
	}
	return c, nil
}

// parseSize parses an integer with an optional K (KiB) or M (MiB) suffix.
func parseSize(s string) (int64, error) {
	mul := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mul, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mul, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mul, err
}

// fmtSize prints bytes with a K or M suffix when exact.
func fmtSize(n int64) string {
	switch {
	case n != 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n != 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return strconv.FormatInt(n, 10)
}

func fmtStats(s Stats) []string {
	out := []string{fmt.Sprintf("blocks %d/%d bytes %s/%s dup %s inflight %d stuck %d",
		s.BlocksReceived, s.BlocksWanted, fmtSize(s.BytesReceived), fmtSize(s.BytesWanted),
		fmtSize(s.DuplicateBytes), s.InFlight, s.Stuck)}
	for _, p := range s.Providers {
		all := ""
		if p.HasAll {
			all = " all"
		}
		out = append(out, fmt.Sprintf("  %s %s%s recv %d/%s share %.2f rate %.0fK/s lead %v inflight %d/%s window %s score %.2f failures %d",
			string(p.Peer), p.State, all, p.BlocksReceived, fmtSize(p.BytesReceived), p.Share, p.Rate/1024,
			p.Lead, p.InFlight, fmtSize(p.InFlightBytes), fmtSize(p.Window), p.Score, p.Failures))
	}
	return out
}
