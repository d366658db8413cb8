package main

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1073741824", want: 1 << 30},
		{in: "1GiB", want: 1 << 30},
		{in: "512 MiB", want: 512 << 20},
		{in: "10MB", want: 10_000_000},
		{in: "1.5KiB", want: 1536},
		{in: "7B", want: 7},
		{in: "0", wantErr: true},
		{in: "-1GiB", wantErr: true},
		{in: "lots", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
