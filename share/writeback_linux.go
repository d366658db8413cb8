package share

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing n bytes of f from off
// out to disk, without waiting; an error only means the final fsync will
// do that work.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

const (
	// directAlign is the alignment O_DIRECT wants of buffers, offsets and
	// lengths (the logical block size is at most this on common disks).
	directAlign = 4096
	// directBufSize is the size of a directWriter's writes.
	directBufSize = 4 << 20
)

// directWriter writes a file with O_DIRECT: from its aligned buffer
// straight to disk, in aligned writes of directBufSize, so the file's
// bytes never fill the page cache. Close writes the unaligned tail
// through the page cache (clearing O_DIRECT) before the caller's fsync.
// If the file system refuses O_DIRECT it goes on buffered.
type directWriter struct {
	f      *os.File
	fd     int
	buf    []byte // aligned, directBufSize
	n      int    // bytes held in buf
	direct bool
}

// newDirectWriter sets O_DIRECT on f, which must be empty, or returns nil
// when it cannot.
func newDirectWriter(f *os.File) *directWriter {
	fd := int(f.Fd())
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl|unix.O_DIRECT); err != nil {
		return nil
	}
	raw := make([]byte, directBufSize+directAlign)
	k := 0
	if r := int(uintptr(unsafe.Pointer(&raw[0])) % directAlign); r != 0 {
		k = directAlign - r
	}
	return &directWriter{f: f, fd: fd, buf: raw[k : k+directBufSize], direct: true}
}

func (w *directWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		k := copy(w.buf[w.n:], p)
		w.n += k
		p = p[k:]
		if w.n == len(w.buf) {
			if err := w.flush(w.n); err != nil {
				return total - len(p), err
			}
		}
	}
	return total, nil
}

// flush writes the first n bytes of buf (n aligned unless O_DIRECT is off)
// and moves what follows them to the start.
func (w *directWriter) flush(n int) error {
	for off := 0; off < n; {
		k, err := w.f.Write(w.buf[off:n])
		off += k
		if errors.Is(err, unix.EINVAL) && w.direct && k == 0 {
			// The file system took the flag but not the write: go on
			// through the page cache.
			if err := w.clearDirect(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	w.n = copy(w.buf, w.buf[n:w.n])
	return nil
}

func (w *directWriter) clearDirect() error {
	fl, err := unix.FcntlInt(uintptr(w.fd), unix.F_GETFL, 0)
	if err == nil {
		_, err = unix.FcntlInt(uintptr(w.fd), unix.F_SETFL, fl&^unix.O_DIRECT)
	}
	if err != nil {
		return &os.PathError{Op: "fcntl", Path: w.f.Name(), Err: err}
	}
	w.direct = false
	return nil
}

// Close writes out what the writer holds: the aligned part directly, the
// tail through the page cache. It does not close the file.
func (w *directWriter) Close() error {
	if aligned := w.n &^ (directAlign - 1); aligned > 0 && w.direct {
		if err := w.flush(aligned); err != nil {
			return err
		}
	}
	if w.n == 0 {
		return nil
	}
	if w.direct {
		if err := w.clearDirect(); err != nil {
			return err
		}
	}
	return w.flush(w.n)
}
