// Command wordcount-merge merges the outputs of several wordcount units
// into one: the reduce step of a word count job.
//
// Input: every regular file under the input directory (default /input),
// each one unit's output: lines "word\tcount\n". Counts of the same word
// are added. A line that is not "word\tcount" with a non-negative decimal
// count ends the program with exit status 1.
//
// Output: the same format as wordcount: "word\tcount\n" lines sorted by the
// word's bytes.
//
// Build: GOOS=wasip1 GOARCH=wasm go build ./examples/wordcount-merge
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	input := flag.String("input", "/input", "directory of wordcount outputs")
	flag.Parse()
	counts := map[string]int64{}
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
		if err := merge(f, counts); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "wordcount-merge:", err)
		os.Exit(1)
	}
	if err := write(os.Stdout, counts); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount-merge:", err)
		os.Exit(1)
	}
}

// merge adds the "word\tcount" lines read from r to counts.
func merge(r io.Reader, counts map[string]int64) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if err == io.EOF && line == "" {
			return nil
		}
		if err != nil && err != io.EOF {
			return err
		}
		line = strings.TrimSuffix(line, "\n")
		word, num, ok := strings.Cut(line, "\t")
		if !ok || word == "" {
			return fmt.Errorf("line %d: want \"word\\tcount\", got %q", n, line)
		}
		c, perr := strconv.ParseInt(num, 10, 64)
		if perr != nil || c < 0 {
			return fmt.Errorf("line %d: bad count %q", n, num)
		}
		if counts[word] > math.MaxInt64-c {
			return fmt.Errorf("line %d: count of %q overflows", n, word)
		}
		counts[word] += c
		if err == io.EOF {
			return nil
		}
	}
}

// write prints counts as sorted "word\tcount" lines.
func write(w io.Writer, counts map[string]int64) error {
	words := make([]string, 0, len(counts))
	for word := range counts {
		words = append(words, word)
	}
	sort.Strings(words)
	bw := bufio.NewWriter(w)
	for _, word := range words {
		fmt.Fprintf(bw, "%s\t%d\n", word, counts[word])
	}
	return bw.Flush()
}
