//go:build !unix

package compute

// oNoFollow is zero where the system has no O_NOFOLLOW; files are still
// created exclusively, which does not follow a symlink either.
const oNoFollow = 0
