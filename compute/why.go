package compute

import (
	"fmt"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/enxame/enxame/compute/sched"
)

// This file words what the scheduler decides: compute/sched returns reasons
// and counts (sched.Wait, sched.UnitSnapshot), and the explanations that
// `enxame compute why` prints are written here, in the shell.

// waitText explains in a sentence why a unit waits for a worker.
func waitText(w sched.Wait) string {
	var b strings.Builder
	b.WriteString(w.Reason.String())
	switch w.Reason {
	case sched.WaitBids, sched.WaitNoWorkers, sched.WaitNone:
		return b.String()
	case sched.WaitHeld:
		fmt.Fprintf(&b, ": %d with room are predicted slower than %d busy", w.Free, w.Busy)
		return b.String()
	case sched.WaitLimits:
		fmt.Fprintf(&b, ": needs %s of memory, the most offered is %s", bytesString(w.NeedMemory), bytesString(w.MaxMemory))
	}
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(w.Busy, "busy")
	add(w.Small, "with too little memory")
	add(w.Excluded, "already ran, failed or refused it")
	add(w.Avoided, "avoided after a fault")
	add(w.NoBid, "without a bid")
	add(w.Lost, "lost")
	if len(parts) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(parts, ", "))
		b.WriteString(")")
	}
	if w.Reason == sched.WaitNoBids && w.BidErr != "" {
		b.WriteString("; last: ")
		b.WriteString(w.BidErr)
	}
	return b.String()
}

// bytesString writes n bytes in binary units: "512 B", "1.5 GiB".
func bytesString(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// unitWhy explains in a few lines where a unit of s stands: its status,
// where each of its runs went, its failures, and, when it is not running,
// why not. It is what `enxame compute why` prints for a unit of the phase
// in progress.
func unitWhy(s *sched.Scheduler, id sched.UnitID) string {
	st, ok := s.Unit(id)
	if !ok {
		return fmt.Sprintf("unit %s: unknown", id)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "unit %s: %s", id, st.Status)
	switch st.Status {
	case sched.UnitDone:
		if len(st.Agreeing) > 0 {
			fmt.Fprintf(&b, ", output %s from %s", st.Output, st.Agreeing[0])
		}
	case sched.UnitVerified:
		fmt.Fprintf(&b, ", output %s agreed by %d of %d results (%s)", st.Output, len(st.Agreeing), countDone(st.Runs), joinIDs(st.Agreeing))
	case sched.UnitQueued:
		fmt.Fprintf(&b, ": %s", waitText(st.Wait))
	case sched.UnitAbandoned:
		if j, ok := s.Job(id.Job); ok && j.Failure != nil {
			fmt.Fprintf(&b, ": %s", j.Failure.Reason)
		} else {
			b.WriteString(": job cancelled")
		}
	}
	if n := len(st.Failures); n > 0 {
		fmt.Fprintf(&b, "; retried %d time(s)", n)
	}
	b.WriteString("\n")
	for _, r := range st.Runs {
		fmt.Fprintf(&b, "  replica %d on %s: %s", r.Replica, r.Worker, r.Status)
		if r.Backup {
			b.WriteString(" (backup of a straggler)")
		}
		switch r.Status {
		case sched.RunAssigned, sched.RunRunning:
			fmt.Fprintf(&b, " since %s, last sign of life %s, deadline %s",
				r.AssignedAt.Format(time.RFC3339), r.LastProgress.Format(time.RFC3339), r.Deadline.Format(time.RFC3339))
		case sched.RunDone:
			fmt.Fprintf(&b, ", output %s", r.Output)
		default:
			if r.Note != "" {
				fmt.Fprintf(&b, " (%s)", r.Note)
			}
		}
		b.WriteString("\n")
	}
	if st.Status != sched.UnitQueued && st.Wait.Reason != sched.WaitNone {
		fmt.Fprintf(&b, "  more replicas needed: %s\n", waitText(st.Wait))
	}
	return b.String()
}

func countDone(runs []sched.RunSnapshot) int {
	n := 0
	for _, r := range runs {
		if r.Status == sched.RunDone {
			n++
		}
	}
	return n
}

func joinIDs(ids []peer.ID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ", ")
}
