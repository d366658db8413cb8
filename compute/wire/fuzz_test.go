package wire

import (
	"bufio"
	"bytes"
	"testing"
)

// fuzzDecode checks, for one kind: Decode never panics, a decoded message
// re-encodes to exactly the input (the encoding is canonical), and
// decode → encode → decode gives the same message.
func fuzzDecode(f *testing.F, kind Kind) {
	for _, m := range sampleMsgs(f) {
		if m.Kind() != kind {
			continue
		}
		b, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[1:])
		f.Add(b[1 : len(b)/2+1])
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, fields []byte) {
		body := append([]byte{byte(kind)}, fields...)
		m, err := Decode(body)
		if err != nil {
			return
		}
		if m.Kind() != kind {
			t.Fatalf("Decode() kind %s, want %s", m.Kind(), kind)
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatalf("Encode(Decode(%x)) = %v", body, err)
		}
		if !bytes.Equal(again, body) {
			t.Fatalf("Encode(Decode(%x)) = %x, want the input", body, again)
		}
		m2, err := Decode(again)
		if err != nil {
			t.Fatalf("Decode(Encode(m)) = %v", err)
		}
		b2, _ := Encode(m2)
		if !bytes.Equal(b2, again) {
			t.Fatalf("second round trip differs: %x vs %x", b2, again)
		}
		if r, ok := m.(*Result); ok {
			r.Receipt.Verify() // must not panic on any decoded receipt
		}
	})
}

func FuzzDecodeBidRequest(f *testing.F) { fuzzDecode(f, KindBidRequest) }
func FuzzDecodeBid(f *testing.F)        { fuzzDecode(f, KindBid) }
func FuzzDecodeRunUnit(f *testing.F)    { fuzzDecode(f, KindRunUnit) }
func FuzzDecodeAccepted(f *testing.F)   { fuzzDecode(f, KindAccepted) }
func FuzzDecodeRejected(f *testing.F)   { fuzzDecode(f, KindRejected) }
func FuzzDecodeProgress(f *testing.F)   { fuzzDecode(f, KindProgress) }
func FuzzDecodeResult(f *testing.F)     { fuzzDecode(f, KindResult) }
func FuzzDecodeFailed(f *testing.F)     { fuzzDecode(f, KindFailed) }
func FuzzDecodeCancel(f *testing.F)     { fuzzDecode(f, KindCancel) }
func FuzzDecodeError(f *testing.F)      { fuzzDecode(f, KindError) }

// FuzzReadMsg feeds arbitrary streams to the frame reader and decoder: no
// panic, no frame over the cap, and every message read re-encodes to its
// frame.
func FuzzReadMsg(f *testing.F) {
	var all bytes.Buffer
	for _, m := range sampleMsgs(f) {
		var buf bytes.Buffer
		if err := WriteMsg(&buf, m); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
		all.Write(buf.Bytes())
	}
	f.Add(all.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		for {
			body, err := ReadFrame(r, MaxFrame)
			if err != nil {
				return
			}
			if len(body) > MaxFrame {
				t.Fatalf("ReadFrame() returned %d bytes, over MaxFrame", len(body))
			}
			m, err := Decode(body)
			if err != nil {
				continue
			}
			again, err := Encode(m)
			if err != nil || !bytes.Equal(again, body) {
				t.Fatalf("Encode(Decode(%x)) = %x, %v", body, again, err)
			}
		}
	})
}
