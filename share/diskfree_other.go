//go:build !unix

package share

// diskFree returns -1: free space is not measured on this platform.
func diskFree(string) int64 { return -1 }
