package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
	"unicode/utf8"

	"github.com/enxame/enxame/internal/varint"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Size caps of the protocol. A frame whose announced length is over MaxFrame
// is rejected before any of its body is read.
const (
	// MaxFrame caps a frame's body, in bytes.
	MaxFrame = 64 << 10
	// MaxCIDs caps the CIDs of one list (a unit's inputs, a bid's held
	// inputs).
	MaxCIDs = 256
	// MaxCIDLen caps one CID's binary form, in bytes.
	MaxCIDLen = 128
	// MaxPeerIDLen caps a peer ID's binary form, in bytes.
	MaxPeerIDLen = 128
	// MaxJobLen caps a job ID, in bytes.
	MaxJobLen = 256
	// MaxArgs caps a unit's arguments.
	MaxArgs = 256
	// MaxArgLen caps one argument, in bytes.
	MaxArgLen = 4096
	// MaxDetailLen caps a free-text reason or detail, in bytes.
	MaxDetailLen = 2048
	// MaxStderrLen caps the stderr a Result or Failed carries, in bytes
	// (Log.Stderr): half of MaxFrame, with room for the rest.
	MaxStderrLen = 32 << 10
	// MaxSignatureLen caps a receipt's signature, in bytes.
	MaxSignatureLen = 1024
	// MaxSlots caps the slot and queue figures of a bid.
	MaxSlots = 1 << 16
	// MaxUnit caps a unit index.
	MaxUnit = 1 << 24
	// MaxInlineOutput caps the output bytes a Result carries inline: a
	// worker inlines an output this small when the Result still fits
	// MaxFrame.
	MaxInlineOutput = 8 << 10
	// MaxHeldBytes caps one size of a bid's held inputs (1 PiB).
	MaxHeldBytes = 1 << 50
)

// Errors of the codec. Decoding errors wrap ErrMalformed; reading a frame
// announced over the cap returns an error wrapping ErrFrameTooLarge.
var (
	// ErrMalformed means a message's bytes are not a valid encoding.
	ErrMalformed = errors.New("wire: malformed message")
	// ErrFrameTooLarge means a frame's announced length is over the cap.
	ErrFrameTooLarge = errors.New("wire: frame over size cap")
	// ErrBadSignature means a receipt's signature does not verify with its
	// worker's public key.
	ErrBadSignature = errors.New("wire: bad receipt signature")
)

// Kind is a message's type, its body's first byte.
type Kind byte

// Message kinds.
const (
	KindBidRequest Kind = 1
	KindBid        Kind = 2
	KindRunUnit    Kind = 3
	KindAccepted   Kind = 4
	KindRejected   Kind = 5
	KindProgress   Kind = 6
	KindResult     Kind = 7
	KindFailed     Kind = 8
	KindCancel     Kind = 9
	KindError      Kind = 10
)

// String returns the message name of k.
func (k Kind) String() string {
	switch k {
	case KindBidRequest:
		return "bid-request"
	case KindBid:
		return "bid"
	case KindRunUnit:
		return "run-unit"
	case KindAccepted:
		return "accepted"
	case KindRejected:
		return "rejected"
	case KindProgress:
		return "progress"
	case KindResult:
		return "result"
	case KindFailed:
		return "failed"
	case KindCancel:
		return "cancel"
	case KindError:
		return "error"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// Msg is one protocol message: *BidRequest, *Bid, *RunUnit, *Accepted,
// *Rejected, *Progress, *Result, *Failed, *Cancel or *Error.
type Msg interface {
	Kind() Kind
	encode(e *encoder)
	decode(d *decoder)
}

// Encode returns the body of m (its kind byte and fields, without the
// length prefix). It returns an error wrapping ErrMalformed if m breaks a
// limit (a list or string over its cap, an undefined CID) so that nothing
// a decoder would reject is ever sent.
func Encode(m Msg) ([]byte, error) {
	e := &encoder{b: []byte{byte(m.Kind())}}
	m.encode(e)
	if e.err != nil {
		return nil, fmt.Errorf("encode %s: %w: %v", m.Kind(), ErrMalformed, e.err)
	}
	if len(e.b) > MaxFrame {
		return nil, fmt.Errorf("encode %s: %w: %d bytes", m.Kind(), ErrFrameTooLarge, len(e.b))
	}
	return e.b, nil
}

// Decode parses a message body. It returns an error wrapping ErrMalformed for
// any malformed input and never panics.
func Decode(b []byte) (Msg, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrMalformed)
	}
	var m Msg
	switch Kind(b[0]) {
	case KindBidRequest:
		m = new(BidRequest)
	case KindBid:
		m = new(Bid)
	case KindRunUnit:
		m = new(RunUnit)
	case KindAccepted:
		m = new(Accepted)
	case KindRejected:
		m = new(Rejected)
	case KindProgress:
		m = new(Progress)
	case KindResult:
		m = new(Result)
	case KindFailed:
		m = new(Failed)
	case KindCancel:
		m = new(Cancel)
	case KindError:
		m = new(Error)
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrMalformed, b[0])
	}
	d := &decoder{b: b[1:]}
	m.decode(d)
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode %s: %w: %v", m.Kind(), ErrMalformed, d.err)
	}
	return m, nil
}

