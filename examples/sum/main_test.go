package main

import (
	"bytes"
	"math/big"
	"strings"
	"testing"
)

func TestAdd(t *testing.T) {
	tests := []struct {
		name    string
		inputs  []string
		want    string
		wantErr bool
	}{
		{name: "none", want: ""},
		{name: "primes outputs", inputs: []string{"count\t4\n", "2\n3\ncount\t2\n"}, want: "count\t6\n"},
		{name: "several names", inputs: []string{"b\t1\na\t-3\n", "a\t1"}, want: "a\t-2\nb\t1\n"},
		{name: "beyond int64", inputs: []string{"n\t9223372036854775807\n", "n\t1\n"}, want: "n\t9223372036854775808\n"},
		{name: "bad value", inputs: []string{"count\tx\n"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			totals := map[string]*big.Int{}
			var err error
			for _, in := range tt.inputs {
				if err = add(strings.NewReader(in), totals); err != nil {
					break
				}
			}
			if tt.wantErr {
				if err == nil {
					t.Fatalf("add(%q) = nil, want an error", tt.inputs)
				}
				return
			}
			if err != nil {
				t.Fatalf("add(%q): %v", tt.inputs, err)
			}
			var buf bytes.Buffer
			if err := write(&buf, totals); err != nil {
				t.Fatalf("write: %v", err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("add(%q) = %q, want %q", tt.inputs, got, tt.want)
			}
		})
	}
}
