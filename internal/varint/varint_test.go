package varint

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    uint64
		n       int
		wantErr error
	}{
		{"zero", []byte{0}, 0, 1, nil},
		{"one byte", []byte{0x7f}, 127, 1, nil},
		{"two bytes", []byte{0x80, 0x01}, 128, 2, nil},
		{"trailing bytes kept", []byte{0x05, 0xff}, 5, 1, nil},
		{"max uint64", binary.AppendUvarint(nil, math.MaxUint64), math.MaxUint64, 10, nil},
		{"empty", nil, 0, 0, io.ErrUnexpectedEOF},
		{"truncated", []byte{0x80}, 0, 0, io.ErrUnexpectedEOF},
		{"non-minimal zero", []byte{0x80, 0x00}, 0, 0, ErrNonMinimal},
		{"non-minimal one", []byte{0x81, 0x80, 0x00}, 0, 0, ErrNonMinimal},
		{"over 64 bits in the tenth byte", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 0, 0, ErrOverflow},
		{"eleven bytes", bytes.Repeat([]byte{0x80}, 11), 0, 0, ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, n, err := Decode(tt.in)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr != nil && !errors.Is(err, ErrMalformed)) {
				t.Fatalf("Decode(%x) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if v != tt.want || n != tt.n {
				t.Errorf("Decode(%x) = %d, %d; want %d, %d", tt.in, v, n, tt.want, tt.n)
			}
		})
	}
}

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		maxLen  int
		want    uint64
		wantErr error
	}{
		{"value", []byte{0x80, 0x01}, 0, 128, nil},
		{"at the limit", []byte{0xff, 0xff, 0xff, 0x7f}, 4, 1<<28 - 1, nil},
		{"past the limit", []byte{0xff, 0xff, 0xff, 0xff, 0x01}, 4, 0, ErrOverflow},
		{"clean end", nil, 0, 0, io.EOF},
		{"end inside", []byte{0x80}, 0, 0, io.ErrUnexpectedEOF},
		{"non-minimal", []byte{0x80, 0x80, 0x00}, 0, 0, ErrNonMinimal},
		{"overflow", bytes.Repeat([]byte{0xff}, 11), 0, 0, ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReader(bytes.NewReader(tt.in))
			v, err := Read(r, tt.maxLen)
			if !errors.Is(err, tt.wantErr) || v != tt.want {
				t.Fatalf("Read(%x, %d) = %d, %v; want %d, %v", tt.in, tt.maxLen, v, err, tt.want, tt.wantErr)
			}
		})
	}
}

// FuzzDecode checks that Decode never panics, agrees with encoding/binary
// on every varint it accepts, accepts only the shortest encoding
// (decode → encode gives back the bytes), and that Read agrees with it.
func FuzzDecode(f *testing.F) {
	for _, seed := range [][]byte{
		{0}, {0x7f}, {0x80, 0x01}, {0x80, 0x00}, {0x80},
		binary.AppendUvarint(nil, math.MaxUint64),
		bytes.Repeat([]byte{0xff}, 11),
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := Decode(b)
		rv, rerr := Read(bytes.NewReader(b), 0)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(%x) error %v does not wrap ErrMalformed", b, err)
			}
			if rerr == nil {
				t.Fatalf("Read(%x) = %d, Decode failed with %v", b, rv, err)
			}
			return
		}
		if rerr != nil || rv != v {
			t.Fatalf("Read(%x) = %d, %v; Decode gave %d", b, rv, rerr, v)
		}
		if n < 1 || n > MaxLen64 {
			t.Fatalf("Decode(%x) took %d bytes", b, n)
		}
		if enc := binary.AppendUvarint(nil, v); !bytes.Equal(enc, b[:n]) {
			t.Fatalf("Decode(%x) = %d from %x, which encodes as %x", b, v, b[:n], enc)
		}
		if bv, bn := binary.Uvarint(b); bv != v || bn != n {
			t.Fatalf("Decode(%x) = %d, %d; binary.Uvarint = %d, %d", b, v, n, bv, bn)
		}
	})
}