// WriteMsg encodes m and writes it as one frame in one Write call.
func WriteMsg(w io.Writer, m Msg) error {
	body, err := Encode(m)
	if err != nil {
		return err
	}
	buf := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(body)), uint64(len(body)))
	if _, err := w.Write(append(buf, body...)); err != nil {
		return fmt.Errorf("write %s: %w", m.Kind(), err)
	}
	return nil
}

// ReadFrame reads one frame body of at most max bytes (MaxFrame when max is
// 0 or above it). The length is checked before any of the body is read.
// It returns io.EOF only when r ends cleanly before a frame.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	if max <= 0 || max > MaxFrame {
		max = MaxFrame
	}
	n, err := varint.Read(r, 0)
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		if errors.Is(err, varint.ErrMalformed) {
			return nil, fmt.Errorf("read frame length: %w: %v", ErrMalformed, err)
		}
		return nil, fmt.Errorf("read frame length: %w", err)
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("read frame of %d bytes: %w (%d)", n, ErrFrameTooLarge, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read frame body: %w", err)
	}
	return body, nil
}

// ReadMsg reads and decodes one frame.
func ReadMsg(r *bufio.Reader) (Msg, error) {
	body, err := ReadFrame(r, MaxFrame)
	if err != nil {
		return nil, err
	}
	return Decode(body)
}

// encoder appends fields; the first limit broken is kept in err.
type encoder struct {
	b   []byte
	err error
}

func (e *encoder) fail(format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf(format, args...)
	}
}

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) bytes(field string, v []byte, max int) {
	if len(v) > max {
		e.fail("%s: %d bytes over %d", field, len(v), max)
	}
	e.uvarint(uint64(len(v)))
	e.b = append(e.b, v...)
}

func (e *encoder) string(field, v string, max int) {
	if !utf8.ValidString(v) {
		e.fail("%s: not UTF-8", field)
	}
	e.bytes(field, []byte(v), max)
}

func (e *encoder) bounded(field string, v, max uint64) {
	if v > max {
		e.fail("%s: %d over %d", field, v, max)
	}
	e.uvarint(v)
}

func (e *encoder) duration(field string, v time.Duration) {
	if v < 0 {
		e.fail("%s: negative", field)
	}
	e.uvarint(uint64(v))
}

func (e *encoder) float(field string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		e.fail("%s: %v is not a finite non-negative number", field, v)
	}
	e.b = binary.BigEndian.AppendUint64(e.b, math.Float64bits(v))
}

func (e *encoder) cid(field string, c cid.Cid) {
	if !c.Defined() {
		e.fail("%s: undefined CID", field)
	}
	e.bytes(field, c.Bytes(), MaxCIDLen)
}

func (e *encoder) cids(field string, cs []cid.Cid) {
	if len(cs) > MaxCIDs {
		e.fail("%s: %d CIDs over %d", field, len(cs), MaxCIDs)
	}
	e.uvarint(uint64(len(cs)))
	for _, c := range cs {
		e.cid(field, c)
	}
}

