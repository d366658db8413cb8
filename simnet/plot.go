package simnet

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// Series is one curve of a CDF plot.
type Series struct {
	Name    string
	Samples []time.Duration
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

// WriteCDF writes an SVG picture of the empirical CDFs of series (x:
// latency in milliseconds, y: fraction of lookups at or below it).
func WriteCDF(w io.Writer, title string, series []Series) error {
	const (
		W, H                   = 720, 440
		left, right, top, bott = 70, 20, 40, 60
	)
	pw, phh := float64(W-left-right), float64(H-top-bott)
	var maxX time.Duration
	for _, s := range series {
		for _, x := range s.Samples {
			maxX = max(maxX, x)
		}
	}
	xmax := niceCeil(float64(maxX) / float64(time.Millisecond))
	px := func(ms float64) float64 { return float64(left) + ms/xmax*pw }
	py := func(f float64) float64 { return float64(top) + (1-f)*phh }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" text-anchor="middle">%s</text>`+"\n", W/2, html.EscapeString(title))
	for i := 0; i <= 5; i++ {
		x := xmax * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, px(x), top, px(x), H-bott)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(x), H-bott+16, trimFloat(x))
		f := float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`, left, py(f), W-right, py(f))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.1f</text>`+"\n", left-6, py(f)+4, f)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#333"/>`+"\n", left, top, pw, phh)
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">lookup latency (ms, virtual time)</text>`+"\n", float64(left)+pw/2, H-16)
	fmt.Fprintf(&b, `<text x="18" y="%.0f" text-anchor="middle" transform="rotate(-90 18 %.0f)">fraction of lookups</text>`+"\n", float64(top)+phh/2, float64(top)+phh/2)
	for i, s := range series {
		col := palette[i%len(palette)]
		if len(s.Samples) > 0 {
			var pts strings.Builder
			fmt.Fprintf(&pts, "%.1f,%.1f", px(0), py(0))
			prev := 0.0
			for _, p := range CDF(s.Samples) {
				x := px(float64(p.X) / float64(time.Millisecond))
				fmt.Fprintf(&pts, " %.1f,%.1f %.1f,%.1f", x, py(prev), x, py(p.F))
				prev = p.F
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", col, pts.String())
		}
		ly := top + 16 + 18*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`, W-right-190, ly, W-right-165, ly, col)
		d := Summarize(s.Samples)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s (n=%d, p50 %s)</text>`+"\n", W-right-160, ly+4, html.EscapeString(s.Name), d.N, ms(d.P50))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (at least 1).
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}

// WriteShares writes an SVG bar chart of each fetcher's bytes by provider
// (stacked, one bar per fetcher), with the fetch time on each bar.
func WriteShares(w io.Writer, r FetchReport) error {
	const W, H, left, top, barH, gap = 720, 0, 160, 50, 28, 14
	h := top + len(r.Results)*(barH+gap) + 60
	pw := float64(W - left - 30)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, h)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" text-anchor="middle">Per-provider share of each fetch (%.1f MiB, %d providers, seed %d)</text>`+"\n",
		W/2, float64(r.FileBytes)/(1<<20), len(r.Providers), r.Seed)
	for k, f := range r.Results {
		y := top + k*(barH+gap)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">node %d (%s) %s</text>`+"\n", left-8, y+barH/2+4, f.Fetcher, f.Region, f.Took.Round(time.Millisecond))
		x := float64(left)
		for i, p := range r.Providers {
			wd := f.Shares[p] * pw
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", x, y, wd, barH, palette[i%len(palette)])
			x += wd
		}
	}
	ly := top + len(r.Results)*(barH+gap) + 10
	for i, p := range r.Providers {
		x := left + i*130
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="14" fill="%s"/><text x="%d" y="%d">provider %d (%s)</text>`+"\n",
			x, ly, palette[i%len(palette)], x+18, ly+12, p, r.ProvRegs[i])
	}
	_ = H
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
