// Package wasm embeds prebuilt example work units, so that `enxame demo`
// runs without a Go toolchain. Rebuild them after changing their sources
// with `go generate ./examples/wasm` (they are GOOS=wasip1 GOARCH=wasm
// builds of ../mandelbrot and ../stitch, stripped).
package wasm

import _ "embed"

//go:generate sh -c "GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags='-s -w' -o mandelbrot.wasm ../mandelbrot"
//go:generate sh -c "GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags='-s -w' -o stitch.wasm ../stitch"

// Mandelbrot renders rows of a Mandelbrot image as a PNG (../mandelbrot).
//
//go:embed mandelbrot.wasm
var Mandelbrot []byte

// Stitch stacks PNG tiles into one image (../stitch).
//
//go:embed stitch.wasm
var Stitch []byte
