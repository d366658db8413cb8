package simnet

import (
	"cmp"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
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

// WriteMakespan writes an SVG picture of the compute scenario r: the
// makespan against each lower bound the report carries (total work ÷ total
// speed, the longest unit on the fastest worker, and the bound of whole
// units when set), and per worker class (slots × speed) the units its
// workers signed, the mean work time per slot they account for and the
// units a split in proportion to speed would have given it. All bars share
// one axis of virtual time, so a reader sees how close the schedule came to
// the bound and which classes idled.
//
// A report without units gives a picture that says so. The only error is
// w's.
func WriteMakespan(w io.Writer, r ComputeReport) error {
	var b strings.Builder
	if r.Units <= 0 {
		const W, H = 720, 120
		svgOpen(&b, W, H)
		fmt.Fprintf(&b, `<text x="%d" y="30" font-size="15" text-anchor="middle">Makespan against the lower bound: no units (seed %d)</text>`+"\n", W/2, r.Seed)
		fmt.Fprintf(&b, `<text x="%d" y="64" text-anchor="middle">%s</text>`+"\n", W/2, html.EscapeString(emptyReason(r)))
		b.WriteString("</svg>\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	m := newMakespanModel(r)

	const (
		W, left, right, top = 900, 190, 320, 84
		barH, gap, headH    = 22, 8, 34
	)
	row := barH + gap
	bars := []timeBar{{"makespan", r.Makespan, "#333"}}
	if m.split {
		bars = append(bars, timeBar{"work ÷ speed bound", m.work, palette[0]}, timeBar{"longest unit bound", m.longest, palette[1]})
	} else {
		bars = append(bars, timeBar{"lower bound", r.Bound, palette[0]})
	}
	if r.UnitBound > 0 {
		bars = append(bars, timeBar{"whole-units bound", r.UnitBound, palette[2]})
	}
	p2 := top + len(bars)*row + headH // first class row
	axisY := p2 + len(m.classes)*row
	H := axisY + 78
	pw := float64(W - left - right)
	maxT := 0.0
	for _, t := range bars {
		maxT = max(maxT, t.d.Seconds())
	}
	for _, c := range m.classes {
		maxT = max(maxT, c.perSlot)
	}
	step := niceStep(maxT / 5)
	if maxT <= 0 {
		step = 1
	}
	ticks := max(1, int(math.Ceil(maxT/step-1e-9)))
	xmax := float64(ticks) * step
	px := func(sec float64) float64 { return float64(left) + min(max(sec, 0), xmax)/xmax*pw }

	svgOpen(&b, W, H)
	slots := 0
	for _, wm := range r.Workers {
		slots += wm.Slots
	}
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" text-anchor="middle">Makespan against the lower bound: %d units × %d %s on %d %s (%d slots), seed %d</text>`+"\n",
		W/2, r.Units, m.replicas, plural(m.replicas, "replica", "replicas"), len(r.Workers), plural(len(r.Workers), "worker", "workers"), slots, r.Seed)
	sub := fmt.Sprintf("job %s; makespan %s = %s × the tightest bound %s; slots busy %.1f%%; %d failed runs reassigned",
		r.State, fmtDur(r.Makespan), fmtRatio(r.Makespan, m.tightest), fmtDur(m.tightest), r.Busy*100, r.Failures)
	fmt.Fprintf(&b, `<text x="%d" y="44" text-anchor="middle">%s</text>`+"\n", W/2, html.EscapeString(sub))
	if r.Error != "" {
		fmt.Fprintf(&b, `<text x="%d" y="62" text-anchor="middle" fill="%s">error: %s</text>`+"\n", W/2, palette[1], html.EscapeString(r.Error))
	}

	// Grid and axis, under both panels.
	for i := 0; i <= ticks; i++ {
		x := step * float64(i)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, px(x), top-6, px(x), axisY)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(x), axisY+16, tickLabel(x, step))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%.0f" y2="%d" stroke="#333"/>`+"\n", left, axisY, float64(left)+pw, axisY)
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">virtual time (s)</text>`+"\n", float64(left)+pw/2, axisY+36)

	// The bars' labels go in txt, written after the lines below.
	var txt strings.Builder
	// Panel 1: the makespan and the bounds.
	for i, t := range bars {
		y := top + i*row
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+barH/2+4, html.EscapeString(t.name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, px(t.d.Seconds())-float64(left), barH, t.color)
		label := fmtDur(t.d)
		if i > 0 {
			label += " (makespan " + fmtRatio(r.Makespan, t.d) + " × this)"
		}
		fmt.Fprintf(&txt, `<text x="%.1f" y="%d">%s</text>`+"\n", px(t.d.Seconds())+6, y+barH/2+4, html.EscapeString(label))
	}

	// Panel 2: per worker class.
	hy := top + len(bars)*row + headH - 12
	head := "per worker class (slots × speed): mean accepted work per slot; units signed (per worker, proportional share)"
	if !m.split {
		head = "per worker class (slots × speed): units signed (per worker, proportional share)"
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", 12, hy, html.EscapeString(head))
	for i, c := range m.classes {
		y := p2 + i*row
		name := fmt.Sprintf("%d × %s: %d %s", c.slots, trimFloat(c.speed), c.workers, plural(c.workers, "worker", "workers"))
		if c.wrong > 0 {
			name += fmt.Sprintf(" (%d wrong)", c.wrong)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+barH/2+4, html.EscapeString(name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s" fill-opacity="0.7"/>`+"\n",
			left, y, px(c.perSlot)-float64(left), barH, palette[4])
		label := fmt.Sprintf("%d units (%.1f/worker, share %.1f)", c.units, float64(c.units)/float64(c.workers), c.share)
		if m.split && r.Makespan > 0 {
			label = fmt.Sprintf("%ss/slot, %.0f%% of makespan; ", trimFloat(c.perSlot), 100*c.perSlot/r.Makespan.Seconds()) + label
		}
		fmt.Fprintf(&txt, `<text x="%.1f" y="%d">%s</text>`+"\n", px(c.perSlot)+6, y+barH/2+4, html.EscapeString(label))
	}

	// The makespan and the tightest bound across both panels (over the
	// bars, under their labels); the work ÷ speed bound across the
	// classes, where every class's bar would end if the work were split in
	// proportion to speed.
	for _, v := range []struct {
		d      time.Duration
		color  string
		name   string
		anchor string
		dx     float64
		y1     int
	}{
		{r.Makespan, "#333", "makespan", "start", 3, top - 6},
		{m.tightest, palette[1], "bound", "end", -3, top - 6},
		{m.work, palette[0], "", "", 0, p2 - 4},
	} {
		if v.d <= 0 {
			continue
		}
		x := px(v.d.Seconds())
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="5,4"/>`+"\n", x, v.y1, x, axisY, v.color)
		if v.name != "" {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s" font-size="10" fill="%s">%s</text>`+"\n", x+v.dx, top-10, v.anchor, v.color, v.name)
		}
	}

	b.WriteString(txt.String())
	notes := []string{"share: the units a split in proportion to slots × speed would give the class; class bars count accepted runs only (not cancelled or failed ones)"}
	if m.split {
		notes = append(notes, "blue dashes: total work ÷ total speed, where every class bar would end under that split with no idle slot")
	}
	for i, n := range notes {
		fmt.Fprintf(&b, `<text x="12" y="%d" font-size="10" fill="#555">%s</text>`+"\n", H-24+14*i, html.EscapeString(n))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceStep rounds v up to 1, 2, 2.5 or 5 times a power of ten (at least
// 0.001): the tick step of an axis.
func niceStep(v float64) float64 {
	switch {
	case !(v > 0.001): // also NaN
		return 0.001
	case math.IsInf(v, 1):
		return 1e12
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// tickLabel prints x, a multiple of step, with as many decimals as step
// needs.
func tickLabel(x, step float64) string {
	d := max(0, int(math.Ceil(-math.Log10(step)+1e-9)))
	if step*math.Pow(10, float64(d)) != math.Round(step*math.Pow(10, float64(d))) {
		d++ // 2.5 × 10^k
	}
	s := strconv.FormatFloat(x, 'f', d, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// timeBar is one bar of the makespan picture's first panel.
type timeBar struct {
	name  string
	d     time.Duration
	color string
}

// workerClass aggregates the workers of one slots × speed pair.
type workerClass struct {
	slots          int
	speed          float64
	workers, wrong int
	units          int
	share          float64 // units of a split in proportion to capacity
	perSlot        float64 // accepted work per slot, seconds (0 if unknown)
}

// makespanModel is what WriteMakespan derives from a report.
type makespanModel struct {
	replicas int
	// split is whether Bound could be split into its two terms (work and
	// longest, in virtual time); unitSec is then a unit's time at speed 1.
	split         bool
	work, longest time.Duration
	unitSec       float64
	tightest      time.Duration
	classes       []workerClass
}

// newMakespanModel derives the bound's terms and the worker classes from r.
// The report carries Bound = max(N·u/C, u/f) (N units × replicas, u one
// unit's seconds at speed 1, C the slots × speed of the workers that count,
// f the fastest of them) but not u, so u is Bound / max(N/C, 1/f); the
// split is kept only if that u gives back r.UnitBound, in case RunCompute's
// formula has changed since.
func newMakespanModel(r ComputeReport) makespanModel {
	m := makespanModel{replicas: max(r.Replicas, 1)}
	n := r.Units * m.replicas
	counts := func(wm WorkerModel) bool {
		return (!wm.Wrong || m.replicas > 1) && wm.Slots > 0 && wm.Speed > 0
	}
	var capacity, fastest float64
	for _, wm := range r.Workers {
		if counts(wm) {
			capacity += float64(wm.Slots) * wm.Speed
			fastest = max(fastest, wm.Speed)
		}
	}
	if n > 0 && capacity > 0 && r.Bound > 0 {
		k := max(float64(n)/capacity, 1/fastest)
		u := r.Bound.Seconds() / k
		ok := true
		if r.UnitBound > 0 {
			got := unitBound(r.Workers, n, u, m.replicas > 1)
			ok = math.Abs(float64(got-r.UnitBound)) <= 0.01*float64(r.UnitBound)
		}
		if ok && !math.IsNaN(u) && !math.IsInf(u, 0) {
			m.split, m.unitSec = true, u
			m.work = time.Duration(float64(n) * u / capacity * float64(time.Second))
			m.longest = time.Duration(u / fastest * float64(time.Second))
		}
	}
	m.tightest = max(r.Bound, r.UnitBound, 0)

	type key struct {
		slots int
		speed float64
	}
	idx := map[key]int{}
	total := 0
	for _, wm := range r.Workers {
		k := key{wm.Slots, wm.Speed}
		i, ok := idx[k]
		if !ok {
			i = len(m.classes)
			idx[k] = i
			m.classes = append(m.classes, workerClass{slots: wm.Slots, speed: wm.Speed})
		}
		c := &m.classes[i]
		c.workers++
		c.units += wm.Units
		total += wm.Units
		if wm.Wrong {
			c.wrong++
		}
		if counts(wm) {
			c.share += float64(wm.Slots) * wm.Speed // capacity until below
		}
	}
	slices.SortFunc(m.classes, func(a, b workerClass) int {
		return cmp.Or(cmp.Compare(a.slots, b.slots), cmp.Compare(a.speed, b.speed))
	})
	for i := range m.classes {
		c := &m.classes[i]
		if capacity > 0 {
			c.share = float64(total) * c.share / capacity
		} else {
			c.share = 0
		}
		if m.split && c.slots > 0 && c.speed > 0 {
			c.perSlot = float64(c.units) * m.unitSec / c.speed / float64(c.workers*c.slots)
		}
	}
	return m
}

func svgOpen(b *strings.Builder, w, h int) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
}

// emptyReason says why a compute report has nothing to plot.
func emptyReason(r ComputeReport) string {
	s := "the report has no units: nothing to plot"
	if r.State != "" {
		s += "; job " + r.State
	}
	if r.Error != "" {
		s += "; error: " + r.Error
	}
	return s
}

// fmtDur prints d to the millisecond, as the report's table does.
func fmtDur(d time.Duration) string { return d.Round(time.Millisecond).String() }

// fmtRatio prints a/b to three decimals, or "n/a" when b is not positive.
func fmtRatio(a, b time.Duration) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", float64(a)/float64(b))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
