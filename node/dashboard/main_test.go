package dashboard_test

import (
	"os"
	"testing"

	"github.com/enxame/enxame/node"
	"go.uber.org/goleak"
)

// TestMain makes the test binary double as a sandbox child (the swarm's
// workers start it) and checks for leaked goroutines.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == node.SandboxChildCommand {
		os.Exit(node.SandboxChildMain(os.Stdin, os.Stdout))
	}
	goleak.VerifyTestMain(m)
}
