package cli

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"4096", 4096, false},
		{"500MB", 500e6, false},
		{"10GiB", 10 << 30, false},
		{"1.5 kB", 1500, false},
		{"2tib", 2 << 40, false},
		{"1PB", 1e15, false},
		{"", 0, true},
		{"MB", 0, true},
		{"10 parsecs", 0, true},
		{"1.2.3GB", 0, true},
		{"-5MB", 0, true},
		{"99999999999PB", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
