package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enxame/enxame/node"
)

// TestCheckSplitLines (bug: --split-lines N meant N parts): --split-lines
// N is N lines a unit; an N that would make more units than a job may have
// is a usage error naming the count, the cap and a larger N, before the
// input is added.
func TestCheckSplitLines(t *testing.T) {
	lines := int(node.MaxUnits) + 1
	in := filepath.Join(t.TempDir(), "big.txt")
	if err := os.WriteFile(in, []byte(strings.Repeat("line\n", lines)), 0o644); err != nil {
		t.Fatal(err)
	}
	err := checkSplitLines(in, 1)
	var ue usageError
	want := fmt.Sprintf("--split-lines 1 would make %d units of %s (%d lines), over the cap of %d; use a larger N (at least 2)", lines, in, lines, node.MaxUnits)
	if !errors.As(err, &ue) || err.Error() != want {
		t.Errorf("checkSplitLines(%d lines, 1) = %v, want usage error %q", lines, err, want)
	}
	for _, n := range []int{2, lines, 10 * lines} {
		if err := checkSplitLines(in, n); err != nil {
			t.Errorf("checkSplitLines(%d lines, %d) = %v, want nil", lines, n, err)
		}
	}
	f := jobFlags{inputs: []string{in}, splitLines: 1}
	if _, err := f.request(t.Context(), &env{}, nil, "m.wasm"); !errors.As(err, &ue) || !strings.Contains(err.Error(), "over the cap") {
		t.Errorf("request(--split-lines 1) = %v, want the cap's usage error before anything is added", err)
	}
}
