// Command javascript runs a JavaScript (ECMAScript 5.1 and much of ES6,
// through goja) script as a work unit: enxame's runtime for `enxame compute
// run --script JOB.js`.
//
// Arguments: the script as package examples/script encodes it (--script NAME
// N PART…), then the script's own arguments. The script runs as a classic
// script (not a module) with these globals, beside the language's own:
//
//	args                 array of the unit's arguments (strings)
//	print(...a)          writes its arguments, joined by spaces, and a
//	                     newline to stdout (console.log does the same)
//	write(s)             writes the string s to stdout, nothing added
//	console.error(...a)  like print, to stderr
//	readInput(name?)     the input file name as a string (UTF-8); without a
//	                     name, every input file concatenated in inputFiles
//	                     order
//	inputFiles()         the input files' paths under /input, sorted
//	exit(code?)          stops the script; the unit exits with code (0–125)
//
// There is no require, no timers, no network and no file system beyond
// those functions. Date reads the sandbox's virtual clock and Math.random
// its seeded source, so a unit's replicas compute the same. Exit status: 0
// success (or exit's code), 1 a syntax error or an uncaught exception
// (reported on stderr with its position and stack), 2 bad runtime
// arguments. docs/scripts.md has the whole contract.
//
// Build: GOOS=wasip1 GOARCH=wasm go build ./examples/javascript
package main

import (
	"bufio"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/dop251/goja"
	"github.com/enxame/enxame/examples/script"
)

func main() {
	os.Exit(run(os.Args[1:], script.Input{Dir: script.InputDir}, os.Stdout, os.Stderr))
}

// exitCode is the value exit() interrupts the script with.
type exitCode int

// run runs the script argv carries over in and returns the exit status.
func run(argv []string, in script.Input, stdout, stderr io.Writer) int {
	name, src, args, err := script.Decode(argv)
	if err != nil {
		fmt.Fprintf(stderr, "javascript: %v (this module runs scripts given with enxame compute run --script)\n", err)
		return 2
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	errw := bufio.NewWriterSize(stderr, 4<<10)
	vm := goja.New()
	// The sandbox's random_get is seeded per unit, the same for its
	// replicas; crypto/rand reads it.
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		fmt.Fprintf(stderr, "javascript: seed: %v\n", err)
		return 1
	}
	rng := rand.New(rand.NewChaCha8(seed))
	vm.SetRandSource(rng.Float64)
	if err := setGlobals(vm, args, in, out, errw); err != nil {
		fmt.Fprintf(stderr, "javascript: %v\n", err)
		return 1
	}
	code := exec(vm, name, src, errw)
	if err := out.Flush(); err != nil && code == 0 {
		fmt.Fprintf(errw, "%s: write stdout: %v\n", name, err)
		code = 1
	}
	errw.Flush()
	return code
}

// exec runs src and returns the exit status, reporting errors on errw.
func exec(vm *goja.Runtime, name, src string, errw io.Writer) int {
	_, err := vm.RunScript(name, src)
	if err == nil {
		return 0
	}
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		if c, ok := ie.Value().(exitCode); ok {
			return int(c)
		}
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		fmt.Fprintln(errw, strings.TrimRight(ex.String(), "\n"))
		return 1
	}
	fmt.Fprintln(errw, err) // a syntax error, with its position
	return 1
}

// setGlobals defines the globals a script sees beside the language's own.
func setGlobals(vm *goja.Runtime, args []string, in script.Input, out, errw *bufio.Writer) error {
	argv := make([]any, len(args))
	for i, a := range args {
		argv[i] = a
	}
	line := func(w *bufio.Writer) func(goja.FunctionCall) goja.Value {
		return func(c goja.FunctionCall) goja.Value {
			for i, a := range c.Arguments {
				if i > 0 {
					w.WriteByte(' ')
				}
				w.WriteString(a.String())
			}
			w.WriteByte('\n')
			return goja.Undefined()
		}
	}
	console := vm.NewObject()
	if err := errors.Join(console.Set("log", line(out)), console.Set("error", line(errw))); err != nil {
		return err
	}
	globals := map[string]any{
		"args":    vm.NewArray(argv...),
		"print":   line(out),
		"console": console,
		"write": func(c goja.FunctionCall) goja.Value {
			out.WriteString(c.Argument(0).String())
			return goja.Undefined()
		},
		"readInput": func(c goja.FunctionCall) goja.Value {
			var data []byte
			var err error
			if n := c.Argument(0); goja.IsUndefined(n) || goja.IsNull(n) {
				data, err = in.ReadAll()
			} else {
				data, err = in.Read(n.String())
			}
			if err != nil {
				panic(vm.NewGoError(fmt.Errorf("readInput: %v", err)))
			}
			return vm.ToValue(string(data))
		},
		"inputFiles": func(goja.FunctionCall) goja.Value {
			names, err := in.Files()
			if err != nil {
				panic(vm.NewGoError(fmt.Errorf("inputFiles: %v", err)))
			}
			vs := make([]any, len(names))
			for i, n := range names {
				vs[i] = n
			}
			return vm.NewArray(vs...)
		},
		"exit": func(c goja.FunctionCall) goja.Value {
			code := int64(0)
			if a := c.Argument(0); !goja.IsUndefined(a) {
				code = a.ToInteger()
			}
			if code < 0 || code > 125 {
				panic(vm.NewTypeError("exit: code %d: want 0 to 125", code))
			}
			vm.Interrupt(exitCode(code))
			return goja.Undefined()
		},
	}
	for k, v := range globals {
		if err := vm.Set(k, v); err != nil {
			return fmt.Errorf("define %s: %w", k, err)
		}
	}
	return nil
}
