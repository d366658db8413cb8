package compute

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

var tmpDir string // removed when the tests end

func TestMain(m *testing.M) {
	var err error
	if tmpDir, err = os.MkdirTemp("", "compute-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(tmpDir)
		os.Exit(code)
	}))
}
