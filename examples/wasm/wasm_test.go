package wasm

import (
	"bytes"
	"strings"
	"testing"

	"github.com/enxame/enxame/examples/script"
)

// wasmMagic is the first bytes of every WebAssembly binary module.
var wasmMagic = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

func TestEmbedded(t *testing.T) {
	star, err := Starlark()
	if err != nil {
		t.Fatalf("Starlark: %v", err)
	}
	js, err := JavaScript()
	if err != nil {
		t.Fatalf("JavaScript: %v", err)
	}
	for name, m := range map[string][]byte{"mandelbrot": Mandelbrot, "stitch": Stitch, "starlark": star, "javascript": js} {
		if !bytes.HasPrefix(m, wasmMagic) {
			t.Errorf("%s.wasm does not start with the WebAssembly magic and version", name)
		}
		if len(m) < 100<<10 {
			t.Errorf("%s.wasm is %d bytes: too small to be the Go build", name, len(m))
		}
	}
}

func TestScript(t *testing.T) {
	star, _ := Starlark()
	js, _ := JavaScript()
	tests := []struct {
		name string
		want []byte
	}{
		{"dir/job.star", star},
		{"JOB.STAR", star},
		{"job.js", js},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod, args, err := Script(tt.name, []byte("print(1)"))
			if err != nil {
				t.Fatalf("Script(%q): %v", tt.name, err)
			}
			if !bytes.Equal(mod, tt.want) {
				t.Errorf("Script(%q) gave the wrong runtime (%d bytes)", tt.name, len(mod))
			}
			name, src, rest, err := script.Decode(args)
			if err != nil || strings.Contains(name, "/") || src != "print(1)" || len(rest) != 0 {
				t.Errorf("Script(%q) args decode to %q, %q, %q, %v", tt.name, name, src, rest, err)
			}
		})
	}
	syntaxErrors := []struct{ name, src, want string }{
		{"job.star", "print(\n", "job.star:2:1"},
		{"job.js", "print(\n", "job.js: Line 2:1"},
	}
	for _, tt := range syntaxErrors {
		if _, _, err := Script(tt.name, []byte(tt.src)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Script(%q, %q) error = %v, want a syntax error at %q", tt.name, tt.src, err, tt.want)
		}
	}
	for _, bad := range []string{"job.py", "job", "job.wasm"} {
		if _, _, err := Script(bad, []byte("x")); err == nil || !strings.Contains(err.Error(), ".star") {
			t.Errorf("Script(%q) error = %v, want one naming the known extensions", bad, err)
		}
	}
}
