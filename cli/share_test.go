package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/enxame/enxame/node/control"
)

// TestOpErrorPrintsDaemonText (issue 13): the CLI prints what the daemon
// worded (a typed API error, a stream's error event) as it is, and words
// only its own errors "op subject: message"; it never rewrites the
// daemon's text (the wording moved to control.Message).
func TestOpErrorPrintsDaemonText(t *testing.T) {
	const c = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	tests := []struct {
		name string
		err  *opError
		want string
	}{
		{"api error", &opError{op: "ls", subject: c, err: &control.APIError{Status: 404, Code: control.CodeNotFound, Msg: "ls " + c + ": share: kept as sent"}},
			"ls " + c + ": share: kept as sent"},
		{"wrapped api error", &opError{op: "cat", subject: c, err: fmt.Errorf("read: %w", &control.APIError{Msg: "cat: as sent"})}, "cat: as sent"},
		{"stream error event", &opError{op: "get", subject: c, err: daemonError("get " + c + ": no providers")}, "get " + c + ": no providers"},
		{"local error", &opError{op: "export", subject: c, err: io.ErrUnexpectedEOF}, "export " + c + ": unexpected EOF"},
		{"local error, no subject", &opError{op: "add", err: io.ErrUnexpectedEOF}, "add: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("opError.Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOpErrorUnwraps(t *testing.T) {
	err := &opError{op: "ls", subject: "x", err: control.ErrNoDaemon}
	if !errors.Is(err, control.ErrNoDaemon) {
		t.Errorf("errors.Is(%v, ErrNoDaemon) = false, want true", err)
	}
}

// TestShownPaths pins the paths `add -v` prints: Kubo's, relative to the
// parent of each argument (issue 3: they were absolute).
func TestShownPaths(t *testing.T) {
	s := shownPaths{"/home/u/sub/dir", "/home/u/f.txt", "/home/u/sub/dir/inner"}
	tests := []struct {
		path, want string
	}{
		{"/home/u/sub/dir", "dir"},
		{"/home/u/sub/dir/a.txt", "dir/a.txt"},
		{"/home/u/f.txt", "f.txt"},
		{"/home/u/sub/dir/inner/b", "inner/b"}, // the longest argument it is below
		{"/home/u/sub/dirt", "/home/u/sub/dirt"},
		{"bafkreiey5jxe6ilpf62lnh77tm5ejbbmhbugzjuf6p2v3remlu73ced34q", "bafkreiey5jxe6ilpf62lnh77tm5ejbbmhbugzjuf6p2v3remlu73ced34q"},
		{"foo.txt", "foo.txt"},
	}
	for _, tt := range tests {
		if got := s.show(filepath.FromSlash(tt.path)); got != filepath.FromSlash(tt.want) {
			t.Errorf("show(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}
