package e2e

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/enxame/enxame/examples/examplestest"
)

// TestComputeWordCount runs a word count split across three daemons with
// the CLI and compares it with a native count.
func TestComputeWordCount(t *testing.T) {
	wc := examplestest.Build(t, "wordcount")
	merge := examplestest.Build(t, "wordcount-merge")
	root := t.TempDir()
	h1, h2, h3 := filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")
	d1 := startDaemon(t, h1, "--compute-slots", "1")
	startDaemon(t, h2, "--bootstrap", d1.tcpAddr(), "--compute-slots", "2")
	startDaemon(t, h3, "--bootstrap", d1.tcpAddr(), "--compute-slots", "1")

	var text strings.Builder
	words := []string{"enxame", "abelha", "Mel", "colmeia", "flor", "sol", "Água"}
	for i := range 40000 {
		fmt.Fprintf(&text, "%s %s, %d\n", words[i%len(words)], words[(i*7+3)%len(words)], i%13)
	}
	input := filepath.Join(root, "text.txt")
	if err := os.WriteFile(input, []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := enxame(t, "compute", "run", "--home", h1, wc, "--input", input, "--split-lines", "5000", "--reduce", merge, "--verbose")
	t.Logf("compute run took %v", time.Since(start))
	if res.code != 0 {
		t.Fatalf("compute run: exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	if want := nativeWordCount(text.String()); res.stdout != want {
		t.Errorf("compute run output differs from the native count:\ngot  %.300q\nwant %.300q", res.stdout, want)
	}
	if !strings.Contains(res.stderr, "verified") {
		t.Errorf("compute run showed no unit progress on stderr:\n%s", res.stderr)
	}

	var jobs []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	mustJSON(t, &jobs, "compute", "list", "--home", h1)
	if len(jobs) != 1 || jobs[0].State != "done" {
		t.Fatalf("compute list = %+v, want one done job", jobs)
	}
	if r := enxame(t, "compute", "result", "--home", h1, jobs[0].ID); r.code != 0 || r.stdout != res.stdout {
		t.Errorf("compute result: exit %d, same output %v, stderr %q", r.code, r.stdout == res.stdout, r.stderr)
	}
	if r := enxame(t, "compute", "status", "--home", h1, jobs[0].ID); r.code != 0 || !strings.Contains(r.stdout, "reduce") {
		t.Errorf("compute status: exit %d, stdout %q", r.code, r.stdout)
	}
	var why struct {
		Job, State string
		Units      []struct {
			Unit   int
			Reduce bool
			Status string
			Why    string
		}
	}
	mustJSON(t, &why, "compute", "why", "--home", h1, jobs[0].ID)
	if why.Job != jobs[0].ID || why.State != "done" || len(why.Units) != 9 || !why.Units[8].Reduce {
		t.Errorf("compute why --json = %+v, want job %s done with 9 units, the last a reduce", why, jobs[0].ID)
	}
	for _, u := range why.Units {
		if u.Status != "done" || !strings.Contains(u.Why, "output") {
			t.Errorf("compute why --json: unit %d: status %q, why %q; want done with its output", u.Unit, u.Status, u.Why)
		}
	}
	if r := enxame(t, "compute", "why", "--home", h1, jobs[0].ID); r.code != 0 || !strings.Contains(r.stdout, "unit 8 (reduce): done, output") {
		t.Errorf("compute why: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := enxame(t, "compute", "workers", "--home", h1); r.code != 0 || !strings.Contains(r.stdout, "slots") {
		t.Errorf("compute workers: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := enxame(t, "compute", "status", "--home", h1, "nosuchjob"); r.code == 0 {
		t.Errorf("compute status of an unknown job exited 0")
	}
	start = time.Now()
	r := enxame(t, "compute", "run", "--home", h1, input)
	t.Logf("compute run of a text file took %v", time.Since(start))
	if r.code == 0 || !strings.Contains(r.stderr, "not a WebAssembly module") {
		t.Errorf("compute run of a text file as a module: exit %d, stderr %q; want a refusal", r.code, r.stderr)
	}
	oneLine(t, "compute run of a non-wasm module", r.stderr)
}

// nativeWordCount is the word count wordcount computes, in Go.
func nativeWordCount(s string) string {
	counts := map[string]int{}
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		counts[strings.Map(unicode.ToLower, w)]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s\t%d\n", k, counts[k])
	}
	return b.String()
}

// TestDemo runs `enxame demo` small: the README's main job.
func TestDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.png")
	res := enxame(t, "demo", "--peers", "4", "--file-mib", "8", "--units", "6", "--width", "320", "--height", "240", "--iter", "200", "-o", out)
	if res.code != 0 {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	t.Logf("demo:\n%s", res.stdout)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("demo wrote no image: %v", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width != 320 || cfg.Height != 240 {
		t.Errorf("demo image: %v, %dx%d; want a 320x240 PNG", err, cfg.Width, cfg.Height)
	}
	for _, want := range []string{"fetched and verified", "ran on peer", "job done"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
