// Command starlark runs a Starlark script as a work unit: enxame's runtime
// for `enxame compute run --script JOB.star`.
//
// Arguments: the script as package examples/script encodes it (--script NAME
// N PART…), then the script's own arguments. The script's top level runs
// with these predeclared, beside Starlark's built-ins:
//
//	args               list of the unit's arguments (strings)
//	print(*a, sep=" ") writes to stdout, then a newline
//	write(s)           writes the string s to stdout, nothing added
//	eprint(*a, sep=" ") writes to stderr, then a newline
//	read_input(name=None) the input file name as a string; without a name,
//	                   every input file concatenated in input_files order
//	input_files()      the input files' paths under /input, sorted
//	exit(code=0)       stops the script; the unit exits with code (0–125)
//	json, math         Starlark's json and math modules
//
// while, recursion, set and top-level if/for are allowed; load is not.
// Exit status: 0 success (or exit's code), 1 a syntax or runtime error of
// the script (reported on stderr with its position and call stack), 2 bad
// runtime arguments. There is no clock and no random source: a script is
// deterministic. docs/scripts.md has the whole contract.
//
// Build: GOOS=wasip1 GOARCH=wasm go build ./examples/starlark
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/enxame/enxame/examples/script"
	"go.starlark.net/lib/json"
	"go.starlark.net/lib/math"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

func main() {
	os.Exit(run(os.Args[1:], script.Input{Dir: script.InputDir}, os.Stdout, os.Stderr))
}

// exitError is what exit() returns to stop the script.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit(%d)", e.code) }

// fileOptions are the dialect: Starlark with while loops, recursion, sets
// and top-level control flow, since units have a deadline.
var fileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}

// run runs the script argv carries over in and returns the exit status.
func run(argv []string, in script.Input, stdout, stderr io.Writer) int {
	name, src, args, err := script.Decode(argv)
	if err != nil {
		fmt.Fprintf(stderr, "starlark: %v (this module runs scripts given with enxame compute run --script)\n", err)
		return 2
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	errw := bufio.NewWriterSize(stderr, 4<<10)
	thread := &starlark.Thread{
		Name:  name,
		Print: func(_ *starlark.Thread, msg string) { out.WriteString(msg); out.WriteByte('\n') },
	}
	code := exec(thread, name, src, predeclared(args, in, out, errw), errw)
	if err := out.Flush(); err != nil && code == 0 {
		fmt.Fprintf(errw, "%s: write stdout: %v\n", name, err)
		code = 1
	}
	errw.Flush()
	return code
}

// exec runs src and returns the exit status, reporting errors on errw.
func exec(thread *starlark.Thread, name, src string, env starlark.StringDict, errw io.Writer) int {
	_, err := starlark.ExecFileOptions(fileOptions, thread, name, src, env)
	if err == nil {
		return 0
	}
	var ex exitError
	if errors.As(err, &ex) {
		return ex.code
	}
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		fmt.Fprintln(errw, ee.Backtrace())
		return 1
	}
	fmt.Fprintln(errw, err) // a syntax or resolve error, with its position
	return 1
}

// predeclared returns the names a script sees beside the built-ins.
func predeclared(args []string, in script.Input, out, errw *bufio.Writer) starlark.StringDict {
	argv := make([]starlark.Value, len(args))
	for i, a := range args {
		argv[i] = starlark.String(a)
	}
	list := starlark.NewList(argv)
	list.Freeze()
	return starlark.StringDict{
		"args":        list,
		"json":        json.Module,
		"math":        math.Module,
		"read_input":  starlark.NewBuiltin("read_input", readInput(in)),
		"input_files": starlark.NewBuiltin("input_files", inputFiles(in)),
		"write":       starlark.NewBuiltin("write", write(out)),
		"eprint":      starlark.NewBuiltin("eprint", eprint(errw)),
		"exit":        starlark.NewBuiltin("exit", exit),
	}
}

type builtin = func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)

func readInput(in script.Input) builtin {
	return func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name starlark.Value = starlark.None
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name?", &name); err != nil {
			return nil, err
		}
		var data []byte
		var err error
		switch n := name.(type) {
		case starlark.NoneType:
			data, err = in.ReadAll()
		case starlark.String:
			data, err = in.Read(string(n))
		default:
			return nil, fmt.Errorf("%s: name: got %s, want string", b.Name(), name.Type())
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
		return starlark.String(data), nil
	}
}

func inputFiles(in script.Input) builtin {
	return func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
			return nil, err
		}
		names, err := in.Files()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
		vs := make([]starlark.Value, len(names))
		for i, n := range names {
			vs[i] = starlark.String(n)
		}
		return starlark.NewList(vs), nil
	}
}

func write(out *bufio.Writer) builtin {
	return func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var s string
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &s); err != nil {
			return nil, err
		}
		out.WriteString(s)
		return starlark.None, nil
	}
}

func eprint(errw *bufio.Writer) builtin {
	return func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		sep := " "
		if err := starlark.UnpackArgs(b.Name(), nil, kwargs, "sep?", &sep); err != nil {
			return nil, err
		}
		var sb strings.Builder
		for i, a := range args {
			if i > 0 {
				sb.WriteString(sep)
			}
			if s, ok := starlark.AsString(a); ok {
				sb.WriteString(s)
			} else {
				sb.WriteString(a.String())
			}
		}
		sb.WriteByte('\n')
		errw.WriteString(sb.String())
		return starlark.None, nil
	}
}

func exit(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	code := 0
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "code?", &code); err != nil {
		return nil, err
	}
	if code < 0 || code > 125 {
		return nil, fmt.Errorf("%s: code %d: want 0 to 125", b.Name(), code)
	}
	return nil, exitError{code}
}
