package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/kubotest"
)

// TestShareAddFlags runs `enxame add` with each of its flags through the
// binary and compares the CIDs it prints with those the real Kubo v0.43.1
// prints for the same bytes and the matching `ipfs add` flags (issue 3: the
// add flags had no CLI-level test, `add -w -` failed, `add -v` printed
// absolute paths).
func TestShareAddFlags(t *testing.T) {
	home := t.TempDir()
	startDaemon(t, home)
	k := kubotest.Start(t)

	root := t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 700<<10+33) // 3 chunks of 256 KiB, 11 of 64 KiB
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	file := filepath.Join(root, "data.bin")
	writeFileAll(t, file, data)
	dir := filepath.Join(root, "sub", "dir")
	writeFileAll(t, filepath.Join(dir, "a.txt"), []byte("hello\n"))
	writeFileAll(t, filepath.Join(dir, "inner", "b.bin"), data[:300<<10])
	writeFileAll(t, filepath.Join(dir, "z.txt"), []byte("last\n"))

	v1 := []string{"--cid-version=1", "--raw-leaves"}
	tests := []struct {
		name  string
		args  []string // after add --home HOME; "-" reads data from stdin
		stdin bool
		kubo  []string // `ipfs add` flags for the same CID; the path last unless stdin
	}{
		{name: "stdin", args: []string{"-"}, stdin: true, kubo: v1},
		{name: "stdin wrap", args: []string{"-w", "-"}, stdin: true, kubo: append([]string{"-w"}, v1...)},
		{name: "stdin wrap named", args: []string{"-w", "--stdin-name", "data.bin", "-"}, stdin: true,
			kubo: append([]string{"-w", "--stdin-name", "data.bin"}, v1...)},
		{name: "stdin chunk-size", args: []string{"--chunk-size", "65536", "-"}, stdin: true,
			kubo: append([]string{"--chunker=size-65536"}, v1...)},
		{name: "stdin cid-version 0", args: []string{"--cid-version", "0", "-"}, stdin: true,
			kubo: []string{"--cid-version=0", "--raw-leaves=false"}},
		{name: "file", args: []string{file}, kubo: append(v1, file)},
		{name: "file wrap", args: []string{"-w", file}, kubo: append([]string{"-w"}, append(v1, file)...)},
		{name: "file chunk-size", args: []string{"--chunk-size", "65536", file},
			kubo: append([]string{"--chunker=size-65536"}, append(v1, file)...)},
		{name: "file cid-version 0", args: []string{"--cid-version", "0", file},
			kubo: []string{"--cid-version=0", "--raw-leaves=false", file}},
		{name: "dir", args: []string{dir}, kubo: append([]string{"-r"}, append(v1, dir)...)},
		{name: "dir wrap", args: []string{"-w", dir}, kubo: append([]string{"-r", "-w"}, append(v1, dir)...)},
		{name: "dir cid-version 0 chunk-size", args: []string{"--cid-version", "0", "--chunk-size", "1000", dir},
			kubo: []string{"-r", "--cid-version=0", "--raw-leaves=false", "--chunker=size-1000", dir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []byte
			if tt.stdin {
				in = data
			}
			want := kuboAdd(t, k, in, tt.kubo...)
			res := enxameIO(t, root, in, append([]string{"add", "--home", home}, tt.args...)...)
			if res.code != 0 {
				t.Fatalf("enxame add %v: exit %d: %s", tt.args, res.code, res.stderr)
			}
			if got := strings.TrimSpace(res.stdout); got != want.root {
				t.Errorf("enxame add %v printed %q, Kubo `ipfs add %v` %s", tt.args, got, tt.kubo, want.root)
			}
		})
	}

	// -v prints every file's and directory's CID with Kubo's names:
	// relative to the argument's parent, whether given relative (from the
	// cwd) or absolute; stdin is named by its CID or --stdin-name.
	verbose := []struct {
		name  string
		args  []string
		stdin bool
		kubo  []string
	}{
		{name: "relative dir", args: []string{"-v", filepath.Join("sub", "dir")}, kubo: append([]string{"-r"}, append(v1, dir)...)},
		{name: "absolute dir", args: []string{"-v", dir}, kubo: append([]string{"-r"}, append(v1, dir)...)},
		{name: "dot-relative file", args: []string{"-v", "./data.bin"}, kubo: append(v1, file)},
		{name: "stdin", args: []string{"-v", "-"}, stdin: true, kubo: v1},
		{name: "stdin named", args: []string{"-v", "--stdin-name", "x.bin", "-"}, stdin: true,
			kubo: append([]string{"--stdin-name", "x.bin"}, v1...)},
	}
	for _, tt := range verbose {
		t.Run("verbose "+tt.name, func(t *testing.T) {
			var in []byte
			if tt.stdin {
				in = data
			}
			want := kuboAdd(t, k, in, tt.kubo...)
			res := enxameIO(t, root, in, append([]string{"add", "--home", home}, tt.args...)...)
			if res.code != 0 {
				t.Fatalf("enxame add %v: exit %d: %s", tt.args, res.code, res.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
			if last := lines[len(lines)-1]; last != want.root {
				t.Errorf("enxame add %v: last line %q, want the root %s", tt.args, last, want.root)
			}
			got := slices.Sorted(slices.Values(lines[:len(lines)-1]))
			if !slices.Equal(got, want.added) {
				t.Errorf("enxame add %v printed\n%s\nKubo `ipfs add %v` printed\n%s", tt.args,
					strings.Join(got, "\n"), tt.kubo, strings.Join(want.added, "\n"))
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		want := kuboAdd(t, k, nil, append([]string{"-r"}, append(v1, dir)...)...)
		res := enxameIO(t, root, nil, "add", "--home", home, "--json", dir)
		if res.code != 0 {
			t.Fatalf("enxame add --json: exit %d: %s", res.code, res.stderr)
		}
		type event struct {
			Event string `json:"event"`
			Path  string `json:"path"`
			CID   string `json:"cid"`
			Root  string `json:"root"`
			Bytes int64  `json:"bytes"`
		}
		var events []event
		sc := bufio.NewScanner(strings.NewReader(res.stdout))
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("add --json line %q: %v", sc.Text(), err)
			}
			events = append(events, e)
		}
		if len(events) == 0 || events[len(events)-1].Event != "done" {
			t.Fatalf("add --json printed %q; want NDJSON events ending in done", res.stdout)
		}
		done := events[len(events)-1]
		if done.Root != want.root || done.Bytes != 6+300<<10+5 {
			t.Errorf("add --json done: root %s, %d bytes; want %s (Kubo), %d", done.Root, done.Bytes, want.root, 6+300<<10+5)
		}
		var added []string
		seen := map[string]int{} // path → index of its added event
		for i, e := range events[:len(events)-1] {
			switch e.Event {
			case "progress":
			case "added":
				added = append(added, e.CID)
				seen[e.Path] = i
			default:
				t.Errorf("add --json event %d is %q, want progress or added before done", i, e.Event)
			}
		}
		var kuboCIDs []string
		for _, l := range want.added {
			kuboCIDs = append(kuboCIDs, strings.Fields(l)[1])
		}
		if slices.Sort(added); !slices.Equal(added, slices.Sorted(slices.Values(kuboCIDs))) {
			t.Errorf("add --json: added CIDs %v, Kubo's %v", added, kuboCIDs)
		}
		// Children come before their directory, the root directory last.
		for p, i := range seen {
			if parent, ok := seen[filepath.Dir(p)]; ok && parent < i {
				t.Errorf("add --json: %s added at event %d, after its directory (%d)", p, i, parent)
			}
		}
		if last := events[len(events)-2]; last.Event != "added" || last.CID != want.root {
			t.Errorf("add --json: event before done is %+v, want the root directory added", last)
		}
	})
}

// TestShareErrorsNameCIDOnce checks that a share command's error is one
// line naming its CID once (issue 3: "ls X: ls X: share: ls X: …").
func TestShareErrorsNameCIDOnce(t *testing.T) {
	home := t.TempDir()
	startDaemon(t, home)
	const nobody = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	out := filepath.Join(t.TempDir(), "out")
	tests := []struct {
		op   string
		args []string
	}{
		{"ls", []string{"ls", nobody, "--timeout", "2s"}},
		{"get", []string{"get", nobody, "--timeout", "2s", "-o", out}},
		{"cat", []string{"cat", nobody, "--timeout", "2s"}},
		{"pin add", []string{"pin", "add", nobody, "--timeout", "2s"}},
		{"pin rm", []string{"pin", "rm", nobody}},
		{"export", []string{"export", nobody, "--timeout", "2s", "-o", out}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			t.Parallel() // each waits out its 2 s timeout
			res := enxame(t, append(tt.args, "--home", home)...)
			if res.code != 1 {
				t.Errorf("enxame %v: exit %d, want 1 (stderr %q)", tt.args, res.code, res.stderr)
			}
			oneLine(t, strings.Join(tt.args, " "), res.stderr)
			if n := strings.Count(res.stderr, nobody); n != 1 {
				t.Errorf("enxame %v: stderr %q names the CID %d times, want once", tt.args, res.stderr, n)
			}
			if strings.Contains(res.stderr, "share: ") {
				t.Errorf("enxame %v: stderr %q repeats the package prefix", tt.args, res.stderr)
			}
			if want := "enxame: " + tt.op + " "; !strings.HasPrefix(res.stderr, want) && !strings.HasPrefix(res.stderr, "enxame: "+tt.op+": ") {
				t.Errorf("enxame %v: stderr %q, want it to start with %q", tt.args, res.stderr, want)
			}
		})
	}
}