func (e *encoder) peer(field string, p peer.ID) {
	if p == "" {
		e.fail("%s: empty peer ID", field)
	}
	e.bytes(field, []byte(p), MaxPeerIDLen)
}

func (e *encoder) strings(field string, ss []string, maxN, maxLen int) {
	if len(ss) > maxN {
		e.fail("%s: %d entries over %d", field, len(ss), maxN)
	}
	e.uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.string(field, s, maxLen)
	}
}

// decoder consumes fields; after the first error every read returns zero.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
	d.b = nil
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	// varint rejects non-minimal encodings, so that decode → encode is
	// the identity.
	v, n, err := varint.Decode(d.b)
	if err != nil {
		d.fail("%s: %v", field, err)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bounded(field string, max uint64) uint64 {
	v := d.uvarint(field)
	if v > max {
		d.fail("%s: %d over %d", field, v, max)
		return 0
	}
	return v
}

func (d *decoder) bool(field string) bool {
	if d.err != nil {
		return false
	}
	if len(d.b) == 0 {
		d.fail("%s: missing", field)
		return false
	}
	v := d.b[0]
	if v > 1 {
		d.fail("%s: bad boolean %d", field, v)
		return false
	}
	d.b = d.b[1:]
	return v == 1
}

func (d *decoder) bytes(field string, max int) []byte {
	n := d.uvarint(field)
	if d.err != nil {
		return nil
	}
	if n > uint64(max) {
		d.fail("%s: %d bytes over %d", field, n, max)
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("%s: %d bytes past the end", field, n)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(field string, max int) string {
	b := d.bytes(field, max)
	if d.err != nil {
		return ""
	}
	if !utf8.Valid(b) {
		d.fail("%s: not UTF-8", field)
		return ""
	}
	return string(b)
}

func (d *decoder) duration(field string) time.Duration {
	return time.Duration(d.bounded(field, math.MaxInt64))
}

func (d *decoder) float(field string) float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("%s: missing", field)
		return 0
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(d.b))
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || (v == 0 && math.Signbit(v)) {
		d.fail("%s: %v is not a finite non-negative number", field, v)
		return 0
	}
	d.b = d.b[8:]
	return v
}

func (d *decoder) cid(field string) cid.Cid {
	b := d.bytes(field, MaxCIDLen)
	if d.err != nil {
		return cid.Undef
	}
	n, c, err := cid.CidFromBytes(b)
	if err != nil || n != len(b) {
		d.fail("%s: bad CID", field)
		return cid.Undef
	}
	if string(c.Bytes()) != string(b) {
		d.fail("%s: non-canonical CID", field)
		return cid.Undef
	}
	return c
}

func (d *decoder) cids(field string) []cid.Cid {
	n := d.bounded(field, MaxCIDs)
	if d.err != nil || n == 0 {
		return nil
	}
	// Every CID takes at least 2 bytes: don't allocate for a count the
	// body cannot hold.
	if n > uint64(len(d.b))/2 {
		d.fail("%s: %d CIDs past the end", field, n)
		return nil
	}
	cs := make([]cid.Cid, 0, n)
	for range n {
		cs = append(cs, d.cid(field))
	}
	if d.err != nil {
		return nil
	}
	return cs
}

func (d *decoder) peer(field string) peer.ID {
	b := d.bytes(field, MaxPeerIDLen)
	if d.err != nil {
		return ""
	}
	id, err := peer.IDFromBytes(b)
	if err != nil {
		d.fail("%s: bad peer ID: %v", field, err)
		return ""
	}
	return id
}

func (d *decoder) strings(field string, maxN, maxLen int) []string {
	n := d.bounded(field, uint64(maxN))
	if d.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("%s: %d entries past the end", field, n)
		return nil
	}
	ss := make([]string, 0, n)
	for range n {
		ss = append(ss, d.string(field, maxLen))
	}
	if d.err != nil {
		return nil
	}
	return ss
}
