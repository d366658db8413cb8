package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enxame/enxame/examples/script"
)

// runScript runs src with args over the files (name → content) and returns
// the exit status, stdout and stderr.
func runScript(t *testing.T, src string, args []string, files map[string]string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	argv, err := script.Encode("job.js", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(append(argv, args...), script.Input{Dir: dir}, &out, &errb)
	return code, out.String(), errb.String()
}

const wordcount = `
const counts = new Map();
for (const w of readInput().toLowerCase().split(/\s+/)) {
  if (w !== "") counts.set(w, (counts.get(w) || 0) + 1);
}
for (const w of [...counts.keys()].sort()) print(w + "\t" + counts.get(w));
`

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		args       []string
		files      map[string]string
		code       int
		out, inErr string
	}{
		{"word count", wordcount, nil, map[string]string{"000000": "b a\nA c b a\n"}, 0, "a\t3\nb\t2\nc\t1\n", ""},
		{"args", `print(args.length, ...args)`, []string{"x", "y z"}, nil, 0, "2 x y z\n", ""},
		{"input files and names", `
for (const n of inputFiles()) write(n + "=" + readInput(n) + ";");
console.log(readInput());`, nil, map[string]string{"b": "2", "a": "1"}, 0, "a=1;b=2;12\n", ""},
		{"no input", `print(JSON.stringify(readInput()), inputFiles().length)`, nil, nil, 0, "\"\" 0\n", ""},
		{"exit is not catchable", `try { print(1); exit(7); } catch (e) { print("caught") } print("not reached")`, nil, nil, 7, "1\n", ""},
		{"console.error goes to stderr", `console.error("oops", 1)`, nil, nil, 0, "", "oops 1\n"},
		{"syntax error", "print(\n", nil, nil, 1, "", "SyntaxError"},
		{"uncaught exception", "print('before');\nfunction f() { throw new Error('bad input'); }\nf();", nil, nil, 1, "before\n", "bad input"},
		{"missing input file", `readInput("nosuch")`, nil, nil, 1, "", "nosuch"},
		{"bad exit code", `exit(200)`, nil, nil, 1, "", "want 0 to 125"},
		{"no require", `require("fs")`, nil, nil, 1, "", "require"},
		{"unicode input", `print(readInput().length)`, nil, map[string]string{"a": "água"}, 0, "4\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runScript(t, tt.src, tt.args, tt.files)
			if code != tt.code || out != tt.out || !strings.Contains(errs, tt.inErr) {
				t.Errorf("run(%q) = %d, stdout %q, stderr %q; want %d, %q, stderr containing %q", tt.src, code, out, errs, tt.code, tt.out, tt.inErr)
			}
		})
	}
}

func TestRunNotAScript(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"a", "b"}, script.Input{Dir: t.TempDir()}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--script") {
		t.Errorf("run without a script = %d, stderr %q; want 2 and a hint", code, errb.String())
	}
}
