package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/node/control"
	"github.com/spf13/cobra"
)

// moduleArgs accepts the module of compute run and submit, which --script
// may replace.
func moduleArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 1 {
		return usageError{fmt.Errorf("%s takes one module (a .wasm file or a CID) or --script FILE, got %d arguments (see '%s --help')",
			cmd.CommandPath(), len(args), cmd.CommandPath())}
	}
	return nil
}

// firstArg returns args[0], or "" when there is none.
func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// moduleOrScript resolves a job's (or its reduce's) module: the file or CID
// module, or, with a script file, the runtime module of the script's
// language, added from the binary, and the unit arguments that carry the
// script to it (docs/scripts.md). flag names the script's flag in errors.
func moduleOrScript(ctx context.Context, e *env, cl *control.Client, module, script, flag string) (string, []string, error) {
	switch {
	case module != "" && script != "":
		return "", nil, usageError{fmt.Errorf("give a module (%s) or %s %s, not both", module, flag, script)}
	case script == "" && module == "":
		return "", nil, usageError{errors.New("give a module (a .wasm file or a CID) or --script FILE")}
	case script == "":
		c, err := resolveContent(ctx, e, cl, module)
		return c, nil, err
	}
	src, err := os.ReadFile(script)
	if err != nil {
		return "", nil, fmt.Errorf("%s %s: %w", flag, script, unwrapPath(err))
	}
	mod, args, err := node.ScriptModule(script, src)
	if err != nil {
		return "", nil, usageError{fmt.Errorf("%s: %w", flag, err)}
	}
	// Added from a file the daemon reads (it runs beside the CLI): the
	// daemon's add from a request body fails when the body outlasts its
	// first progress event.
	f, err := os.CreateTemp("", "enxame-runtime-*.wasm")
	if err != nil {
		return "", nil, fmt.Errorf("%s: stage the runtime: %w", flag, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(mod)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", nil, fmt.Errorf("%s: stage the runtime: %w", flag, err)
	}
	root, err := resolveContent(ctx, e, cl, f.Name())
	if err != nil {
		return "", nil, fmt.Errorf("add the runtime of %s: %w", script, err)
	}
	return root, args, nil
}
