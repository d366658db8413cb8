// Package varint decodes unsigned varints (LEB128, the format of
// encoding/binary's AppendUvarint) strictly: a value must fit in 64 bits and
// be encoded in its shortest form, so that decoding and encoding again gives
// back the same bytes. share/wire, compute/wire and compute/sandbox's child
// protocol decode their varints here. (WebAssembly's LEB128 allows padding
// and is not decoded here.)
//
// It imports only the standard library; any package of the module may
// import it.
package varint

import (
	"errors"
	"io"
)

// MaxLen64 is the length of the longest varint of a uint64.
const MaxLen64 = 10

// Decoding errors. Every error Decode and Read return for bad bytes wraps
// ErrMalformed and one of the others.
var (
	// ErrMalformed is wrapped by every error caused by bad bytes.
	ErrMalformed = errors.New("varint: malformed")
	// ErrOverflow: the value does not fit in 64 bits, or the varint is
	// longer than the reader's limit.
	ErrOverflow = errors.New("varint: too long")
	// ErrNonMinimal: the value has a shorter encoding.
	ErrNonMinimal = errors.New("varint: non-minimal encoding")
)

type decodeError struct{ kind error }

func (e decodeError) Error() string { return e.kind.Error() }

func (e decodeError) Is(target error) bool { return target == ErrMalformed || target == e.kind }

var (
	errOverflow   error = decodeError{ErrOverflow}
	errNonMinimal error = decodeError{ErrNonMinimal}
	// errTruncated is returned by Decode when b ends inside a varint.
	errTruncated error = decodeError{io.ErrUnexpectedEOF}
)

// Decode returns the varint at the start of b and the number of bytes it
// took. It returns an error wrapping ErrMalformed when b is empty or ends
// inside the varint (then also io.ErrUnexpectedEOF), when the value passes
// 64 bits (ErrOverflow) or when it is not in its shortest form
// (ErrNonMinimal).
func Decode(b []byte) (uint64, int, error) {
	var v uint64
	for i := range min(len(b), MaxLen64) {
		c := b[i]
		if i == MaxLen64-1 && c > 1 {
			return 0, 0, errOverflow
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if i > 0 && c == 0 {
				return 0, 0, errNonMinimal
			}
			return v, i + 1, nil
		}
	}
	if len(b) >= MaxLen64 {
		return 0, 0, errOverflow
	}
	return 0, 0, errTruncated
}

// Read reads one varint from r, byte by byte, consuming no more than
// maxLen bytes of it (MaxLen64 when maxLen is not in 1..MaxLen64): a
// longer varint fails with ErrOverflow as soon as its byte maxLen is seen,
// so a peer cannot make a reader consume more. It returns io.EOF only when
// r ends before the first byte, and an error wrapping io.ErrUnexpectedEOF
// when r ends inside the varint; other errors of r are returned as they
// are.
func Read(r io.ByteReader, maxLen int) (uint64, error) {
	if maxLen < 1 || maxLen > MaxLen64 {
		maxLen = MaxLen64
	}
	var v uint64
	for i := range maxLen {
		c, err := r.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if i == MaxLen64-1 && c > 1 {
			return 0, errOverflow
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if i > 0 && c == 0 {
				return 0, errNonMinimal
			}
			return v, nil
		}
	}
	return 0, errOverflow
}
