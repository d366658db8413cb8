// Command wordcount counts the words of its input text: a map work unit.
//
// Input: every regular file under the input directory (default /input),
// read in lexical path order as one text. A word is a maximal run of
// Unicode letters and digits (unicode.IsLetter, unicode.IsDigit), compared
// after lowercasing (unicode.ToLower); every other rune, and every byte
// that is not valid UTF-8, separates words.
//
// Output: one line per distinct word, "word\tcount\n", sorted by the word's
// bytes. The output of several runs can be merged with wordcount-merge.
//
// Build: GOOS=wasip1 GOARCH=wasm go build ./examples/wordcount
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

func main() {
	input := flag.String("input", "/input", "directory whose files are counted")
	flag.Parse()
	counts := map[string]int64{}
	if err := countDir(*input, counts); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	if err := write(w, counts); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

// countDir counts the words of every regular file under dir, in lexical
// path order. A missing dir counts as no input.
func countDir(dir string, counts map[string]int64) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
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
		if err := count(f, counts); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		return nil
	})
}

// count adds the words read from r to counts.
func count(r io.Reader, counts map[string]int64) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			counts[word.String()]++
			word.Reset()
		}
	}
	for {
		c, size, err := br.ReadRune()
		if err == io.EOF {
			flush()
			return nil
		}
		if err != nil {
			return err
		}
		if (c == utf8.RuneError && size == 1) || !(unicode.IsLetter(c) || unicode.IsDigit(c)) {
			flush()
			continue
		}
		word.WriteRune(unicode.ToLower(c))
	}
}

// write prints counts as sorted "word\tcount" lines and flushes w.
func write(w *bufio.Writer, counts map[string]int64) error {
	words := make([]string, 0, len(counts))
	for word := range counts {
		words = append(words, word)
	}
	sort.Strings(words)
	for _, word := range words {
		fmt.Fprintf(w, "%s\t%d\n", word, counts[word])
	}
	return w.Flush()
}
