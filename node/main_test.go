package node_test

import (
	"os"
	"testing"

	"github.com/enxame/enxame/node"
	"go.uber.org/goleak"
)

// TestMain makes the test binary double as a sandbox child, so that nodes'
// worker pools can start it (node.Deps.SandboxCommand defaults to this
// executable), and checks for leaked goroutines.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == node.SandboxChildCommand {
		os.Exit(node.SandboxChildMain(os.Stdin, os.Stdout))
	}
	goleak.VerifyTestMain(m)
}
