package wire

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/ipfs/go-cid"
)

// scopeRecorder is a MemoryScope that records the bytes reserved and
// refuses past limit (0: no limit).
type scopeRecorder struct {
	limit, cur, peak int
}

var errScopeFull = errors.New("scope full")

func (s *scopeRecorder) ReserveMemory(n int, _ uint8) error {
	if s.limit > 0 && s.cur+n > s.limit {
		return errScopeFull
	}
	s.cur += n
	s.peak = max(s.peak, s.cur)
	return nil
}

func (s *scopeRecorder) ReleaseMemory(n int) { s.cur -= n }

// announce returns a frame prefix announcing n bytes of type t, followed
// by body (the first bytes of the frame's body only).
func announce(t Type, n int, body []byte) []byte {
	return append(append(uv(uint64(n)), byte(t)), body...)
}

// TestReaderAllocatesAsBytesArrive pins issue 11, finding 5: a frame that
// announces a large size and sends a few bytes makes the Reader allocate and
// reserve a small bound, not the size announced (2 MiB before).
func TestReaderAllocatesAsBytesArrive(t *testing.T) {
	k, _ := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: -1}.Sum([]byte("k"))
	blockHdr := append(uv(7), keyBytes(k)...)
	tests := []struct {
		name string
		in   []byte
	}{
		{"block of 2 MiB", announce(TypeBlock, 1+len(blockHdr)+MaxBlockSize, append(blockHdr, make([]byte, 200)...))},
		{"largest request", announce(TypeRequest, MaxRequestFrame, []byte{1, 0, 0x80, 0x08, 5})},
		{"largest cancel", announce(TypeCancel, MaxCancelFrame, []byte{0x80, 0x08, 5, 1, 2})},
	}
	const bound = growStart + 16<<10
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &scopeRecorder{}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := NewPooledReader(bytes.NewReader(tt.in), &BlockPool{})
			r.SetMemoryScope(sc, 0)
			_, err := r.Read()
			runtime.ReadMemStats(&after)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("Read of a truncated frame: %v, want io.ErrUnexpectedEOF", err)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > bound {
				t.Errorf("Read allocated %d bytes for a frame of %d bytes received, want ≤ %d", got, len(tt.in), bound)
			}
			if sc.peak > growStart {
				t.Errorf("Read reserved up to %d bytes, want ≤ %d", sc.peak, growStart)
			}
			if sc.cur != 0 {
				t.Errorf("Read left %d bytes reserved after an error, want 0", sc.cur)
			}
		})
	}
}

// TestReaderPerTypeCaps: a frame over its type's cap is rejected after its
// length and type, before the body is read.
func TestReaderPerTypeCaps(t *testing.T) {
	for _, typ := range []Type{TypeRequest, TypeCancel, TypeHave, TypeDontHave, TypeError} {
		r := NewReader(io.MultiReader(bytes.NewReader(announce(typ, MaxFrameOf(typ)+1, nil)), endless{}))
		if _, err := r.Read(); !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrMalformed) {
			t.Errorf("Read of a type %d frame of %d bytes: %v, want ErrTooLarge and ErrMalformed", typ, MaxFrameOf(typ)+1, err)
		}
	}
}

// TestReaderScopeReservations: every buffer is reserved first, a refused
// reservation fails Read with the scope's error, and the reservation of a
// kept buffer goes with Release.
func TestReaderScopeReservations(t *testing.T) {
	k, _ := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: -1}.Sum([]byte("k"))
	big := &Block{ID: 1, Key: k, Data: bytes.Repeat([]byte{7}, 300<<10)}
	req := &Request{ID: 2, Keys: []cid.Cid{k, k, k}}
	frames, err := Append(nil, req)
	if err != nil {
		t.Fatal(err)
	}
	if frames, err = Append(frames, big); err != nil {
		t.Fatal(err)
	}
	sc := &scopeRecorder{}
	r := NewReader(bytes.NewReader(frames))
	r.SetMemoryScope(sc, 0)
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	if sc.cur == 0 {
		t.Errorf("after a Request, nothing reserved for the kept buffer")
	}
	m, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	if b := m.(*Block); !bytes.Equal(b.Data, big.Data) {
		t.Errorf("block data differs")
	}
	r.Release()
	if sc.cur != 0 {
		t.Errorf("after Release, %d bytes still reserved", sc.cur)
	}
	if sc.peak < len(big.Data) {
		t.Errorf("peak reservation %d, want ≥ the block's %d bytes", sc.peak, len(big.Data))
	}

	full := &scopeRecorder{limit: 100 << 10}
	r = NewReader(bytes.NewReader(func() []byte { b, _ := Append(nil, big); return b }()))
	r.SetMemoryScope(full, 0)
	if _, err := r.Read(); !errors.Is(err, errScopeFull) || errors.Is(err, ErrMalformed) {
		t.Errorf("Read past the scope's limit: %v, want the scope's error and not ErrMalformed", err)
	}
	if full.cur != 0 {
		t.Errorf("after a refused reservation, %d bytes still reserved", full.cur)
	}
}

func TestDecodeRejectsNonMinimalVarints(t *testing.T) {
	k, _ := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: -1}.Sum([]byte("k"))
	tests := []struct {
		name string
		in   []byte
	}{
		{"id", append([]byte{byte(TypeHave), 0x81, 0x00}, keyBytes(k)...)},
		{"key length", append([]byte{byte(TypeHave), 1, byte(k.ByteLen()) | 0x80, 0x00}, k.Bytes()...)},
		{"error code", []byte{byte(TypeError), 0x80, 0x00, 0}},
	}
	for _, tt := range tests {
		if _, err := Decode(tt.in); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(non-minimal %s) = %v, want ErrMalformed", tt.name, err)
		}
	}
	// A non-minimal frame length prefix.
	if _, err := NewReader(bytes.NewReader([]byte{0x82, 0x00, byte(TypeHave), 1})).Read(); !errors.Is(err, ErrMalformed) {
		t.Errorf("Read(non-minimal length prefix) = %v, want ErrMalformed", err)
	}
}
