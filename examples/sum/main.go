// Command sum adds up named counts: the reduce step of a primes job, or of
// any job whose units print "name\tinteger" lines.
//
// Input: every regular file under the input directory (default /input).
// Each line of the form "name\tinteger" adds the (decimal, possibly
// negative) integer to name's total; lines without a tab, such as the
// primes that primes -list prints, are ignored. A line with a tab whose
// value is not an integer ends the program with exit status 1.
//
// Output: one "name\ttotal\n" line per name, sorted by name; for primes
// outputs that is "count\tN\n". Totals are exact (arbitrary precision).
//
// Build: GOOS=wasip1 GOARCH=wasm go build ./examples/sum
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	input := flag.String("input", "/input", "directory of unit outputs")
	flag.Parse()
	totals := map[string]*big.Int{}
	err := filepath.WalkDir(*input, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == *input && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := add(f, totals); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
	if err == nil {
		err = write(os.Stdout, totals)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sum:", err)
		os.Exit(1)
	}
}

// add adds the "name\tinteger" lines read from r to totals.
func add(r io.Reader, totals map[string]*big.Int) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if err == io.EOF && line == "" {
			return nil
		}
		if err != nil && err != io.EOF {
			return err
		}
		name, num, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "\t")
		if ok {
			v, good := new(big.Int).SetString(num, 10)
			if !good {
				return fmt.Errorf("line %d: %q is not an integer", n, num)
			}
			t, seen := totals[name]
			if !seen {
				t = new(big.Int)
				totals[name] = t
			}
			t.Add(t, v)
		}
		if err == io.EOF {
			return nil
		}
	}
}

// write prints totals as "name\ttotal" lines sorted by name.
func write(w io.Writer, totals map[string]*big.Int) error {
	names := make([]string, 0, len(totals))
	for name := range totals {
		names = append(names, name)
	}
	sort.Strings(names)
	bw := bufio.NewWriter(w)
	for _, name := range names {
		fmt.Fprintf(bw, "%s\t%s\n", name, totals[name])
	}
	return bw.Flush()
}
