//go:build !linux

package share

import "os"

// startWriteback does nothing off Linux: the final fsync writes it all.
func startWriteback(*os.File, int64, int64) {}

// directWriter is Linux only.
type directWriter struct{ *os.File }

// newDirectWriter returns nil: the file is written through the page cache.
func newDirectWriter(*os.File) *directWriter { return nil }
