package share

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tempMarker is in the name of every temporary path a get writes before
// renaming it into place: ".<name>.enxame-tmp-<pid>-<random>".
const tempMarker = ".enxame-tmp-"

// createTemp creates the temporary file (or directory, when dir is set)
// for writing parent/name. It first removes what earlier writers of the
// same name left behind when they died before renaming or removing it (a
// daemon killed with SIGKILL mid-get): temporary paths whose writer's
// process no longer exists. A temporary path of a live process, or one
// whose name carries no process ID, is left alone.
func createTemp(parent, name string, dir bool) (string, *os.File, error) {
	prefix := "." + name + tempMarker
	removeStaleTemps(parent, prefix)
	pattern := prefix + strconv.Itoa(os.Getpid()) + "-"
	if dir {
		p, err := os.MkdirTemp(parent, pattern)
		return p, nil, err
	}
	f, err := os.CreateTemp(parent, pattern)
	if err != nil {
		return "", nil, err
	}
	return f.Name(), f, nil
}

// removeStaleTemps removes the temporary paths in parent named prefix +
// "<pid>-…" whose process pid is gone. Errors are ignored: what stays is
// tried again by the next get of that name.
func removeStaleTemps(parent, prefix string) {
	matches, err := filepath.Glob(filepath.Join(parent, globEscape(prefix)+"*"))
	if err != nil {
		return
	}
	self := os.Getpid()
	for _, m := range matches {
		rest := strings.TrimPrefix(filepath.Base(m), prefix)
		pidStr, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || pid == self || processAlive(pid) {
			continue
		}
		os.RemoveAll(m)
	}
}

// globEscape escapes the metacharacters of filepath.Match in s.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
