package dht

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func searchSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, m := range validSearchMsgs(f) {
		b, err := AppendSearchMsg(nil, m)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return append(out, nil, []byte{0}, []byte{msgFind, 0}, []byte{msgStore, 0xff, 0xff, 0xff, 0xff, 0x7f})
}

// FuzzDecodeSearchMsg: DecodeSearchMsg never panics, wraps ErrMalformed,
// and decode→encode→decode gives the same message.
func FuzzDecodeSearchMsg(f *testing.F) {
	for _, s := range searchSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := DecodeSearchMsg(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeSearchMsg: %v does not wrap ErrMalformed", err)
			}
			return
		}
		enc, err := AppendSearchMsg(nil, m)
		if err != nil {
			t.Fatalf("AppendSearchMsg of a decoded message: %v", err)
		}
		m2, err := DecodeSearchMsg(enc)
		if err != nil {
			t.Fatalf("DecodeSearchMsg of a re-encoded message: %v", err)
		}
		if diff := cmp.Diff(m, m2, cmpRecords); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

// FuzzDecodeRecord: DecodeRecord never panics and round-trips.
func FuzzDecodeRecord(f *testing.F) {
	for _, m := range validSearchMsgs(f) {
		for _, r := range m.Records {
			f.Add(AppendRecord(nil, r))
		}
	}
	f.Add([]byte{recordVersion})
	f.Add([]byte{recordVersion, 1, 'a', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeRecord: %v does not wrap ErrMalformed", err)
			}
			return
		}
		r2, err := DecodeRecord(AppendRecord(nil, r))
		if err != nil {
			t.Fatalf("DecodeRecord of a re-encoded record: %v", err)
		}
		if diff := cmp.Diff(r, r2, cmpRecords); diff != "" {
			t.Fatalf("round trip mismatch:\n%s", diff)
		}
		_ = r.Verify(r.Published, 1) // must not panic on any key or signature
	})
}

// FuzzReadSearchMsg: the frame reader never panics, rejects frames over
// the cap before reading them, and reads no further than one frame.
func FuzzReadSearchMsg(f *testing.F) {
	for _, s := range searchSeeds(f) {
		f.Add(append(binary.AppendUvarint(nil, uint64(len(s))), s...))
	}
	f.Add(binary.AppendUvarint(nil, MaxSearchMessage+1))
	f.Fuzz(func(t *testing.T, stream []byte) {
		br := bufio.NewReader(bytes.NewReader(stream))
		_, err := ReadSearchMsg(br)
		if err != nil && err != io.EOF && !errors.Is(err, ErrMalformed) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("ReadSearchMsg: unexpected error %v", err)
		}
	})
}
