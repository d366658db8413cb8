package main

import (
	"slices"
	"testing"
)

func TestCount(t *testing.T) {
	tests := []struct {
		name string
		a, b uint64
		want uint64
	}{
		{name: "empty", a: 5, b: 5, want: 0},
		{name: "below two", a: 0, b: 2, want: 0},
		{name: "to ten", a: 0, b: 10, want: 4},
		{name: "end excluded", a: 2, b: 7, want: 3},
		{name: "pi of 10^6", a: 0, b: 1_000_000, want: 78498},
		{name: "near a million", a: 999_000, b: 1_001_000, want: 140},
		{name: "split adds up", a: 500_000, b: 1_000_000, want: 78498 - 41538},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := count(tt.a, tt.b, nil); got != tt.want {
				t.Errorf("count(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestCountList(t *testing.T) {
	var got []uint64
	count(10, 30, func(p uint64) { got = append(got, p) })
	if want := []uint64{11, 13, 17, 19, 23, 29}; !slices.Equal(got, want) {
		t.Errorf("count(10, 30) listed %v, want %v", got, want)
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{name: "ok", args: []string{"1", "100"}},
		{name: "one arg", args: []string{"1"}, wantErr: true},
		{name: "reversed", args: []string{"9", "1"}, wantErr: true},
		{name: "too big", args: []string{"0", "140737488355329"}, wantErr: true},
		{name: "negative", args: []string{"-1", "5"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseRange(tt.args)
			if (err != nil) != tt.wantErr {
				t.Errorf("parseRange(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
			}
		})
	}
}
