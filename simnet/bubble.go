package simnet

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
)

var initTesting sync.Once

// Bubble runs f inside a testing/synctest bubble from an ordinary program
// (the CLI, bench/simnet): time in the bubble is virtual, and f must leave
// no goroutine of its own running. synctest only hands out bubbles to tests,
// so Bubble runs f as the single test of an in-process testing run; it
// returns f's error, or an error when f panicked or a goroutine leaked.
// In a test, call synctest.Test directly instead.
func Bubble(name string, f func() error) (err error) {
	initTesting.Do(testing.Init)
	var ferr error
	ok := testing.RunTests(func(pat, str string) (bool, error) { return true, nil },
		[]testing.InternalTest{{Name: name, F: func(t *testing.T) {
			synctest.Test(t, func(*testing.T) { ferr = f() })
		}}})
	if ferr != nil {
		return ferr
	}
	if !ok {
		return fmt.Errorf("simnet: %s failed inside its bubble", name)
	}
	return nil
}
