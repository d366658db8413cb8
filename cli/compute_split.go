package cli

import (
	"fmt"
	"os"

	"github.com/enxame/enxame/node"
)

// checkSplitLines refuses, before the input is added, a --split-lines n
// that would cut the local file in into more units than a job may have
// (node.MaxUnits). The file is read once, in small pieces; an input
// given as a CID is checked by the daemon.
func checkSplitLines(in string, n int) error {
	fh, err := os.Open(in)
	if err != nil {
		return nil // a CID, or resolveContent reports it
	}
	defer fh.Close()
	lines, err := node.CountLines(fh)
	if err != nil {
		return fmt.Errorf("read %s: %w", in, err)
	}
	if u := node.LineUnits(lines, n); u > int64(node.MaxUnits) {
		least := (lines + int64(node.MaxUnits) - 1) / int64(node.MaxUnits)
		return usageError{fmt.Errorf("--split-lines %d would make %d units of %s (%d lines), over the cap of %d; use a larger N (at least %d)", n, u, in, lines, node.MaxUnits, least)}
	}
	return nil
}
