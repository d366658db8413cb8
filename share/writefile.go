package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	cid "github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
)

// writebackEvery is how many bytes WriteStream writes between two requests
// to the kernel to start writing the file out to disk, so that the final
// fsync waits only for the last of them.
const writebackEvery = 8 << 20

// WriteFileOptions tune WriteStream.
type WriteFileOptions struct {
	// NoSync skips the fsyncs of the file and of its directory.
	NoSync bool
	// MaxBytes, when not zero, caps the size in bytes the DAG declares: a
	// larger one is refused with an error wrapping ErrTooLarge before
	// anything is written. Default 0: no cap but the free space of the
	// destination's file system.
	MaxBytes int64
}

// IsNotFile reports whether err (from OpenStream or WriteStream) says that
// the root is a directory or a symlink rather than a file: such a DAG is
// written with WriteTo once it is local.
func IsNotFile(err error) bool {
	return errors.Is(err, uio.ErrIsDir) || errors.Is(err, uio.ErrCantReadSymlinks)
}

// WriteStream writes the file at root, read in order through src as its
// blocks arrive (a fetch may still be storing them), to dst. It keeps
// WriteTo's guarantees: the bytes go to a temporary file
// ".<name>.enxame-tmp-<pid>-*" in dst's directory, created through an
// os.Root of that directory with O_EXCL (and O_NOFOLLOW), which is fsynced
// and renamed to dst only once every byte is written, and removed on any
// error (disk full, the fetch failing), so dst never holds a partial file.
// One left by a writer that was killed is removed by the next write of dst.
// While it writes, it asks the kernel to start writing the file out every
// few MiB, so the final fsync does not wait for the whole file.
//
// A file whose root declares more than opts.MaxBytes, or more than the
// free space of dst's file system, is refused before anything is created,
// and one whose leaves hold more bytes than its root declares is stopped
// there; both errors wrap ErrTooLarge. A root that is not a file gives an
// error for which IsNotFile is true, before anything is created.
func WriteStream(ctx context.Context, src StreamSource, root cid.Cid, dst string, opts WriteFileOptions) error {
	if err := writeStream(ctx, src, root, dst, opts); err != nil {
		return fmt.Errorf("share: get %s: %w", root, err)
	}
	return nil
}

func writeStream(ctx context.Context, src StreamSource, root cid.Cid, dst string, opts WriteFileOptions) error {
	dst = filepath.Clean(dst)
	if fi, err := os.Lstat(dst); err == nil && fi.IsDir() {
		return fmt.Errorf("%s: %w", dst, os.ErrExist)
	}
	st, err := OpenStream(ctx, src, root)
	if err != nil {
		return err
	}
	defer st.Close()
	parent, name := filepath.Dir(dst), filepath.Base(dst)
	if err := checkRoom(parent, treeSize{bytes: st.Size(), entries: 1}, opts.MaxBytes); err != nil {
		return err
	}
	pr, err := os.OpenRoot(parent)
	if err != nil {
		return err
	}
	defer pr.Close()
	tmp, f, err := createTemp(pr, name, false, false)
	if err != nil {
		return err
	}
	err = writeStreamFile(st, f, opts)
	if err == nil && !opts.NoSync {
		err = syncRoot(pr)
	}
	if err == nil {
		err = pr.Rename(tmp, name)
	}
	if err != nil {
		pr.Remove(tmp)
		return err
	}
	if !opts.NoSync {
		return syncRoot(pr)
	}
	return nil
}

// writeStreamFile writes st to f, fsyncs (unless NoSync) and closes f. It
// fails, with ErrTooLarge, when st holds more bytes than its root declares.
// It writes around the page cache when it can (directWriter): the bytes
// are already cached once, in the store's packs, and filling fresh page
// cache costs more CPU than the copy to disk.
func writeStreamFile(st *Stream, f *os.File, opts WriteFileOptions) error {
	// Read one byte past the declared size: a leaf that holds it means the
	// DAG holds more than its root declares, and capWriter stops the write
	// there, with no byte past the declared size written.
	declared := st.Size()
	st.SetEnd(int64(min(declared, 1<<62)) + 1)
	var err error
	if dw := directFor(f, opts); dw != nil {
		_, err = st.WriteTo(&capWriter{w: dw, left: declared, declared: declared})
		if err == nil {
			err = dw.Close()
		}
	} else {
		var w io.Writer = f
		if !opts.NoSync {
			w = &writebackWriter{f: f}
		}
		_, err = st.WriteTo(&capWriter{w: w, left: declared, declared: declared})
	}
	if err == nil && !opts.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// directFor returns a directWriter on f unless NoSync is set (then the
// page cache is faster: nothing waits for the disk) or O_DIRECT is not
// available.
func directFor(f *os.File, opts WriteFileOptions) *directWriter {
	if opts.NoSync {
		return nil
	}
	return newDirectWriter(f)
}

// localSource is a StreamSource over the blocks a Store holds now: a
// missing block is an error, never waited for.
type localSource struct{ *Store }

func (s localSource) Wait(ctx context.Context, c cid.Cid) error {
	ok, err := s.Has(ctx, c)
	if err == nil && !ok {
		err = format.ErrNotFound{Cid: c}
	}
	return err
}

// writebackWriter writes to f and starts the write-out of every
// writebackEvery bytes it has written (startWriteback): the buffered path,
// when O_DIRECT is not available.
type writebackWriter struct {
	f        *os.File
	off      int64 // bytes written
	startOff int64 // bytes whose write-out was started
}

func (w *writebackWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.startOff >= writebackEvery {
		startWriteback(w.f, w.startOff, w.off-w.startOff)
		w.startOff = w.off
	}
	return n, err
}
