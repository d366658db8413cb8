package share

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes what fill writes to path, as get writes a file:
// into a new temporary file ".<name>.enxame-tmp-<pid>-*" created with
// O_EXCL (and O_NOFOLLOW where the OS has it) through an os.Root of path's
// directory, fsynced unless opts.NoSync, and renamed to path only when
// fill returns nil; on any error the temporary file is removed and path is
// left as it was. An existing file (or symlink) at path is replaced, never
// written through. opts.MaxBytes, when not zero, fails the write (with
// ErrTooLarge) once fill writes more. It is for the CLI's outputs (export,
// compute result).
func WriteFileAtomic(path string, opts WriteFileOptions, fill func(w io.Writer) error) error {
	path = filepath.Clean(path)
	parent, name := filepath.Dir(path), filepath.Base(path)
	pr, err := os.OpenRoot(parent)
	if err != nil {
		return fmt.Errorf("share: write %s: %w", path, err)
	}
	defer pr.Close()
	tmp, f, err := createTemp(pr, name, false, false)
	if err != nil {
		return fmt.Errorf("share: write %s: %w", path, err)
	}
	var w io.Writer = f
	if opts.MaxBytes > 0 {
		w = &capWriter{w: f, left: uint64(opts.MaxBytes), declared: uint64(opts.MaxBytes)}
	}
	err = fill(w)
	if err == nil && !opts.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !opts.NoSync {
		err = syncRoot(pr)
	}
	if err == nil {
		err = pr.Rename(tmp, name)
	}
	if err != nil {
		pr.Remove(tmp)
		return fmt.Errorf("share: write %s: %w", path, err)
	}
	return nil
}
