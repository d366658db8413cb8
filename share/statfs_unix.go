//go:build linux || darwin || freebsd

package share

import "golang.org/x/sys/unix"

// freeSpace returns the bytes and inodes free to an unprivileged user on
// the file system of dir; ok is false when they cannot be known.
func freeSpace(dir string) (bytes, inodes uint64, ok bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, false
	}
	inodes = uint64(st.Ffree)
	if st.Files == 0 {
		inodes = ^uint64(0) // no fixed inode table (btrfs): no limit
	}
	return uint64(st.Bavail) * uint64(st.Bsize), inodes, true
}
