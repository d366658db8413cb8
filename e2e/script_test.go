package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Word count and merge scripts in Starlark and JavaScript: the map counts
// the lowercased whitespace-separated words of its input, leaving out the
// words given as arguments; the reduce adds the "word\tcount" lines of
// every map output.
var scriptJobs = []struct {
	lang               string
	mapName, mapSrc    string
	reduceName, reduce string
	syntaxError        string // a script that does not parse
	loop               string // a script that never ends
}{
	{
		lang:    "starlark",
		mapName: "wc.star",
		mapSrc: `
skip = {w: True for w in args}
counts = {}
for w in read_input().lower().split():
    if w not in skip:
        counts[w] = counts.get(w, 0) + 1
for w in sorted(counts):
    print(w + "\t" + str(counts[w]))
`,
		reduceName: "merge.star",
		reduce: `
counts = {}
for name in input_files():
    for line in read_input(name).splitlines():
        w, _, n = line.partition("\t")
        counts[w] = counts.get(w, 0) + int(n)
for w in sorted(counts):
    print(w + "\t" + str(counts[w]))
`,
		syntaxError: "counts = {}\nfor w in read_input().split()\n    print(w)\n",
		loop:        "i = 0\nwhile True:\n    i += 1\n",
	},
	{
		lang:    "javascript",
		mapName: "wc.js",
		mapSrc: `
const skip = new Set(args);
const counts = new Map();
for (const w of readInput().toLowerCase().split(/\s+/)) {
  if (w !== "" && !skip.has(w)) counts.set(w, (counts.get(w) || 0) + 1);
}
for (const w of [...counts.keys()].sort()) print(w + "\t" + counts.get(w));
`,
		reduceName: "merge.js",
		reduce: `
const counts = new Map();
for (const name of inputFiles()) {
  for (const line of readInput(name).split("\n")) {
    if (line === "") continue;
    const [w, n] = line.split("\t");
    counts.set(w, (counts.get(w) || 0) + Number(n));
  }
}
for (const w of [...counts.keys()].sort()) print(w + "\t" + counts.get(w));
`,
		syntaxError: "const counts = {;\n",
		loop:        "let i = 0;\nfor (;;) { i++; }\n",
	},
}

