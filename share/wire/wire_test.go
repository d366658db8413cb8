package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

func testKey(t testing.TB, s string) cid.Cid {
	t.Helper()
	h, err := multihash.Sum([]byte(s), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatalf("multihash.Sum: %v", err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

var cidCmp = cmp.Options{
	cmp.Comparer(func(a, b cid.Cid) bool { return a.Equals(b) }),
	cmp.Comparer(bytes.Equal), // fast on 2 MiB blocks
}

func validMsgs(t testing.TB) []Msg {
	k1, k2 := testKey(t, "a"), testKey(t, "b")
	v0 := cid.NewCidV0(k1.Hash())
	keys := make([]cid.Cid, MaxKeys)
	for i := range keys {
		keys[i] = k1
	}
	return []Msg{
		&Request{ID: 1, Keys: []cid.Cid{k1, k2, v0}},
		&Request{ID: 1 << 63, Flags: FlagHaveOnly, Keys: []cid.Cid{k1}},
		&Request{ID: 0, Keys: []cid.Cid{}},
		&Request{ID: 7, Keys: keys},
		&Block{ID: 2, Key: k1, Data: []byte("a")},
		&Block{ID: 3, Key: k2, Data: []byte{}},
		&Block{ID: 4, Key: k2, Data: bytes.Repeat([]byte{0xaa}, MaxBlockSize)},
		&DontHave{ID: 5, Key: v0},
		&Have{ID: 6, Key: k2},
		&Cancel{Keys: []cid.Cid{k1, k2}},
		&Cancel{Keys: []cid.Cid{}},
		&Error{Code: CodeBusy, Msg: "busy"},
		&Error{Code: 99, Msg: ""},
	}
}

// normalize maps nil and empty slices to one form for comparison.
func normalize(m Msg) Msg {
	switch m := m.(type) {
	case *Request:
		if len(m.Keys) == 0 {
			m.Keys = nil
		}
	case *Cancel:
		if len(m.Keys) == 0 {
			m.Keys = nil
		}
	case *Block:
		if len(m.Data) == 0 {
			m.Data = nil
		}
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	for _, m := range validMsgs(t) {
		frame, err := Append(nil, m)
		if err != nil {
			t.Fatalf("Append(%T): %v", m, err)
		}
		// Through Decode.
		n, k := binary.Uvarint(frame)
		if k <= 0 || int(n) != len(frame)-k {
			t.Fatalf("Append(%T): bad length prefix %d for %d bytes", m, n, len(frame)-k)
		}
		got, err := Decode(frame[k:])
		if err != nil {
			t.Fatalf("Decode(Append(%T)): %v", m, err)
		}
		if diff := cmp.Diff(normalize(m), normalize(got), cidCmp); diff != "" {
			t.Errorf("Decode(Append(%T)) mismatch (-want +got):\n%s", m, diff)
		}
		// Through Writer and Reader.
		var buf bytes.Buffer
		w := NewWriter(&buf)
		if err := w.Write(m); err != nil {
			t.Fatalf("Writer.Write(%T): %v", m, err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), frame) {
			t.Errorf("Writer.Write(%T) differs from Append", m)
		}
		got, err = NewReader(&buf).Read()
		if err != nil {
			t.Fatalf("Reader.Read(%T): %v", m, err)
		}
		if diff := cmp.Diff(normalize(m), normalize(got), cidCmp); diff != "" {
			t.Errorf("Reader.Read(%T) mismatch (-want +got):\n%s", m, diff)
		}
	}
}

func TestReaderSequence(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	msgs := validMsgs(t)
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf)
	for i, want := range msgs {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("Read() #%d: %v", i, err)
		}
		if diff := cmp.Diff(normalize(want), normalize(got), cidCmp); diff != "" {
			t.Errorf("Read() #%d mismatch (-want +got):\n%s", i, diff)
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Errorf("Read() at end = %v, want io.EOF", err)
	}
}

func TestEncodeRejects(t *testing.T) {
	k := testKey(t, "a")
	tests := []struct {
		name string
		m    Msg
	}{
		{"nil", nil},
		{"undefined key", &DontHave{ID: 1}},
		{"too many keys", &Request{Keys: make([]cid.Cid, MaxKeys+1)}},
		{"unknown flag", &Request{Flags: 0x80, Keys: []cid.Cid{k}}},
		{"block too large", &Block{Key: k, Data: make([]byte, MaxBlockSize+1)}},
		{"error too long", &Error{Msg: strings.Repeat("x", MaxErrorSize+1)}},
		{"error not utf8", &Error{Msg: "\xff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Append(nil, tt.m); err == nil {
				t.Errorf("Append(%s) = nil error, want error", tt.name)
			}
			if err := NewWriter(io.Discard).Write(tt.m); err == nil {
				t.Errorf("Writer.Write(%s) = nil error, want error", tt.name)
			}
		})
	}
}

func frameOf(t Type, body ...[]byte) []byte {
	b := []byte{byte(t)}
	for _, p := range body {
		b = append(b, p...)
	}
	return b
}

func uv(v uint64) []byte { return binary.AppendUvarint(nil, v) }

func keyBytes(k cid.Cid) []byte { return appendKey(nil, k) }

func TestDecodeRejects(t *testing.T) {
	k := testKey(t, "a")
	kb := keyBytes(k)
	tests := []struct {
		name     string
		frame    []byte
		tooLarge bool
	}{
		{"empty", nil, false},
		{"unknown type", frameOf(0x7f), false},
		{"type zero", frameOf(0), false},
		{"request no id", frameOf(TypeRequest), false},
		{"request no flags", frameOf(TypeRequest, uv(1)), false},
		{"request bad flags", frameOf(TypeRequest, uv(1), []byte{0x02}, uv(1), kb), false},
		{"request too many keys", frameOf(TypeRequest, uv(1), []byte{0}, uv(MaxKeys+1)), true},
		{"request key count beyond body", frameOf(TypeRequest, uv(1), []byte{0}, uv(3), kb), false},
		{"request trailing", frameOf(TypeRequest, uv(1), []byte{0}, uv(1), kb, []byte{0}), false},
		{"key zero length", frameOf(TypeHave, uv(1), uv(0)), false},
		{"key too long", frameOf(TypeHave, uv(1), uv(MaxKeySize+1), make([]byte, MaxKeySize+1)), false},
		{"key truncated", frameOf(TypeHave, uv(1), uv(36), kb[1:10]), false},
		{"key garbage", frameOf(TypeHave, uv(1), uv(4), []byte{1, 2, 3, 4}), false},
		{"key trailing bytes inside", frameOf(TypeHave, uv(1), uv(uint64(k.ByteLen()+1)), k.Bytes(), []byte{0}), false},
		{"varint overflow", frameOf(TypeHave, bytes.Repeat([]byte{0xff}, 11)), false},
		{"block no key", frameOf(TypeBlock, uv(1)), false},
		{"block too large", frameOf(TypeBlock, uv(1), kb, make([]byte, MaxBlockSize+1)), true},
		{"frame too large", make([]byte, MaxFrameSize+1), true},
		{"donthave trailing", frameOf(TypeDontHave, uv(1), kb, []byte{1}), false},
		{"cancel too many", frameOf(TypeCancel, uv(MaxKeys+1)), true},
		{"error too long", frameOf(TypeError, uv(1), uv(MaxErrorSize+1), make([]byte, MaxErrorSize+1)), true},
		{"error truncated", frameOf(TypeError, uv(1), uv(10), []byte("abc")), false},
		{"error not utf8", frameOf(TypeError, uv(1), uv(1), []byte{0xff}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(tt.frame)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(%s) = %v, %v; want ErrMalformed", tt.name, m, err)
			}
			if got := errors.Is(err, ErrTooLarge); got != tt.tooLarge {
				t.Errorf("Decode(%s): errors.Is(%v, ErrTooLarge) = %v, want %v", tt.name, err, got, tt.tooLarge)
			}
		})
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestReaderRejectsOversizedBeforeBuffering(t *testing.T) {
	tests := []struct {
		name   string
		prefix []byte
	}{
		{"just over the cap", uv(MaxFrameSize + 1)},
		{"huge", uv(1 << 40)},
		{"endless varint", bytes.Repeat([]byte{0xff}, 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The prefix is followed by an endless stream: a reader that
			// buffers the frame would read (and hang on) it.
			body := io.MultiReader(bytes.NewReader(tt.prefix), endless{})
			cr := &countingReader{r: body}
			r := NewReader(cr)
			_, err := r.Read()
			if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Read(%s) = %v, want ErrTooLarge and ErrMalformed", tt.name, err)
			}
			if cr.n > 64<<10+len(tt.prefix) {
				t.Errorf("Read(%s) consumed %d bytes, want at most one buffer", tt.name, cr.n)
			}
		})
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0x42
	}
	return len(p), nil
}

func TestReaderTruncated(t *testing.T) {
	frame, err := Append(nil, &Block{ID: 1, Key: testKey(t, "a"), Data: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"in prefix", []byte{0x80}, io.ErrUnexpectedEOF},
		{"in body", frame[:len(frame)-1], io.ErrUnexpectedEOF},
		{"after type", frame[:2], io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.in)).Read()
			if !errors.Is(err, tt.want) {
				t.Errorf("Read(%s) = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

func TestReaderZeroLength(t *testing.T) {
	_, err := NewReader(bytes.NewReader([]byte{0})).Read()
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("Read(zero-length frame) = %v, want ErrMalformed", err)
	}
}

func TestReaderBlockDataOwned(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	k := testKey(t, "a")
	for _, s := range []string{"first", "second"} {
		if err := w.Write(&Block{ID: 1, Key: k, Data: []byte(s)}); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	r := NewReader(&buf)
	m1, _ := r.Read()
	m2, _ := r.Read()
	if got := string(m1.(*Block).Data); got != "first" {
		t.Errorf("first block data = %q after reading the second, want %q", got, "first")
	}
	if got := string(m2.(*Block).Data); got != "second" {
		t.Errorf("second block data = %q, want %q", got, "second")
	}
}

// TestPooledReaderSequence reads the valid messages through a pooled
// Reader, handing every block's data back to the pool at once, and checks
// that each message is still intact when compared (no buffer is handed out
// twice while in use).
func TestPooledReaderSequence(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	msgs := validMsgs(t)
	big := &Block{ID: 9, Key: testKey(t, "big"), Data: bytes.Repeat([]byte{7}, 256<<10)}
	for range 3 {
		msgs = append(msgs, big, &Block{ID: 10, Key: testKey(t, "c"), Data: bytes.Repeat([]byte{8}, 100<<10)})
	}
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	var pool BlockPool
	r := NewPooledReader(&buf, &pool)
	var held [][]byte
	for i, want := range msgs {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("Read() #%d: %v", i, err)
		}
		if diff := cmp.Diff(normalize(want), normalize(got), cidCmp); diff != "" {
			t.Fatalf("Read() #%d mismatch (-want +got):\n%s", i, diff)
		}
		if b, ok := got.(*Block); ok {
			held = append(held, b.Data)
			if i%2 == 0 { // give back some at once, keep others a while
				pool.Put(b.Data)
				held = held[:len(held)-1]
			}
		}
	}
	for _, b := range held {
		pool.Put(b)
	}
	if _, err := r.Read(); err != io.EOF {
		t.Errorf("Read() at the end = %v, want io.EOF", err)
	}
}

// TestBlockPoolReuses checks that a pooled Reader reuses a buffer handed
// back with Put for the next block of a size that fits, and that the
// block's Data always has exactly the data's length.
func TestBlockPoolReuses(t *testing.T) {
	k := testKey(t, "a")
	sizes := []int{256 << 10, 256 << 10, 200 << 10, 256<<10 + 1}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for i, n := range sizes {
		if err := w.Write(&Block{ID: uint64(i), Key: k, Data: bytes.Repeat([]byte{byte(i)}, n)}); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	var pool BlockPool
	r := NewPooledReader(&buf, &pool)
	var prev []byte
	for i, n := range sizes {
		m, err := r.Read()
		if err != nil {
			t.Fatalf("Read() #%d: %v", i, err)
		}
		b := m.(*Block)
		if len(b.Data) != n || !bytes.Equal(b.Data, bytes.Repeat([]byte{byte(i)}, n)) {
			t.Fatalf("Read() #%d: data of %d bytes, want %d bytes of %d", i, len(b.Data), n, i)
		}
		if i == 1 || i == 2 {
			// sync.Pool may drop items at any time (GC), so reuse is
			// likely but not guaranteed: only check it when it happened.
			if &b.Data[:1][0] != &prev[:1][0] {
				t.Logf("Read() #%d: buffer not reused (the pool was emptied)", i)
			}
		}
		prev = b.Data
		pool.Put(b.Data)
	}
}

func TestBlockPoolPutDropsOddSizes(t *testing.T) {
	var pool BlockPool
	pool.Put(nil)
	pool.Put(make([]byte, 10))
	pool.Put(make([]byte, MaxBlockSize+poolRound))
	var nilPool *BlockPool
	nilPool.Put(make([]byte, 256<<10))
	if got := len(nilPool.Get(300 << 10)); got != 300<<10 {
		t.Errorf("nil pool Get(300 KiB) has length %d", got)
	}
	if got := pool.Get(minPooled * 2); len(got) != minPooled*2 || cap(got)%poolRound != 0 {
		t.Errorf("Get(%d) = len %d cap %d, want the length and a cap rounded to %d", minPooled*2, len(got), cap(got), poolRound)
	}
}

// TestReaderBlockHeaderBeforeData checks that a Block whose key is bad is
// rejected after reading at most one read buffer, before its data is read
// or allocated.
func TestReaderBlockHeaderBeforeData(t *testing.T) {
	tests := []struct {
		name string
		hdr  []byte // after the length prefix
	}{
		{"key length zero", []byte{byte(TypeBlock), 1, 0}},
		{"key too long", append([]byte{byte(TypeBlock), 1}, uv(MaxKeySize+1)...)},
		{"key not a cid", []byte{byte(TypeBlock), 1, 4, 0xff, 0xff, 0xff, 0xff}},
		{"id varint overflow", append([]byte{byte(TypeBlock)}, bytes.Repeat([]byte{0xff}, 11)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := io.MultiReader(bytes.NewReader(uv(MaxFrameSize)), bytes.NewReader(tt.hdr), endless{})
			cr := &countingReader{r: body}
			_, err := NewPooledReader(cr, &BlockPool{}).Read()
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Read(%s) = %v, want ErrMalformed", tt.name, err)
			}
			if cr.n > 8<<10+maxLenBytes {
				t.Errorf("Read(%s) consumed %d bytes, want at most the prefix and one 8 KiB buffer", tt.name, cr.n)
			}
		})
	}
}

func TestReaderBlockOverCap(t *testing.T) {
	// A frame within MaxFrameSize whose data alone exceeds MaxBlockSize.
	k := testKey(t, "a")
	hdr := appendKey(binary.AppendUvarint([]byte{byte(TypeBlock)}, 1), k)
	n := len(hdr) + MaxBlockSize + 1
	in := io.MultiReader(bytes.NewReader(uv(uint64(n))), bytes.NewReader(hdr), endless{})
	_, err := NewReader(in).Read()
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrMalformed) {
		t.Errorf("Read(block of MaxBlockSize+1 bytes) = %v, want ErrTooLarge and ErrMalformed", err)
	}
}
