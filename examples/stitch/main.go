// Command stitch joins image tiles into one PNG: the reduce step of a
// mandelbrot job.
//
// Input: every regular file under the input directory (default /input),
// in lexical path order, each a PNG tile of the same width; tiles are
// stacked top to bottom in that order, so name them so that lexical order
// is row order (for example 0000.png, 0001.png, ...). At most 2^28 pixels
// in all.
//
// Output: one PNG. When every tile is paletted with the same palette (as
// mandelbrot's are) the output is paletted too; otherwise it is NRGBA.
//
// Build: GOOS=wasip1 GOARCH=wasm go build ./examples/stitch
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// maxPixels bounds the stitched image's area.
const maxPixels = 1 << 28

func main() {
	input := flag.String("input", "/input", "directory of PNG tiles")
	flag.Parse()
	var tiles [][]byte
	err := filepath.WalkDir(*input, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		tiles = append(tiles, b)
		return nil
	})
	if err == nil {
		err = run(os.Stdout, tiles)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stitch:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, tiles [][]byte) error {
	img, err := stitch(tiles)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if err := png.Encode(bw, img); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return bw.Flush()
}

// stitch stacks the PNG tiles top to bottom.
func stitch(tiles [][]byte) (image.Image, error) {
	if len(tiles) == 0 {
		return nil, errors.New("no tiles")
	}
	width, height := 0, 0
	for i, b := range tiles {
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("tile %d: %w", i, err)
		}
		if i == 0 {
			width = cfg.Width
		}
		if cfg.Width != width {
			return nil, fmt.Errorf("tile %d is %d pixels wide, tile 0 is %d", i, cfg.Width, width)
		}
		height += cfg.Height
		if width > 0 && height > maxPixels/width {
			return nil, fmt.Errorf("stitched image over %d pixels", maxPixels)
		}
	}
	imgs := make([]image.Image, len(tiles))
	for i, b := range tiles {
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("tile %d: %w", i, err)
		}
		imgs[i] = img
	}
	bounds := image.Rect(0, 0, width, height)
	if pal, ok := commonPalette(imgs); ok {
		out := image.NewPaletted(bounds, pal)
		y := 0
		for _, img := range imgs {
			p := img.(*image.Paletted)
			draw.Draw(out, p.Bounds().Sub(p.Bounds().Min).Add(image.Pt(0, y)), p, p.Bounds().Min, draw.Src)
			y += p.Bounds().Dy()
		}
		return out, nil
	}
	out := image.NewNRGBA(bounds)
	y := 0
	for _, img := range imgs {
		b := img.Bounds()
		draw.Draw(out, b.Sub(b.Min).Add(image.Pt(0, y)), img, b.Min, draw.Src)
		y += b.Dy()
	}
	return out, nil
}

// commonPalette reports the palette shared by every image, if all are
// paletted with equal palettes.
func commonPalette(imgs []image.Image) (color.Palette, bool) {
	first, ok := imgs[0].(*image.Paletted)
	if !ok {
		return nil, false
	}
	for _, img := range imgs[1:] {
		p, ok := img.(*image.Paletted)
		if !ok || len(p.Palette) != len(first.Palette) {
			return nil, false
		}
		for i, c := range p.Palette {
			r1, g1, b1, a1 := c.RGBA()
			r2, g2, b2, a2 := first.Palette[i].RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return nil, false
			}
		}
	}
	return first.Palette, true
}
