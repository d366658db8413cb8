// Command primes counts the primes in a range: a map work unit whose
// counts are added by sum.
//
// Usage: primes [-list] A B
//
// Counts the primes p with A <= p < B, where 0 <= A <= B <= 2^47, with a
// segmented sieve of Eratosthenes. With -list it first prints each prime on
// a line of its own, in increasing order.
//
// Output: "count\tN\n" as the last line.
//
// Build: GOOS=wasip1 GOARCH=wasm go build ./examples/primes
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
)

// maxB bounds the range's end, which keeps the base sieve under 12 MB.
const maxB = 1 << 47

// segment is how many numbers one sieve pass covers.
const segment = 1 << 18

func main() {
	list := flag.Bool("list", false, "print each prime before the count")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: primes [-list] A B")
		flag.PrintDefaults()
	}
	flag.Parse()
	a, b, err := parseRange(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "primes:", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	var each func(uint64)
	if *list {
		each = func(p uint64) { fmt.Fprintln(w, p) }
	}
	n := count(a, b, each)
	fmt.Fprintf(w, "count\t%d\n", n)
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "primes:", err)
		os.Exit(1)
	}
}

func parseRange(args []string) (a, b uint64, err error) {
	if len(args) != 2 {
		return 0, 0, fmt.Errorf("want 2 arguments A B, got %d", len(args))
	}
	if a, err = strconv.ParseUint(args[0], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("A: %w", err)
	}
	if b, err = strconv.ParseUint(args[1], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("B: %w", err)
	}
	if a > b || b > maxB {
		return 0, 0, fmt.Errorf("range [%d, %d): want A <= B <= %d", a, b, uint64(maxB))
	}
	return a, b, nil
}

// count returns the number of primes in [a, b), calling each (if not nil)
// with every one of them in increasing order.
func count(a, b uint64, each func(uint64)) uint64 {
	if a < 2 {
		a = 2
	}
	if a >= b {
		return 0
	}
	base := basePrimes(isqrt(b - 1))
	composite := make([]bool, segment)
	var n uint64
	for lo := a; lo < b; lo += segment {
		hi := min(lo+segment, b)
		seg := composite[:hi-lo]
		clear(seg)
		for _, p := range base {
			start := max(p*p, (lo+p-1)/p*p)
			for m := start; m < hi; m += p {
				seg[m-lo] = true
			}
		}
		for i, c := range seg {
			if !c {
				n++
				if each != nil {
					each(lo + uint64(i))
				}
			}
		}
	}
	return n
}

// basePrimes returns the primes <= n.
func basePrimes(n uint64) []uint64 {
	composite := make([]bool, n+1)
	var ps []uint64
	for i := uint64(2); i <= n; i++ {
		if composite[i] {
			continue
		}
		ps = append(ps, i)
		for m := i * i; m <= n; m += i {
			composite[m] = true
		}
	}
	return ps
}

// isqrt returns the largest r with r*r <= n.
func isqrt(n uint64) uint64 {
	r := uint64(0)
	for bit := uint64(1) << 31; bit > 0; bit >>= 1 {
		if c := r | bit; c*c <= n {
			r = c
		}
	}
	return r
}