// kuboResult is what `ipfs add` printed: the root CID (the last line's)
// and its "added CID NAME" lines, sorted.
type kuboResult struct {
	root  string
	added []string
}

// kuboAdd runs `ipfs add args` on k with stdin (none when nil).
func kuboAdd(t *testing.T, k *kubotest.Node, stdin []byte, args ...string) kuboResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), kubotest.DefaultTimeout)
	defer cancel()
	var in io.Reader
	if stdin != nil {
		in = bytes.NewReader(stdin)
	}
	var out bytes.Buffer
	full := append([]string{"add"}, args...)
	if err := k.Kubo().Run(ctx, in, &out, full...); err != nil {
		t.Fatalf("ipfs %v: %v", full, err)
	}
	var lines []string
	for line := range strings.Lines(out.String()) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "added" {
			lines = append(lines, strings.TrimSuffix(line, "\n"))
		}
	}
	if len(lines) == 0 {
		t.Fatalf("ipfs %v printed no added line: %q", full, out.String())
	}
	return kuboResult{root: strings.Fields(lines[len(lines)-1])[1], added: slices.Sorted(slices.Values(lines))}
}

// enxameIO runs the binary in dir with stdin (none when nil), like enxame.
func enxameIO(t *testing.T, dir string, stdin []byte, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = testEnv(t)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run enxame %v: %v", args, err)
	}
	return res
}

func writeFileAll(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
