// Command hostile misbehaves on purpose, in the way its first argument
// names, to test the sandbox. Built with GOOS=wasip1 GOARCH=wasm by the
// sandbox tests.
package main

import (
	"bytes"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"time"
)

var sink [][]byte

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hostile MODE [ARGS]")
		os.Exit(64)
	}
	switch mode := os.Args[1]; mode {
	case "ok":
		fmt.Println("ok")
	case "oom": // allocate until the memory cap stops it
		for {
			b := make([]byte, 1<<20)
			b[0] = 1
			sink = append(sink, b)
		}
	case "bigalloc": // one allocation far past any cap
		b := make([]byte, 3<<30)
		b[len(b)-1] = 1
		sink = append(sink, b)
	case "output": // write stdout forever
		b := bytes.Repeat([]byte("x"), 64<<10)
		for {
			os.Stdout.Write(b)
		}
	case "overflow": // write 4 MiB ignoring errors, then exit 0
		b := bytes.Repeat([]byte("y"), 64<<10)
		for range 64 {
			os.Stdout.Write(b)
		}
	case "stderr": // flood stderr, then fail
		b := bytes.Repeat([]byte("e"), 1<<10)
		os.Stderr.WriteString("first line\n")
		for range 1024 {
			os.Stderr.Write(b)
		}
		os.Stderr.WriteString("\nlast line\n")
		os.Exit(3)
	case "recurse":
		fmt.Println(recurse(0))
	case "spin":
		for {
		}
	case "sleep": // sleep a day of virtual time
		start := time.Now()
		time.Sleep(24 * time.Hour)
		fmt.Println("slept", time.Since(start) >= 24*time.Hour)
	case "entropy": // everything that could differ between runs
		now := time.Now()
		var b [16]byte
		crand.Read(b[:])
		fmt.Println(now.UTC().Format(time.RFC3339Nano), time.Now().Sub(now), rand.Int64(), hex.EncodeToString(b[:]))
		env := os.Environ()
		sort.Strings(env)
		fmt.Println(os.Args, env)
	case "panic":
		panic("boom")
	case "exit":
		code, _ := strconv.Atoi(os.Args[2])
		os.Exit(code)
	case "escape": // try to leave the sandbox's filesystem
		for _, p := range []string{"/etc/passwd", "/input/../etc/passwd", "../etc/passwd", "/input/link", "/input/sub/../../etc/passwd", "/"} {
			_, err := os.ReadFile(p)
			fmt.Printf("read %s: %v\n", p, err == nil)
		}
		err := os.WriteFile("/input/new", []byte("x"), 0o644)
		fmt.Printf("write /input/new: %v\n", err == nil)
		err = os.Remove("/input/a.txt")
		fmt.Printf("remove /input/a.txt: %v\n", err == nil)
		b, err := os.ReadFile("/input/a.txt")
		fmt.Printf("read /input/a.txt: %q %v\n", b, err == nil)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		os.Exit(64)
	}
}

func recurse(n int) int {
	var pad [256]byte
	pad[n%256] = byte(n)
	return recurse(n+1) + int(pad[(n+1)%256])
}
