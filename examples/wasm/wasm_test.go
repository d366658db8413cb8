package wasm

import (
	"bytes"
	"testing"
)

// wasmMagic is the first bytes of every WebAssembly binary module.
var wasmMagic = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

func TestEmbedded(t *testing.T) {
	for name, m := range map[string][]byte{"mandelbrot": Mandelbrot, "stitch": Stitch} {
		if !bytes.HasPrefix(m, wasmMagic) {
			t.Errorf("%s.wasm does not start with the WebAssembly magic and version", name)
		}
		if len(m) < 100<<10 {
			t.Errorf("%s.wasm is %d bytes: too small to be the Go build", name, len(m))
		}
	}
}
