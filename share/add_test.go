package share

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/enxame/enxame/internal/kubotest"
)

// TestAddReaderMatchesKubo adds bytes as stdin to a real Kubo v0.43.1 and
// through AddReader, and compares the root CIDs and the name `added` reports.
// An empty name stands for the file's CID, as in Kubo: `echo hi | ipfs add -w`
// wraps the file under its CID, and `--stdin-name NAME` names it NAME
// (issue 3: `enxame add -w -` failed with "Wrap needs a name for a reader").
func TestAddReaderMatchesKubo(t *testing.T) {
	k := kubotest.Start(t)
	small := []byte("hi\n")
	big := randomBytes(41, 2*DefaultChunkSize+5)
	v1 := []string{"--cid-version=1", "--raw-leaves"}
	tests := []struct {
		name      string
		data      []byte
		stdinName string
		args      []string
		opts      AddOptions
	}{
		{name: "stdin", data: small, args: v1},
		{name: "stdin named", data: small, stdinName: "foo.txt", args: append([]string{"--stdin-name", "foo.txt"}, v1...)},
		{name: "wrap", data: small, args: append([]string{"-w"}, v1...), opts: AddOptions{Wrap: true}},
		{name: "wrap named", data: small, stdinName: "foo.txt", args: append([]string{"-w", "--stdin-name", "foo.txt"}, v1...), opts: AddOptions{Wrap: true}},
		{name: "wrap big", data: big, args: append([]string{"-w"}, v1...), opts: AddOptions{Wrap: true}},
		{name: "wrap size-65536", data: big, args: append([]string{"-w", "--chunker=size-65536"}, v1...), opts: AddOptions{Wrap: true, ChunkSize: 65536}},
		{name: "wrap cidv0", data: big, args: []string{"-w", "--cid-version=0"}, opts: AddOptions{Wrap: true, CIDv0: true, NoRawLeaves: true}},
		{name: "wrap empty", data: nil, args: append([]string{"-w"}, v1...), opts: AddOptions{Wrap: true}},
	}
	s := newTestStore(t, StoreConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := kuboAdd(t, k, tt.data, tt.args)
			var added []AddedEntry
			opts := tt.opts
			opts.OnAdded = func(e AddedEntry) { added = append(added, e) }
			res, err := s.AddReader(t.Context(), bytes.NewReader(tt.data), tt.stdinName, opts)
			if err != nil {
				t.Fatalf("AddReader(%q, %+v): %v", tt.stdinName, tt.opts, err)
			}
			if want := lines[len(lines)-1][0]; res.Root.String() != want {
				t.Errorf("AddReader(%q, %+v) root = %s, Kubo `ipfs add %v` = %s", tt.stdinName, tt.opts, res.Root, tt.args, want)
			}
			// Kubo's first line is the file's: its CID and its name.
			if len(added) != 1 || added[0].CID.String() != lines[0][0] || added[0].Path != lines[0][1] {
				t.Errorf("AddReader(%q, %+v) reported %+v, Kubo `added %s %s`", tt.stdinName, tt.opts, added, lines[0][0], lines[0][1])
			}
		})
	}
}

// kuboAdd runs `ipfs add args` with data on stdin and returns the CID and
// name of each `added CID NAME` line it prints (NAME is empty for a
// wrapper).
func kuboAdd(t *testing.T, k *kubotest.Node, data []byte, args []string) [][2]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), kubotest.DefaultTimeout)
	defer cancel()
	var out bytes.Buffer
	if err := k.Kubo().Run(ctx, bytes.NewReader(data), &out, append([]string{"add"}, args...)...); err != nil {
		t.Fatalf("ipfs add %v: %v", args, err)
	}
	var lines [][2]string
	for line := range strings.Lines(out.String()) {
		f := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 3)
		if len(f) == 3 && f[0] == "added" {
			lines = append(lines, [2]string{f[1], f[2]})
		}
	}
	if len(lines) == 0 {
		t.Fatalf("ipfs add %v printed no `added CID NAME` line: %q", args, out.String())
	}
	return lines
}

func TestAddProgress(t *testing.T) {
	s := newTestStore(t, StoreConfig{})
	data := randomBytes(31, 1<<20+5)
	var got []int64
	res, err := s.AddReader(t.Context(), bytes.NewReader(data), "f", AddOptions{ChunkSize: 4096, Progress: func(n int64) { got = append(got, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[len(got)-1] != int64(len(data)) || res.Bytes != int64(len(data)) {
		t.Fatalf("Progress calls end at %v, Bytes %d; want %d", got[max(0, len(got)-1):], res.Bytes, len(data))
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("Progress went %d → %d, want increasing", got[i-1], got[i])
		}
	}
}

func TestAddOptionErrors(t *testing.T) {
	s := newTestStore(t, StoreConfig{})
	tests := []struct {
		name string
		opts AddOptions
	}{
		{name: "chunk too big", opts: AddOptions{ChunkSize: MaxChunkSize + 1}},
		{name: "negative chunk", opts: AddOptions{ChunkSize: -1}},
		{name: "negative workers", opts: AddOptions{Workers: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.AddReader(t.Context(), bytes.NewReader([]byte("x")), "f", tt.opts); err == nil {
				t.Errorf("AddReader(%+v) = nil error, want one", tt.opts)
			}
		})
	}
	if _, err := s.Add(t.Context(), []string{"/does/not/exist"}, AddOptions{}); err == nil {
		t.Errorf("Add(missing path) = nil error, want one")
	}
}
