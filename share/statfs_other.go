//go:build !(linux || darwin || freebsd)

package share

// freeSpace cannot tell the free space here: ok is false, and a write is
// bounded by its declared size and MaxBytes only.
func freeSpace(dir string) (bytes, inodes uint64, ok bool) { return 0, 0, false }
