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
	argv, err := script.Encode("job.star", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(append(argv, args...), script.Input{Dir: dir}, &out, &errb)
	return code, out.String(), errb.String()
}

const wordcount = `
counts = {}
for w in read_input().lower().split():
    counts[w] = counts.get(w, 0) + 1
for w in sorted(counts):
    print(w + "\t" + str(counts[w]))
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
		{"args", `print(len(args), *args)`, []string{"x", "y z"}, nil, 0, "2 x y z\n", ""},
		{"input files and names", `
for n in input_files():
    write(n + "=" + read_input(n) + ";")
print(read_input())`, nil, map[string]string{"b": "2", "a": "1"}, 0, "a=1;b=2;12\n", ""},
		{"no input", `print(repr(read_input()), input_files())`, nil, nil, 0, "\"\" []\n", ""},
		{"while and exit", `
i = 0
while True:
    i += 1
    if i == 3:
        print(i)
        exit(7)
print("not reached")`, nil, nil, 7, "3\n", ""},
		{"eprint goes to stderr", `eprint("oops", 1)`, nil, nil, 0, "", "oops 1\n"},
		{"json", `print(json.encode({"a": [1, 2]}))`, nil, nil, 0, "{\"a\":[1,2]}\n", ""},
		{"syntax error", "print(\n", nil, nil, 1, "", "job.star:2:1"},
		{"runtime error", "def f():\n    return 1 // 0\nprint('before')\nf()\n", nil, nil, 1, "before\n", "division by zero"},
		{"fail", `fail("bad input")`, nil, nil, 1, "", "bad input"},
		{"missing input file", `read_input("nosuch")`, nil, nil, 1, "", "nosuch"},
		{"bad exit code", `exit(200)`, nil, nil, 1, "", "want 0 to 125"},
		{"no load", `load("x.star", "y")`, nil, nil, 1, "", "load"},
		{"no clock", `time.now()`, nil, nil, 1, "", "undefined: time"},
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
