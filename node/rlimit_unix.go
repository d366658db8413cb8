//go:build unix

package node

import "syscall"

// defaultFileDescriptors is the number of file descriptors libp2p may use
// when the config leaves it 0: half of the process's soft RLIMIT_NOFILE
// (capped at 2^20), or 512 when the limit cannot be read.
func defaultFileDescriptors() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 512
	}
	return int(min(uint64(rl.Cur), 1<<20) / 2)
}
