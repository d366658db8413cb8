package share

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// tempMarker is in the name of every temporary path a get writes before
// renaming it into place: ".<name>.enxame-tmp-<pid>-<random>".
const tempMarker = ".enxame-tmp-"

// createFlags are the flags of every file a get creates: a new file, never
// one that exists, and never through a symlink (oNoFollow is 0 where the
// OS has no such flag; O_EXCL alone already refuses an existing symlink).
const createFlags = os.O_WRONLY | os.O_CREATE | os.O_EXCL | oNoFollow

// createTemp creates, in root, the temporary file (or directory, when dir
// is set) for writing name; for a symlink (link set) it only picks a free
// name, for the caller to create the link at. It first removes what
// earlier writers of the same name left behind when they died before
// renaming or removing it (a daemon killed with SIGKILL mid-get):
// temporary paths whose writer's process no longer exists. A temporary
// path of a live process, or one whose name carries no process ID, is left
// alone. Everything goes through root, so nothing outside it is touched.
func createTemp(root *os.Root, name string, dir, link bool) (string, *os.File, error) {
	prefix := "." + name + tempMarker
	removeStaleTemps(root, prefix)
	pattern := prefix + strconv.Itoa(os.Getpid()) + "-"
	for range 10000 {
		tmp := pattern + strconv.FormatUint(uint64(rand.Uint32()), 10)
		var err error
		switch {
		case link:
			_, err = root.Lstat(tmp)
			if errors.Is(err, fs.ErrNotExist) {
				return tmp, nil, nil
			}
			if err == nil {
				err = fs.ErrExist
			}
		case dir:
			err = root.Mkdir(tmp, 0o700)
			if err == nil {
				return tmp, nil, nil
			}
		default:
			var f *os.File
			f, err = root.OpenFile(tmp, createFlags, 0o600)
			if err == nil {
				return tmp, f, nil
			}
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", nil, err
		}
	}
	return "", nil, fmt.Errorf("create a temporary path for %s: too many tries", name)
}

// removeStaleTemps removes the temporary paths in root named prefix +
// "<pid>-…" whose process pid is gone. Errors are ignored: what stays is
// tried again by the next get of that name.
func removeStaleTemps(root *os.Root, prefix string) {
	d, err := root.Open(".")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	self := os.Getpid()
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, prefix)
		if !ok {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || pid == self || processAlive(pid) {
			continue
		}
		root.RemoveAll(n)
	}
}
