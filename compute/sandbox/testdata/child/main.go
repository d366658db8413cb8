// Command child is a sandbox child process for the sandbox's tests under
// the race detector, where the test binary itself would compile modules
// too slowly to serve as the child.
package main

import (
	"os"

	"github.com/enxame/enxame/compute/sandbox"
)

func main() {
	os.Exit(sandbox.ChildMain(os.Stdin, os.Stdout))
}
