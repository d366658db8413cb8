package node

import (
	"io"

	"github.com/enxame/enxame/compute/sandbox"
)

// SandboxChildCommand is the hidden subcommand of the enxame binary that runs
// a sandbox child process: the worker's pool starts the binary itself with it.
const SandboxChildCommand = "sandbox-child"

// SandboxChildMain is the entry point of a sandbox child process: it speaks
// the sandbox protocol on stdin and stdout and returns the exit status. The
// binary must call it before reading any home, config or flag.
func SandboxChildMain(stdin io.Reader, stdout io.Writer) int {
	return sandbox.ChildMain(stdin, stdout)
}
