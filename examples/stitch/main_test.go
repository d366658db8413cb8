package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

func encode(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatalf("encode: %v", err)
	}
	return buf.Bytes()
}

func band(w, h int, c uint8) *image.Paletted {
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White, color.Gray{Y: 128}})
	for i := range img.Pix {
		img.Pix[i] = c
	}
	return img
}

func TestStitchPaletted(t *testing.T) {
	tiles := [][]byte{encode(t, band(4, 2, 1)), encode(t, band(4, 3, 2))}
	img, err := stitch(tiles)
	if err != nil {
		t.Fatalf("stitch: %v", err)
	}
	p, ok := img.(*image.Paletted)
	if !ok {
		t.Fatalf("stitch gave %T, want *image.Paletted", img)
	}
	if got := p.Bounds().Size(); got != image.Pt(4, 5) {
		t.Fatalf("stitched size = %v, want 4x5", got)
	}
	for y, want := range []uint8{1, 1, 2, 2, 2} {
		if got := p.ColorIndexAt(3, y); got != want {
			t.Errorf("row %d index = %d, want %d", y, got, want)
		}
	}
}

func TestStitchMixed(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 4, 1))
	img, err := stitch([][]byte{encode(t, band(4, 1, 1)), encode(t, gray)})
	if err != nil {
		t.Fatalf("stitch: %v", err)
	}
	if _, ok := img.(*image.NRGBA); !ok {
		t.Fatalf("stitch gave %T, want *image.NRGBA", img)
	}
	if got := img.Bounds().Size(); got != image.Pt(4, 2) {
		t.Errorf("stitched size = %v, want 4x2", got)
	}
}

func TestStitchErrors(t *testing.T) {
	tests := []struct {
		name  string
		tiles [][]byte
	}{
		{name: "no tiles", tiles: nil},
		{name: "not png", tiles: [][]byte{[]byte("hello")}},
		{name: "widths differ", tiles: [][]byte{encode(t, band(4, 1, 0)), encode(t, band(5, 1, 0))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := stitch(tt.tiles); err == nil {
				t.Errorf("stitch(%s) = nil error, want an error", tt.name)
			}
		})
	}
}
