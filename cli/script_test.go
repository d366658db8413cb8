package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestComputeScriptFlags: compute submit takes a module or --script, not
// both or neither; a script of an unknown language or that does not parse
// is a usage error (exit 2) naming it, before anything is submitted; a good
// one is submitted with its source in the units' arguments (issue 14).
func TestComputeScriptFlags(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	d := runTestDaemon(t, daemonArgs(home)...)
	for !strings.HasPrefix(d.next(t), "ready in ") {
	}
	t.Cleanup(func() { d.stop(t) })
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("job.star", "print(len(args))\n")
	mod := write("trap.wasm", string(modTrap))
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr, or in stdout when code is 0
	}{
		{"neither", nil, 2, "--script FILE"},
		{"both", []string{mod, "--script", good}, 2, "not both"},
		{"two modules", []string{mod, mod}, 2, "one module"},
		{"unknown language", []string{"--script", write("job.py", "print(1)")}, 2, ".star"},
		{"starlark syntax error", []string{"--script", write("bad.star", "for x in y\n")}, 2, "bad.star:2:1"},
		{"javascript syntax error", []string{"--script", write("bad.js", "let = ;")}, 2, "bad.js"},
		{"reduce syntax error", []string{mod, "--reduce-script", write("r.star", "x = (")}, 2, "r.star"},
		{"missing script", []string{"--script", filepath.Join(dir, "nosuch.star")}, 1, "nosuch.star"},
		{"good", []string{"--script", good, "--arg", "a", "--trust", "one"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"compute", "submit", "--home", home}, tt.args...)
			code := Run(t.Context(), args, nil, &out, &errb, func(string) string { return "" })
			if code != tt.code || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("compute submit %q: exit %d, stderr %q; want exit %d and %q", tt.args, code, errb.String(), tt.code, tt.want)
			}
			if code == 0 {
				if n := strings.Count(errb.String(), "\n"); n > 0 {
					t.Errorf("compute submit %q: stderr %q, want none", tt.args, errb.String())
				}
			} else if n := strings.Count(strings.TrimSpace(errb.String()), "\n"); n > 0 {
				t.Errorf("compute submit %q: %d-line error %q, want one line", tt.args, n+1, errb.String())
			}
		})
	}
	var out, errb bytes.Buffer
	if code := Run(t.Context(), []string{"compute", "list", "--home", home, "--json"}, nil, &out, &errb, func(string) string { return "" }); code != 0 {
		t.Fatalf("compute list: exit %d: %s", code, errb.String())
	}
	if n := strings.Count(out.String(), `"id"`); n != 1 || !strings.Contains(out.String(), `"--script"`) || !strings.Contains(out.String(), "print(len(args))") {
		t.Errorf("compute list after one good script: %d jobs, want one carrying the script:\n%.600s", n, out.String())
	}
}
