// Command mandelbrot renders one tile of a Mandelbrot set image: a map
// work unit whose tiles are joined by stitch.
//
// The whole image is -w by -h pixels; the tile is the band of rows
// [-y0, -y1) across the full width. The real axis spans [-xmin, -xmax]
// across the width; pixels are square, and the imaginary axis is centred
// on -ycenter. A pixel is coloured by how many iterations of z = z² + c
// (at most -iter) its centre takes to escape |z| > 2; points that never
// escape are black.
//
// Output: a paletted PNG of the tile, w by (y1-y0) pixels. The same
// arguments always give byte-identical output.
//
// Example: mandelbrot -w 1024 -h 768 -y0 0 -y1 96 -iter 500
//
// Build: GOOS=wasip1 GOARCH=wasm go build ./examples/mandelbrot
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"strconv"
)

// maxSide bounds the image's width and height, in pixels.
const maxSide = 1 << 15

// params describes the whole image and the tile to render.
type params struct {
	w, h       int     // image size in pixels
	y0, y1     int     // tile rows [y0, y1)
	iter       int     // maximum iterations per pixel
	xmin, xmax float64 // real axis range across the width
	ycenter    float64 // imaginary value at the image's vertical centre
}

func main() {
	var p params
	flag.IntVar(&p.w, "w", 1024, "image width in pixels")
	flag.IntVar(&p.h, "h", 768, "image height in pixels")
	flag.IntVar(&p.y0, "y0", 0, "first row of the tile")
	flag.IntVar(&p.y1, "y1", -1, "row after the last row of the tile (default: -h)")
	flag.IntVar(&p.iter, "iter", 256, "maximum iterations per pixel")
	flag.Float64Var(&p.xmin, "xmin", -2.5, "real value at the left edge")
	flag.Float64Var(&p.xmax, "xmax", 1.0, "real value at the right edge")
	flag.Float64Var(&p.ycenter, "ycenter", 0, "imaginary value at the vertical centre")
	flag.Parse()
	if p.y1 < 0 {
		p.y1 = p.h
	}
	// Two positional arguments "Y0 Y1" give the tile's rows, as enxame's
	// `compute run --range 0:H/N` passes each unit its sub-range.
	if flag.NArg() > 0 {
		if flag.NArg() != 2 {
			fmt.Fprintln(os.Stderr, "mandelbrot: want no positional arguments or two: Y0 Y1")
			os.Exit(2)
		}
		var err0, err1 error
		p.y0, err0 = strconv.Atoi(flag.Arg(0))
		p.y1, err1 = strconv.Atoi(flag.Arg(1))
		if err0 != nil || err1 != nil {
			fmt.Fprintf(os.Stderr, "mandelbrot: rows %q %q: want integers\n", flag.Arg(0), flag.Arg(1))
			os.Exit(2)
		}
	}
	if err := run(os.Stdout, p); err != nil {
		fmt.Fprintln(os.Stderr, "mandelbrot:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, p params) error {
	if err := p.validate(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if err := png.Encode(bw, render(p)); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return bw.Flush()
}

func (p params) validate() error {
	switch {
	case p.w < 1 || p.w > maxSide || p.h < 1 || p.h > maxSide:
		return fmt.Errorf("image size %dx%d: each side must be in [1, %d]", p.w, p.h, maxSide)
	case p.y0 < 0 || p.y1 > p.h || p.y0 >= p.y1:
		return fmt.Errorf("tile rows [%d, %d): want 0 <= y0 < y1 <= h (%d)", p.y0, p.y1, p.h)
	case p.iter < 1 || p.iter > 1_000_000:
		return errors.New("iter must be in [1, 1000000]")
	case !(p.xmin < p.xmax):
		return errors.New("xmin must be below xmax")
	}
	return nil
}

// render draws the tile's rows. Index 0 of the palette is the set itself.
func render(p params) *image.Paletted {
	img := image.NewPaletted(image.Rect(0, 0, p.w, p.y1-p.y0), palette())
	scale := (p.xmax - p.xmin) / float64(p.w)
	for y := p.y0; y < p.y1; y++ {
		ci := p.ycenter + (float64(p.h)/2-(float64(y)+0.5))*scale
		row := img.Pix[(y-p.y0)*img.Stride:]
		for x := 0; x < p.w; x++ {
			cr := p.xmin + (float64(x)+0.5)*scale
			n := escape(cr, ci, p.iter)
			if n < p.iter {
				row[x] = uint8(1 + n%255)
			}
		}
	}
	return img
}

// escape returns how many iterations c = cr + ci·i takes to leave the disc
// of radius 2, or max if it does not.
func escape(cr, ci float64, max int) int {
	var zr, zi float64
	for n := 0; n < max; n++ {
		zr2, zi2 := zr*zr, zi*zi
		if zr2+zi2 > 4 {
			return n
		}
		zi = 2*zr*zi + ci
		zr = zr2 - zi2 + cr
	}
	return max
}

// palette is black followed by 255 colours of a fixed gradient.
func palette() color.Palette {
	pal := make(color.Palette, 256)
	pal[0] = color.RGBA{A: 255}
	for i := 1; i < 256; i++ {
		t := float64(i-1) / 254
		pal[i] = color.RGBA{
			R: uint8(9 * (1 - t) * t * t * t * 255),
			G: uint8(15 * (1 - t) * (1 - t) * t * t * 255),
			B: uint8(8.5 * (1 - t) * (1 - t) * (1 - t) * t * 255),
			A: 255,
		}
	}
	return pal
}
