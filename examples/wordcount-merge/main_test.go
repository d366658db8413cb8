package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestMerge(t *testing.T) {
	tests := []struct {
		name    string
		inputs  []string
		want    string
		wantErr bool
	}{
		{name: "none", inputs: nil, want: ""},
		{name: "adds counts", inputs: []string{"a\t1\nb\t2\n", "b\t3\nc\t1\n"}, want: "a\t1\nb\t5\nc\t1\n"},
		{name: "no final newline", inputs: []string{"a\t1"}, want: "a\t1\n"},
		{name: "missing tab", inputs: []string{"a 1\n"}, wantErr: true},
		{name: "negative count", inputs: []string{"a\t-1\n"}, wantErr: true},
		{name: "not a number", inputs: []string{"a\tx\n"}, wantErr: true},
		{name: "overflow", inputs: []string{"a\t9223372036854775807\n", "a\t1\n"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts := map[string]int64{}
			var err error
			for _, in := range tt.inputs {
				if err = merge(strings.NewReader(in), counts); err != nil {
					break
				}
			}
			if tt.wantErr {
				if err == nil {
					t.Fatalf("merge(%q) = nil, want an error", tt.inputs)
				}
				return
			}
			if err != nil {
				t.Fatalf("merge(%q): %v", tt.inputs, err)
			}
			var buf bytes.Buffer
			if err := write(&buf, counts); err != nil {
				t.Fatalf("write: %v", err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("merge(%q) = %q, want %q", tt.inputs, got, tt.want)
			}
		})
	}
}
