// Package script is what enxame's script runtimes (../starlark and
// ../javascript, WASI commands) share with the CLI that starts them: how a
// script travels to its runtime in the unit's arguments, and how a script
// reads the unit's input.
//
// A script travels inside the unit's arguments rather than as an input, so
// that it reaches every unit of every kind of job (split, range, each-input,
// reduce) unchanged and is covered by the unit's receipt, which records its
// arguments. The arguments are
//
//	--script NAME N PART1 … PARTN USERARGS…
//
// where the parts, concatenated, are the script's source (valid UTF-8, no NUL
// byte, at most MaxBytes) and USERARGS are what the script sees as args.
// Each part is at most PartBytes bytes, the wire's cap on one argument.
//
// script imports only the standard library, so the runtimes built with it
// stay small.
package script

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// Flag is the first argument of a script unit.
	Flag = "--script"
	// PartBytes caps one part of the source: compute/wire.MaxArgLen.
	PartBytes = 4096
	// MaxBytes caps a script's source. The unit's run message, which
	// carries it, is capped at 64 KiB with its inputs and other arguments.
	MaxBytes = 32 << 10
	// maxParts is the most parts MaxBytes can need (a part ends early only
	// to keep a multi-byte character whole).
	maxParts = MaxBytes/(PartBytes-utf8.UTFMax) + 1
	// InputDir is where a unit's input is mounted.
	InputDir = "/input"
)

// Errors of Encode and Decode.
var (
	// ErrTooLarge means a script is over MaxBytes.
	ErrTooLarge = errors.New("script: source over 32 KiB")
	// ErrNotScript means a unit's arguments do not start with a script.
	ErrNotScript = errors.New("script: arguments do not carry a script")
)

// Encode returns the arguments that carry the script src, named name, to
// its runtime; the script's own arguments follow them.
func Encode(name string, src []byte) ([]string, error) {
	switch {
	case len(src) > MaxBytes:
		return nil, fmt.Errorf("%s: %d bytes: %w", name, len(src), ErrTooLarge)
	case !utf8.Valid(src):
		return nil, fmt.Errorf("%s: source is not UTF-8", name)
	case strings.IndexByte(string(src), 0) >= 0:
		return nil, fmt.Errorf("%s: source contains a NUL byte", name)
	case name == "" || len(name) > 255 || !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0:
		return nil, fmt.Errorf("script name %q: want 1 to 255 bytes of UTF-8 without NUL", name)
	}
	var parts []string
	for s := string(src); len(s) > 0; {
		n := min(len(s), PartBytes)
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		parts = append(parts, s[:n])
		s = s[n:]
	}
	return append([]string{Flag, name, strconv.Itoa(len(parts))}, parts...), nil
}

// Decode splits a unit's arguments (after argv[0]) into the script's name,
// its source and the script's own arguments.
func Decode(args []string) (name, src string, rest []string, err error) {
	if len(args) < 3 || args[0] != Flag {
		return "", "", nil, ErrNotScript
	}
	n, err := strconv.Atoi(args[2])
	if err != nil || n < 0 || n > maxParts || len(args)-3 < n {
		return "", "", nil, fmt.Errorf("%w: part count %q", ErrNotScript, args[2])
	}
	src = strings.Join(args[3:3+n], "")
	if len(src) > MaxBytes {
		return "", "", nil, fmt.Errorf("%s: %d bytes: %w", args[1], len(src), ErrTooLarge)
	}
	return args[1], src, args[3+n:], nil
}

// Input reads a unit's input directory.
type Input struct {
	// Dir is the directory, normally InputDir. A missing directory is an
	// empty input.
	Dir string
}

// Files returns the path of every regular file under the input directory,
// relative to it and slash-separated, in lexical order.
func (in Input) Files() ([]string, error) {
	var names []string
	err := filepath.WalkDir(in.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == in.Dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(in.Dir, p)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list input: %w", err)
	}
	return names, nil
}

// Read returns the content of the input file name (as Files names it).
func (in Input) Read(name string) ([]byte, error) {
	if !fs.ValidPath(name) || name == "." || path.Clean(name) != name {
		return nil, fmt.Errorf("input file %q: not a relative slash path", name)
	}
	b, err := os.ReadFile(filepath.Join(in.Dir, filepath.FromSlash(name)))
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		err = pe.Err
	}
	if err != nil {
		return nil, fmt.Errorf("input file %q: %w", name, err)
	}
	return b, nil
}

// ReadAll returns every input file's content, concatenated in Files'
// order: the whole input of a map unit, which has one input.
func (in Input) ReadAll() ([]byte, error) {
	names, err := in.Files()
	if err != nil {
		return nil, err
	}
	var all []byte
	for _, n := range names {
		b, err := in.Read(n)
		if err != nil {
			return nil, err
		}
		if all == nil && len(names) == 1 {
			return b, nil
		}
		all = append(all, b...)
	}
	return all, nil
}
