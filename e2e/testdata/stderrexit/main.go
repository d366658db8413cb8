// Command stderrexit is a work unit that fails: it writes eight numbered
// lines to stderr and exits 2. e2e's TestComputeLogs runs it.
package main

import (
	"fmt"
	"os"
)

func main() {
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(os.Stderr, "stderrexit: line %d of 8\n", i)
	}
	os.Exit(2)
}
