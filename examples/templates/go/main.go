// Command template is a first enxame job in Go: copy this directory and
// change count. It counts, in every input file, the lines that contain the
// pattern given as its first argument, and prints "path<TAB>count" per file
// and "total<TAB>N" last.
//
// The contract (docs/first-job.md): the input files are under /input
// (read-only; walk them in lexical order), the arguments are os.Args[1:],
// the result is what is written to stdout, diagnostics go to stderr, and
// the exit status is 0 for success, 1 for bad input, 2 for bad arguments.
// There is no network; the clock and the random source are deterministic.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o job.wasm .
// Run:   enxame compute run job.wasm --arg PATTERN --input FILE --split-lines 1000
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] == "" {
		fmt.Fprintln(os.Stderr, "usage: template PATTERN")
		os.Exit(2)
	}
	pattern := []byte(os.Args[1])
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	total := 0
	err := filepath.WalkDir("/input", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == "/input" && os.IsNotExist(err) {
				return fs.SkipAll // no input
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		n, err := count(path, pattern)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("/input", path)
		fmt.Fprintf(out, "%s\t%d\n", rel, n)
		total += n
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "template:", err)
		out.Flush()
		os.Exit(1)
	}
	fmt.Fprintf(out, "total\t%d\n", total)
}

// count returns how many lines of the file contain pattern.
func count(path string, pattern []byte) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), pattern) {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return n, nil
}
