//go:build !unix

package share

// oNoFollow is 0 where the OS has no O_NOFOLLOW: O_EXCL, with which every
// file is created, refuses an existing symlink there too.
const oNoFollow = 0
