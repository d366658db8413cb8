package main

import (
	"bytes"
	"image/png"
	"testing"
)

func TestRunTile(t *testing.T) {
	p := params{w: 64, h: 48, y0: 8, y1: 20, iter: 100, xmin: -2.5, xmax: 1}
	var a, b bytes.Buffer
	if err := run(&a, p); err != nil {
		t.Fatalf("run(%+v): %v", p, err)
	}
	if err := run(&b, p); err != nil {
		t.Fatalf("run(%+v): %v", p, err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("run(%+v) is not deterministic", p)
	}
	img, err := png.Decode(&a)
	if err != nil {
		t.Fatalf("decode tile: %v", err)
	}
	if got := img.Bounds().Size(); got.X != 64 || got.Y != 12 {
		t.Errorf("tile size = %v, want 64x12", got)
	}
}

func TestValidate(t *testing.T) {
	ok := params{w: 8, h: 8, y0: 0, y1: 8, iter: 10, xmin: -2, xmax: 1}
	tests := []struct {
		name   string
		change func(*params)
	}{
		{name: "zero width", change: func(p *params) { p.w = 0 }},
		{name: "huge height", change: func(p *params) { p.h = maxSide + 1 }},
		{name: "empty tile", change: func(p *params) { p.y1 = p.y0 }},
		{name: "tile past bottom", change: func(p *params) { p.y1 = 9 }},
		{name: "no iterations", change: func(p *params) { p.iter = 0 }},
		{name: "reversed axis", change: func(p *params) { p.xmin, p.xmax = 1, -2 }},
	}
	if err := ok.validate(); err != nil {
		t.Fatalf("validate(%+v) = %v, want nil", ok, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			tt.change(&p)
			if err := p.validate(); err == nil {
				t.Errorf("validate(%+v) = nil, want an error", p)
			}
		})
	}
}
