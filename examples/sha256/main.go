// Command sha256 prints the SHA-256 digest of each input file, like
// sha256sum.
//
// Input: every regular file under the input directory (default /input),
// in lexical path order.
//
// Output: one line per file, "hex  name\n", where hex is the lowercase
// digest and name the file's slash-separated path relative to the input
// directory.
//
// Build: GOOS=wasip1 GOARCH=wasm go build ./examples/sha256
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

func main() {
	input := flag.String("input", "/input", "directory whose files are hashed")
	flag.Parse()
	w := bufio.NewWriter(os.Stdout)
	err := hashDir(w, *input)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sha256:", err)
		os.Exit(1)
	}
}

// hashDir writes a "hex  name" line for every regular file under dir. A
// missing dir has no files.
func hashDir(w io.Writer, dir string) error {
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
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), filepath.ToSlash(rel))
		return err
	})
}
