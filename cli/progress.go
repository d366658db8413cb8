package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressLine redraws one status line on a terminal; on anything else it
// prints nothing.
type progressLine struct {
	w    io.Writer
	on   bool
	last time.Time
	n    int // width of the last line drawn
}

func newProgressLine(w io.Writer) *progressLine { return &progressLine{w: w, on: isTerminal(w)} }

func (p *progressLine) draw(force bool, format string, args ...any) {
	if !p.on {
		return
	}
	if now := time.Now(); !force && now.Sub(p.last) < 100*time.Millisecond {
		return
	} else {
		p.last = now
	}
	s := fmt.Sprintf(format, args...)
	pad := ""
	if len(s) < p.n {
		pad = strings.Repeat(" ", p.n-len(s))
	}
	p.n = len(s)
	fmt.Fprintf(p.w, "\r%s%s", s, pad)
}

// done ends the line.
func (p *progressLine) done() {
	if p.on && p.n > 0 {
		fmt.Fprintln(p.w)
		p.n = 0
	}
}

// bytesHuman formats n bytes with a binary unit.
func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// rateHuman formats bytes per second in MB/s.
func rateHuman(bps float64) string { return fmt.Sprintf("%.1f MB/s", bps/1e6) }

// eta estimates the time left to move left bytes at bps.
func eta(left int64, bps float64) string {
	if bps <= 0 || left <= 0 {
		return "-"
	}
	return (time.Duration(float64(left) / bps * float64(time.Second))).Round(time.Second).String()
}
