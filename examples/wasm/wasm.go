// Package wasm embeds prebuilt work units, so that `enxame demo` and
// `enxame compute run --script` run without a Go toolchain. Rebuild them
// after changing their sources (or the Go version) with `go generate
// ./examples/wasm`: they are GOOS=wasip1 GOARCH=wasm builds of ../mandelbrot,
// ../stitch, ../starlark and ../javascript, stripped; the script runtimes
// are kept gzipped (they are large) and unpacked on use.
package wasm

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/dop251/goja/parser"
	"github.com/enxame/enxame/examples/script"
	"go.starlark.net/syntax"
)

//go:generate sh -c "GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags='-s -w' -o mandelbrot.wasm ../mandelbrot"
//go:generate sh -c "GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags='-s -w' -o stitch.wasm ../stitch"
//go:generate sh -c "GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags='-s -w' -o starlark.wasm ../starlark && gzip -9nf starlark.wasm"
//go:generate sh -c "GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags='-s -w' -o javascript.wasm ../javascript && gzip -9nf javascript.wasm"

// Mandelbrot renders rows of a Mandelbrot image as a PNG (../mandelbrot).
//
//go:embed mandelbrot.wasm
var Mandelbrot []byte

// Stitch stacks PNG tiles into one image (../stitch).
//
//go:embed stitch.wasm
var Stitch []byte

//go:embed starlark.wasm.gz
var starlarkGz []byte

//go:embed javascript.wasm.gz
var javascriptGz []byte

var (
	starlarkOnce   = sync.OnceValues(func() ([]byte, error) { return gunzip(starlarkGz) })
	javascriptOnce = sync.OnceValues(func() ([]byte, error) { return gunzip(javascriptGz) })
)

// Starlark returns the Starlark runtime module (../starlark).
func Starlark() ([]byte, error) { return starlarkOnce() }

// JavaScript returns the JavaScript runtime module (../javascript).
func JavaScript() ([]byte, error) { return javascriptOnce() }

func gunzip(gz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("unpack embedded module: %w", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("unpack embedded module: %w", err)
	}
	return b, nil
}

// starlarkDialect is the Starlark dialect of ../starlark (whose resolver,
// not its parser, uses these options).
var starlarkDialect = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}

// ScriptLanguages maps the file extensions of scripts to their language.
var ScriptLanguages = map[string]string{".star": "starlark", ".js": "javascript"}

// Script returns, for the script file name (its language is chosen by its
// extension, see ScriptLanguages) with source src, the runtime module that
// runs it and the unit arguments that carry it (package examples/script);
// the script's own arguments go after them. A script that does not parse
// is refused here, with the position of its first error, before any unit
// runs it.
func Script(name string, src []byte) (module []byte, args []string, err error) {
	ext := strings.ToLower(filepath.Ext(name))
	base := filepath.Base(name)
	switch ScriptLanguages[ext] {
	case "starlark":
		if _, perr := starlarkDialect.Parse(base, src, 0); perr != nil {
			return nil, nil, fmt.Errorf("syntax error: %w", perr)
		}
		module, err = Starlark()
	case "javascript":
		if _, perr := parser.ParseFile(nil, base, string(src), 0); perr != nil {
			return nil, nil, fmt.Errorf("syntax error: %w", perr)
		}
		module, err = JavaScript()
	default:
		return nil, nil, fmt.Errorf("script %s: unknown language of %q: want .star (Starlark) or .js (JavaScript)", name, ext)
	}
	if err != nil {
		return nil, nil, err
	}
	args, err = script.Encode(base, src)
	if err != nil {
		return nil, nil, err
	}
	return module, args, nil
}
