package main

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestCount(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "empty", in: "", want: ""},
		{name: "case folded", in: "Go go GO", want: "go\t3\n"},
		{name: "punctuation splits", in: "a,b. a-b", want: "a\t2\nb\t2\n"},
		{name: "digits are word runes", in: "route 66 route66", want: "66\t1\nroute\t1\nroute66\t1\n"},
		{name: "unicode letters", in: "Olá, ação! OLÁ", want: "ação\t1\nolá\t2\n"},
		{name: "invalid utf8 separates", in: "ab\xffcd", want: "ab\t1\ncd\t1\n"},
		{name: "sorted by bytes", in: "b a B c", want: "a\t1\nb\t2\nc\t1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts := map[string]int64{}
			if err := count(strings.NewReader(tt.in), counts); err != nil {
				t.Fatalf("count(%q): %v", tt.in, err)
			}
			var buf bytes.Buffer
			if err := write(bufio.NewWriter(&buf), counts); err != nil {
				t.Fatalf("write: %v", err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("count(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCountDirMissing(t *testing.T) {
	counts := map[string]int64{}
	if err := countDir(t.TempDir()+"/absent", counts); err != nil {
		t.Fatalf("countDir(absent) = %v, want nil", err)
	}
	if len(counts) != 0 {
		t.Errorf("countDir(absent) counted %v, want nothing", counts)
	}
}