// TestComputeScript runs Starlark and JavaScript word counts with the CLI
// (issue 14): the input split at line ends over two daemons, each unit on
// both (two replicas that must agree), a reduce script, and the result
// compared with a native count. A script that does not parse is refused
// before it is submitted, with its position; one that never ends is stopped
// by the unit's deadline.
func TestComputeScript(t *testing.T) {
	root := t.TempDir()
	w1 := startDaemon(t, filepath.Join(root, "w1"), "--compute-slots", "2")
	startDaemon(t, filepath.Join(root, "w2"), "--bootstrap", w1.tcpAddr(), "--compute-slots", "2")

	var text strings.Builder
	words := []string{"enxame", "Abelha", "mel", "COLMEIA", "flor", "sol", "água", "the"}
	for i := range 20000 {
		fmt.Fprintf(&text, "%s %s\t%s\n", words[i%len(words)], words[(i*7+3)%len(words)], words[(i*3+1)%len(words)])
	}
	input := writeFile(t, root, "text.txt", text.String())
	want := nativeFieldsCount(text.String(), "the")

	for _, sj := range scriptJobs {
		t.Run(sj.lang, func(t *testing.T) {
			dir := t.TempDir()
			mapScript := writeFile(t, dir, sj.mapName, sj.mapSrc)
			reduceScript := writeFile(t, dir, sj.reduceName, sj.reduce)
			// The first run of a runtime compiles it on each worker (tens
			// of seconds on a loaded machine): a generous unit timeout.
			res := enxameFor(t, 10*time.Minute, "compute", "run", "--home", w1.home, "--script", mapScript, "--arg", "the",
				"--input", input, "--split-lines", "5000", "--reduce-script", reduceScript, "--replicas", "2", "--timeout", "5m", "-q")
			if res.code != 0 {
				t.Fatalf("compute run --script %s: exit %d\nstderr:\n%s", sj.mapName, res.code, res.stderr)
			}
			if res.stdout != want {
				t.Errorf("compute run --script %s output differs from the native count:\ngot  %.300q\nwant %.300q", sj.mapName, res.stdout, want)
			}
			job := lastJob(t, w1.home)
			if job.State != "done" || len(job.Units) != 5 {
				t.Fatalf("job %s: state %s, %d units; want done with 4 map units and a reduce", job.ID, job.State, len(job.Units))
			}
			for _, u := range job.Units {
				workers := map[string]bool{}
				for _, r := range u.Receipts {
					workers[r.Worker] = true
					if r.Module != job.Spec.Module && r.Module != job.Spec.Reduce || len(r.Args) < 2 || r.Args[0] != "--script" {
						t.Errorf("unit %d: receipt of %s for module %s args %.60q; want the runtime with the script in its arguments", u.Index, r.Worker, r.Module, r.Args)
					}
				}
				wantName := sj.mapName
				if u.Reduce {
					wantName = sj.reduceName
				}
				if len(workers) != 2 || len(u.Args) < 2 || u.Args[1] != wantName {
					t.Errorf("unit %d: receipts from %d workers, args %.60q; want two workers, script %s", u.Index, len(workers), u.Args, wantName)
				}
			}

			bad := writeFile(t, dir, "bad"+filepath.Ext(sj.mapName), sj.syntaxError)
			r := enxame(t, "compute", "run", "--home", w1.home, "--script", bad, "--input", input)
			if r.code == 0 || !strings.Contains(r.stderr, "syntax error") || !strings.Contains(r.stderr, filepath.Base(bad)) {
				t.Errorf("compute run --script with a syntax error: exit %d, stderr %q; want a refusal naming the script and the error", r.code, r.stderr)
			}
			oneLine(t, "compute run --script with a syntax error", r.stderr)
			if after := lastJob(t, w1.home); after.ID != job.ID {
				t.Errorf("a script with a syntax error was submitted as job %s", after.ID)
			}

			// The runtime is compiled on both workers by now: the 5 s
			// deadline is the loop's.
			loop := writeFile(t, dir, "loop"+filepath.Ext(sj.mapName), sj.loop)
			r = enxameFor(t, 5*time.Minute, "compute", "run", "--home", w1.home, "--script", loop, "--timeout", "5s", "-q")
			if r.code == 0 {
				t.Fatalf("compute run --script of an endless loop exited 0")
			}
			job = lastJob(t, w1.home)
			if job.State != "failed" || len(job.Units) != 1 || !slices.ContainsFunc(job.Units[0].Failures, func(f string) bool {
				return strings.Contains(f, "timeout")
			}) {
				t.Errorf("endless loop job: state %s, units %+v; want failed by timeout", job.State, job.Units)
			}
		})
	}
}

// scriptJob is what the tests read of `compute status --json`.
type scriptJob struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Spec  struct {
		Module  link  `json:"module"`
		Reduce  link  `json:"reduce"`
		Timeout int64 `json:"timeout_ns"`
	} `json:"spec"`
	Units []struct {
		Index    int      `json:"index"`
		Reduce   bool     `json:"reduce"`
		Args     []string `json:"args"`
		Failures []string `json:"failures"`
		Receipts []struct {
			Worker string
			Module link
			Args   []string
		} `json:"receipts"`
	} `json:"units"`
}

// link is a CID in JSON.
type link struct {
	CID string `json:"/"`
}

// lastJob returns the daemon's most recent job, in full.
func lastJob(t *testing.T, home string) scriptJob {
	t.Helper()
	var jobs []struct {
		ID        string    `json:"id"`
		Submitted time.Time `json:"submitted"`
	}
	mustJSON(t, &jobs, "compute", "list", "--home", home)
	if len(jobs) == 0 {
		t.Fatal("compute list: no jobs")
	}
	last := slices.MaxFunc(jobs, func(a, b struct {
		ID        string    `json:"id"`
		Submitted time.Time `json:"submitted"`
	}) int {
		return a.Submitted.Compare(b.Submitted)
	})
	var job scriptJob
	mustJSON(t, &job, "compute", "status", "--home", home, last.ID)
	return job
}

// nativeFieldsCount is the scripts' word count in Go: lowercased
// whitespace-separated words, leaving out skip, "word\tcount" lines sorted.
func nativeFieldsCount(s string, skip ...string) string {
	counts := map[string]int{}
	for _, w := range strings.Fields(strings.ToLower(s)) {
		if !slices.Contains(skip, w) {
			counts[w]++
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s\t%d\n", k, counts[k])
	}
	return b.String()
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// enxameFor is enxame with a time limit of its own, for commands that may
// compile a large module on the way.
func enxameFor(t *testing.T, limit time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = testEnv(t)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run enxame %v: %v", args, err)
		}
		res.code = ee.ExitCode()
	}
	return res
}
