package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func seeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, m := range validMsgs(f) {
		if b, ok := m.(*Block); ok && len(b.Data) > 1024 {
			continue
		}
		frame, err := Append(nil, m)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, frame)
	}
	out = append(out, nil, []byte{0}, []byte{1}, []byte{0xff, 0xff, 0xff, 0xff, 0x7f},
		[]byte{2, byte(TypeHave), 0}, uv(MaxFrameSize+1))
	return out
}

// FuzzDecode feeds arbitrary frame contents to Decode: it must never panic,
// must enforce the caps, and decode→encode→decode must give the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds(f) {
		if _, k := binary.Uvarint(s); k > 0 {
			f.Add(s[k:])
		}
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := Decode(frame)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode: error %v does not wrap ErrMalformed", err)
			}
			return
		}
		checkRoundTrip(t, m)
	})
}

// FuzzDecodeFrames feeds an arbitrary byte stream to a Reader: it must never
// panic, must not read more than a frame cap past the last good frame, and
// each message must round-trip.
func FuzzDecodeFrames(f *testing.F) {
	ss := seeds(f)
	for _, s := range ss {
		f.Add(s)
	}
	f.Add(bytes.Join(ss, nil))
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := NewReader(bytes.NewReader(stream))
		for range 1000 {
			m, err := r.Read()
			if err != nil {
				if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrMalformed) {
					return
				}
				t.Fatalf("Read: unexpected error %v", err)
			}
			checkRoundTrip(t, m)
		}
	})
}

func checkRoundTrip(t *testing.T, m Msg) {
	t.Helper()
	if b, ok := m.(*Block); ok && len(b.Data) > MaxBlockSize {
		t.Fatalf("decoded block of %d bytes, over the cap", len(b.Data))
	}
	frame, err := Append(nil, m)
	if err != nil {
		t.Fatalf("Append(decoded %T): %v", m, err)
	}
	_, k := binary.Uvarint(frame)
	m2, err := Decode(frame[k:])
	if err != nil {
		t.Fatalf("Decode(Append(decoded %T)): %v", m, err)
	}
	if diff := cmp.Diff(normalize(m), normalize(m2), cidCmp); diff != "" {
		t.Fatalf("round trip of %T mismatch (-first +second):\n%s", m, diff)
	}
}

// FuzzDecodeFramesPooled reads an arbitrary byte stream with a plain and a
// pooled Reader (which decodes a Block's header before reading its data, and
// recycles data buffers): both must give the same messages and fail on the
// same frame, with errors of the same kind, except that the pooled Reader
// may find a Block frame malformed where the plain one, which reads the
// whole frame first, runs out of stream.
func FuzzDecodeFramesPooled(f *testing.F) {
	ss := seeds(f)
	for _, s := range ss {
		f.Add(s)
	}
	f.Add(bytes.Join(ss, nil))
	var pool BlockPool
	f.Fuzz(func(t *testing.T, stream []byte) {
		plain := NewReader(bytes.NewReader(stream))
		pooled := NewPooledReader(bytes.NewReader(stream), &pool)
		for i := range 1000 {
			want, werr := plain.Read()
			got, gerr := pooled.Read()
			early := errKind(werr) == "unexpected eof" && errors.Is(gerr, ErrMalformed)
			if (werr == nil) != (gerr == nil) || werr != nil && errKind(werr) != errKind(gerr) && !early {
				t.Fatalf("frame %d: plain Read error %v, pooled Read error %v", i, werr, gerr)
			}
			if werr != nil {
				return
			}
			if diff := cmp.Diff(normalize(want), normalize(got), cidCmp); diff != "" {
				t.Fatalf("frame %d: pooled Read mismatch (-plain +pooled):\n%s", i, diff)
			}
			if b, ok := got.(*Block); ok {
				pool.Put(b.Data)
			}
		}
	})
}

// errKind classifies a Reader error for FuzzDecodeFramesPooled.
func errKind(err error) string {
	switch {
	case err == nil:
		return ""
	case err == io.EOF:
		return "eof"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected eof"
	case errors.Is(err, ErrTooLarge):
		return "too large"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	}
	return "other: " + err.Error()
}
