package node

import (
	"io"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/examples/wasm"
	"github.com/enxame/enxame/share"
)

// What the CLI checks or prepares on its side before it asks the daemon,
// so that a job the daemon would refuse is a usage error (exit 2) before
// anything is added. The CLI depends on node and node/control only; these
// give it compute's rules without importing compute.

// MaxUnits caps the units of one job (compute.MaxUnits).
const MaxUnits = compute.MaxUnits

// ParseRange parses a --range value "A:B/N" (compute.ParseRange): N units
// over [A, B).
func ParseRange(s string) (n int, from, to int64, err error) {
	sp, err := compute.ParseRange(s)
	if err != nil {
		return 0, 0, 0, err
	}
	return sp.N, sp.From, sp.To, nil
}

// ValidName reports whether name may name a file of a job's inputs or
// outputs (compute.ValidName).
func ValidName(name string) bool { return compute.ValidName(name) }

// CountLines counts the lines of r as a --split-lines split counts them
// (compute.CountLinesReader).
func CountLines(r io.Reader) (int64, error) { return compute.CountLinesReader(r) }

// LineUnits is the number of units --split-lines n makes of lines lines
// (compute.LineUnits).
func LineUnits(lines int64, n int) int64 { return compute.LineUnits(lines, n) }

// ScriptModule returns the runtime module of a script's language, chosen
// by its file name (.star, .js), and the unit arguments that carry the
// script src to it (docs/scripts.md).
func ScriptModule(name string, src []byte) (module []byte, args []string, err error) {
	return wasm.Script(name, src)
}

// WriteFileAtomic writes what fill writes to path through a temporary file
// renamed into place when fill returns nil, never through a symlink
// (share.WriteFileAtomic): the CLI's export and compute results.
func WriteFileAtomic(path string, fill func(w io.Writer) error) error {
	return share.WriteFileAtomic(path, share.WriteFileOptions{}, fill)
}
