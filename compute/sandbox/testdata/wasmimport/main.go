// Command wasmimport imports a host function the sandbox does not offer.
package main

//go:wasmimport env nope
func nope() int32

func main() {
	println(nope())
}
