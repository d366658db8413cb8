//go:build !unix

package node

// defaultFileDescriptors is the number of file descriptors libp2p may use
// when the config leaves it 0. Windows has no per-process descriptor limit
// to read (handles are bounded by memory), so the default is a fixed 4096,
// the same order as half of macOS's usual limit; set
// resources.max_file_descriptors to change it.
func defaultFileDescriptors() int { return 4096 }
