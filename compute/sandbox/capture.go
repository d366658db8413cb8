package sandbox

import (
	"errors"
	"fmt"
	"sync"
)

// errOutputOver is returned to the guest's fd_write once stdout is full.
var errOutputOver = errors.New("output over cap")

// cappedOutput collects a unit's stdout up to max bytes. The first write
// past max keeps what fits, calls onOver once, and fails; so do all later
// writes. Not safe for concurrent use (a unit's stdout is written by its one
// goroutine).
type cappedOutput struct {
	buf    []byte
	max    int64
	over   bool
	onOver func()
}

func (w *cappedOutput) Write(p []byte) (int, error) {
	if w.over {
		return 0, errOutputOver
	}
	room := w.max - int64(len(w.buf))
	if int64(len(p)) > room {
		w.buf = append(w.buf, p[:room]...)
		w.over = true
		if w.onOver != nil {
			w.onOver()
		}
		return int(room), errOutputOver
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// headTail keeps the first and the last max/2 bytes written to it, and
// counts the rest. Writes never fail. Not safe for concurrent use.
type headTail struct {
	max   int
	head  []byte
	tail  []byte // its last max-max/2 bytes are kept
	total int64
}

func newHeadTail(max int) *headTail {
	return &headTail{max: max}
}

func (h *headTail) Write(p []byte) (int, error) {
	n := len(p)
	h.total += int64(n)
	if room := h.max/2 - len(h.head); room > 0 {
		take := min(room, len(p))
		h.head = append(h.head, p[:take]...)
		p = p[take:]
	}
	keep := h.max - h.max/2
	if keep <= 0 || len(p) == 0 {
		return n, nil
	}
	if len(p) >= keep {
		h.tail = append(h.tail[:0], p[len(p)-keep:]...)
		return n, nil
	}
	h.tail = append(h.tail, p...)
	if len(h.tail) > 2*keep {
		// Compact only now and then, so a flood of tiny writes costs
		// amortised O(1) per byte.
		h.tail = append(h.tail[:0], h.tail[len(h.tail)-keep:]...)
	}
	return n, nil
}

// markerRoom bounds the bytes headTail.Bytes adds to those it keeps: its
// marker line.
const markerRoom = 64

// Bytes returns what was kept, with a marker where bytes were dropped: at
// most max+markerRoom bytes.
func (h *headTail) Bytes() []byte {
	keep := h.max - h.max/2
	tail := h.tail
	if len(tail) > keep {
		tail = tail[len(tail)-keep:]
	}
	dropped := h.total - int64(len(h.head)) - int64(len(tail))
	out := make([]byte, 0, len(h.head)+len(tail)+48)
	out = append(out, h.head...)
	if dropped > 0 {
		out = fmt.Appendf(out, "\n[... %d bytes dropped ...]\n", dropped)
	}
	return append(out, tail...)
}

// syncHeadTail is a headTail safe for concurrent use, for a child process's
// own stderr, which exec copies from a goroutine of its own.
type syncHeadTail struct {
	mu sync.Mutex
	h  *headTail
}

func (s *syncHeadTail) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h.Write(p)
}

func (s *syncHeadTail) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.h.Bytes())
}
