package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/enxame/enxame/node/control"
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

// jobProgress counts a job's units from its events for `compute run`'s
// progress line.
type jobProgress struct {
	total   int
	done    map[int]bool
	running map[int]map[string]bool // unit → workers running it
	failed  int                     // failed runs
}

func newJobProgress(total int) *jobProgress {
	return &jobProgress{total: total, done: map[int]bool{}, running: map[int]map[string]bool{}}
}

// observe counts ev.
func (p *jobProgress) observe(ev control.Event) {
	if ev.Unit < 0 {
		return
	}
	w := string(ev.Worker)
	switch ev.Kind {
	case control.EventRunning:
		if p.done[ev.Unit] {
			return
		}
		if p.running[ev.Unit] == nil {
			p.running[ev.Unit] = map[string]bool{}
		}
		p.running[ev.Unit][w] = true
	case control.EventDone, control.EventRejected:
		delete(p.running[ev.Unit], w)
	case control.EventRetried:
		delete(p.running[ev.Unit], w)
		p.failed++
	case control.EventVerified:
		p.done[ev.Unit] = true
		delete(p.running, ev.Unit)
	}
	if ev.Unit >= p.total {
		p.total = ev.Unit + 1
	}
}

// line renders p as "7/12 done, 2 running, 0 failed, 3.1 s".
func (p *jobProgress) line(elapsed time.Duration) string {
	running := 0
	for _, ws := range p.running {
		if len(ws) > 0 {
			running++
		}
	}
	return fmt.Sprintf("%d/%d done, %d running, %d failed, %.1f s", len(p.done), p.total, running, p.failed, elapsed.Seconds())
}
