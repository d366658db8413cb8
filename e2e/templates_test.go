package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/examples/examplestest"
)

// templateBuilds build examples/templates/{go,rust,c} with their
// toolchains (docs/first-job.md), as .ci/run installs them.
var templateBuilds = []struct {
	lang  string
	build func(t *testing.T, out string) []string // the command, nil when built already
}{
	{"go", nil},
	{"rust", func(t *testing.T, out string) []string {
		return []string{rustc(t), "--edition", "2021", "--target", "wasm32-wasi", "-O", "-C", "strip=symbols", "-o", out,
			filepath.Join("..", "examples", "templates", "rust", "main.rs")}
	}},
	{"c", func(t *testing.T, out string) []string {
		return []string{"clang", "--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-s", "-o", out,
			filepath.Join("..", "examples", "templates", "c", "main.c")}
	}},
}

// rustc returns Debian's rustc, which has the wasm32-wasi standard library
// (libstd-rust-dev-wasm32), when it is there: a rustup toolchain earlier in
// PATH may lack that target.
func rustc(t *testing.T) string {
	if _, err := os.Stat("/usr/bin/rustc"); err == nil {
		return "/usr/bin/rustc"
	}
	return "rustc"
}

// exitTwo matches a failure that reports exit status 2.
var exitTwo = regexp.MustCompile(`(?i)exit[^\n]*\b2\b`)

// TestTemplates builds the Go, Rust and C job templates with their
// toolchains and runs each on a real daemon over a split input: each
// unit's output lists its input file with its count of matching lines and
// a total; the totals add up to a native count. Without its argument a
// template exits 2 and the job fails.
func TestTemplates(t *testing.T) {
	root := t.TempDir()
	d := startDaemon(t, filepath.Join(root, "d"), "--compute-slots", "2")
	var text strings.Builder
	want := 0
	for i := range 3000 {
		line := fmt.Sprintf("line %d of the swarm", i)
		if i%7 == 0 {
			line = fmt.Sprintf("line %d: the bees hum", i)
			want++
		}
		fmt.Fprintln(&text, line)
	}
	input := writeFile(t, root, "text.txt", text.String())

	for _, tb := range templateBuilds {
		t.Run(tb.lang, func(t *testing.T) {
			module := filepath.Join(root, tb.lang+".wasm")
			if tb.build == nil {
				module = examplestest.BuildSource(t, filepath.Join("..", "examples", "templates", "go"))
			} else {
				argv := tb.build(t, module)
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
				defer cancel()
				if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
					t.Fatalf("build the %s template: %v: %v\n%s\n(install the toolchains: apt-get install rustc libstd-rust-dev-wasm32 clang lld wasi-libc libclang-rt-dev-wasm32)",
						tb.lang, argv, err, out)
				}
			}
			res := enxameFor(t, 3*time.Minute, "compute", "run", "--home", d.home, module, "--arg", "bees", "--input", input,
				"--split-lines", "1000", "--timeout", "2m", "-q")
			if res.code != 0 {
				t.Fatalf("compute run of the %s template: exit %d\nstderr:\n%s", tb.lang, res.code, res.stderr)
			}
			// Three units, each printing "NAME\tCOUNT" for its one input
			// file and "total\tCOUNT".
			lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
			if len(lines) != 6 {
				t.Fatalf("%s template output: %d lines, want 6 (two per unit):\n%s", tb.lang, len(lines), res.stdout)
			}
			sum := 0
			for i := 0; i < len(lines); i += 2 {
				var name string
				var n, total int
				if _, err := fmt.Sscanf(lines[i], "%s\t%d", &name, &n); err != nil {
					t.Fatalf("%s template: line %q: %v", tb.lang, lines[i], err)
				}
				if _, err := fmt.Sscanf(lines[i+1], "total\t%d", &total); err != nil || total != n {
					t.Errorf("%s template: unit %d printed %q then %q; want its file's count as the total", tb.lang, i/2, lines[i], lines[i+1])
				}
				sum += n
			}
			if sum != want {
				t.Errorf("%s template: the units counted %d matching lines, want %d:\n%s", tb.lang, sum, want, res.stdout)
			}

			r := enxameFor(t, 3*time.Minute, "compute", "run", "--home", d.home, module, "--input", input, "-q")
			if r.code == 0 || !exitTwo.MatchString(r.stderr) {
				t.Errorf("compute run of the %s template without its argument: exit %d, stderr %q; want a failed job (exit 2)", tb.lang, r.code, r.stderr)
			}
		})
	}
}
