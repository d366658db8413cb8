package simnet

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var bubbleMu sync.Mutex

// Bubble runs f inside a testing/synctest bubble from an ordinary program
// (the CLI, bench/simnet): time in the bubble is virtual, and f must leave
// no goroutine of its own running. synctest hands bubbles only to tests, so
// Bubble runs f as the single test of an in-process testing run (silenced:
// the testing package's own output goes nowhere). It returns f's error, or
// an error when f panicked or a goroutine leaked. In a test, call
// synctest.Test directly instead. One Bubble runs at a time.
func Bubble(name string, f func() error) error {
	bubbleMu.Lock()
	defer bubbleMu.Unlock()
	var ferr error
	ran := false
	tests := []testing.InternalTest{{Name: name, F: func(t *testing.T) {
		synctest.Test(t, func(*testing.T) { ran = true; ferr = f() })
	}}}
	var ok bool
	if testing.Testing() {
		// Inside a test binary the testing package is set up already.
		ok = testing.RunTests(func(string, string) (bool, error) { return true, nil }, tests)
	} else {
		if !flag.Parsed() {
			// Keep testing from parsing the program's own arguments.
			flag.CommandLine.Parse(nil)
		}
		stdout := os.Stdout
		if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
			os.Stdout = null // testing prints PASS or FAIL here
			defer func() { os.Stdout = stdout; null.Close() }()
		}
		ok = testing.MainStart(bubbleDeps{}, tests, nil, nil, nil).Run() == 0
	}
	if ferr != nil {
		return ferr
	}
	if !ran {
		return errors.New("simnet: the testing package did not run the bubble")
	}
	if !ok {
		return fmt.Errorf("simnet: %s failed inside its bubble (a panic or a leaked goroutine)", name)
	}
	return nil
}

// bubbleDeps is the minimal test-runner dependency set testing.MainStart
// needs; nothing here profiles, fuzzes or measures coverage.
type bubbleDeps struct{}

type corpusEntry = struct {
	Parent     string
	Path       string
	Data       []byte
	Values     []any
	Generation int
	IsSeed     bool
}

func (bubbleDeps) ImportPath() string                          { return "" }
func (bubbleDeps) ModulePath() string                          { return "" }
func (bubbleDeps) MatchString(string, string) (bool, error)    { return true, nil }
func (bubbleDeps) SetPanicOnExit0(bool)                        {}
func (bubbleDeps) StartCPUProfile(io.Writer) error             { return errors.New("not supported") }
func (bubbleDeps) StopCPUProfile()                             {}
func (bubbleDeps) StartTestLog(io.Writer)                      {}
func (bubbleDeps) StopTestLog() error                          { return nil }
func (bubbleDeps) WriteProfileTo(string, io.Writer, int) error { return nil }
func (bubbleDeps) CoordinateFuzzing(time.Duration, int64, time.Duration, int64, int, []corpusEntry, []reflect.Type, string, string) error {
	return errors.New("not supported")
}
func (bubbleDeps) RunFuzzWorker(func(corpusEntry) error) error { return errors.New("not supported") }
func (bubbleDeps) ReadCorpus(string, []reflect.Type) ([]corpusEntry, error) {
	return nil, nil
}
func (bubbleDeps) CheckCorpus([]any, []reflect.Type) error { return nil }
func (bubbleDeps) ResetCoverage()                          {}
func (bubbleDeps) SnapshotCoverage()                       {}
func (bubbleDeps) InitRuntimeCoverage() (string, func(string, string) (string, error), func() float64) {
	return "", nil, nil
}
