// Package wire holds the messages of the share exchange protocol
// (/enxame/share/1.0.0): their encoding, a streaming decoder with hard size
// caps, and fuzz targets. It owns no I/O policy (deadlines, limits per peer,
// scoring): package share does. It imports only the standard library,
// go-cid and internal/varint; it must not import share, node, dht or cli.
//
// # Framing
//
// Every message is one frame:
//
//	frame = uvarint(len) type body      len = 1 + len(body), ≤ MaxFrameSize
//
// A Reader checks len against MaxFrameSize, and against its type's cap
// (MaxFrameOf: only a Block may be large), before it reads the body, so an
// oversized frame is rejected after at most 5 bytes; it grows the body's
// buffer as the bytes arrive and can reserve it in a MemoryScope (a libp2p
// stream's scope). Varints, the length prefix included, must be minimal.
//
// # Messages
//
//	Request  (1) uvarint(id) flags(1) uvarint(n) n × key          client → server
//	Block    (2) uvarint(id) key data(rest of the frame)           server → client
//	DontHave (3) uvarint(id) key                                   server → client
//	Have     (4) uvarint(id) key                                   server → client
//	Cancel   (5) uvarint(n) n × key                                client → server
//	Error    (6) uvarint(code) uvarint(len) msg                    either way
//
//	key = uvarint(len) CID bytes, 1 ≤ len ≤ MaxKeySize
//
// A client pipelines Requests on one stream; the server answers each key of
// each request in order with a Block or a DontHave (Have or DontHave for a
// request with FlagHaveOnly), skipping keys cancelled meanwhile.
package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/enxame/enxame/internal/varint"
	"github.com/ipfs/go-cid"
)

// Limits of the protocol. A frame or field beyond them is rejected.
const (
	// MaxBlockSize caps the data of one Block: 2 MiB, as Bitswap.
	MaxBlockSize = 2 << 20
	// MaxKeySize caps the bytes of one CID.
	MaxKeySize = 128
	// MaxKeys caps the keys of one Request or Cancel.
	MaxKeys = 1024
	// MaxErrorSize caps the message of an Error.
	MaxErrorSize = 1024
	// MaxFrameSize caps a frame (type and body, without the length prefix):
	// a maximal block plus its header.
	MaxFrameSize = MaxBlockSize + 1024
)

// Frame caps per message type (type byte and body): only a Block may be
// large; a Reader rejects a frame over its type's cap before it reads the
// body.
const (
	// maxKeyBytes is the longest encoded key: a 2-byte length and the CID.
	maxKeyBytes = 2 + MaxKeySize
	// MaxRequestFrame caps a Request frame: type, ID, flags, count and
	// MaxKeys keys.
	MaxRequestFrame = 1 + binary.MaxVarintLen64 + 1 + 2 + MaxKeys*maxKeyBytes
	// MaxCancelFrame caps a Cancel frame.
	MaxCancelFrame = 1 + 2 + MaxKeys*maxKeyBytes
	// MaxAnswerFrame caps a Have or DontHave frame.
	MaxAnswerFrame = 1 + binary.MaxVarintLen64 + maxKeyBytes
	// MaxErrorFrame caps an Error frame.
	MaxErrorFrame = 1 + binary.MaxVarintLen64 + 2 + MaxErrorSize
)

// MaxFrameOf returns the cap of a frame of type t (its type byte and body):
// MaxFrameSize for a Block, much less for the others, 0 for an unknown
// type.
func MaxFrameOf(t Type) int {
	switch t {
	case TypeRequest:
		return MaxRequestFrame
	case TypeBlock:
		return MaxFrameSize
	case TypeDontHave, TypeHave:
		return MaxAnswerFrame
	case TypeCancel:
		return MaxCancelFrame
	case TypeError:
		return MaxErrorFrame
	}
	return 0
}

// maxLenBytes (4 bytes: 28 bits) must hold MaxFrameSize.
var _ [1<<28 - 1 - MaxFrameSize]struct{}

// Type is the first byte of a frame.
type Type byte

// Message types.
const (
	TypeRequest  Type = 1
	TypeBlock    Type = 2
	TypeDontHave Type = 3
	TypeHave     Type = 4
	TypeCancel   Type = 5
	TypeError    Type = 6
)

// Request flags.
const (
	// FlagHaveOnly asks the server whether it has the keys (Have or
	// DontHave for each) instead of their blocks.
	FlagHaveOnly byte = 1 << 0
	flagsKnown        = FlagHaveOnly
)

// Error codes.
const (
	// CodeProtocol: the peer sent something the protocol forbids.
	CodeProtocol uint64 = 1
	// CodeBusy: the server refuses more work from this peer for now.
	CodeBusy uint64 = 2
	// CodeInternal: the server failed on its side.
	CodeInternal uint64 = 3
)

// ErrMalformed is wrapped by every decoding error caused by bad input
// (as opposed to an I/O error of the underlying reader).
var ErrMalformed = errors.New("wire: malformed message")

// ErrTooLarge is wrapped, with ErrMalformed, when a frame or a field exceeds
// its cap.
var ErrTooLarge = errors.New("wire: message too large")

// Msg is one protocol message: *Request, *Block, *DontHave, *Have, *Cancel or
// *Error.
type Msg interface {
	// Type returns the message's frame type.
	Type() Type
	// appendBody appends the encoded body (without type) to b.
	appendBody(b []byte) []byte
}

// Request asks for blocks (or, with FlagHaveOnly, whether the server has
// them). ID is chosen by the client and echoed in every answer; it should be
// unique on the stream.
type Request struct {
	ID    uint64
	Flags byte
	Keys  []cid.Cid
}

// Block carries the data of one requested block. The receiver must verify
// Data against Key before trusting it.
type Block struct {
	ID   uint64
	Key  cid.Cid
	Data []byte
}

// DontHave says the server does not have Key, asked by request ID.
type DontHave struct {
	ID  uint64
	Key cid.Cid
}

// Have says the server has Key, asked by request ID with FlagHaveOnly.
type Have struct {
	ID  uint64
	Key cid.Cid
}

// Cancel withdraws keys of earlier requests on the stream that the server
// has not answered yet. Answers already sent are still delivered.
type Cancel struct {
	Keys []cid.Cid
}

// Error ends a stream with a reason: Code is one of the Code constants (or
// an unknown code, kept as is), Msg is human-readable UTF-8.
type Error struct {
	Code uint64
	Msg  string
}

// Type returns TypeRequest.
func (*Request) Type() Type { return TypeRequest }

// Type returns TypeBlock.
func (*Block) Type() Type { return TypeBlock }

// Type returns TypeDontHave.
func (*DontHave) Type() Type { return TypeDontHave }

// Type returns TypeHave.
func (*Have) Type() Type { return TypeHave }

// Type returns TypeCancel.
func (*Cancel) Type() Type { return TypeCancel }

// Type returns TypeError.
func (*Error) Type() Type { return TypeError }

func (m *Request) appendBody(b []byte) []byte {
	b = binary.AppendUvarint(b, m.ID)
	b = append(b, m.Flags)
	b = binary.AppendUvarint(b, uint64(len(m.Keys)))
	for _, k := range m.Keys {
		b = appendKey(b, k)
	}
	return b
}

func (m *Block) appendBody(b []byte) []byte {
	b = binary.AppendUvarint(b, m.ID)
	b = appendKey(b, m.Key)
	return append(b, m.Data...)
}

func (m *DontHave) appendBody(b []byte) []byte {
	return appendKey(binary.AppendUvarint(b, m.ID), m.Key)
}

func (m *Have) appendBody(b []byte) []byte {
	return appendKey(binary.AppendUvarint(b, m.ID), m.Key)
}

func (m *Cancel) appendBody(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(m.Keys)))
	for _, k := range m.Keys {
		b = appendKey(b, k)
	}
	return b
}

func (m *Error) appendBody(b []byte) []byte {
	b = binary.AppendUvarint(b, m.Code)
	b = binary.AppendUvarint(b, uint64(len(m.Msg)))
	return append(b, m.Msg...)
}

func appendKey(b []byte, k cid.Cid) []byte {
	kb := k.Bytes()
	b = binary.AppendUvarint(b, uint64(len(kb)))
	return append(b, kb...)
}

// check validates m against the protocol's caps before it is sent.
func check(m Msg) error {
	checkKeys := func(keys []cid.Cid) error {
		if len(keys) > MaxKeys {
			return fmt.Errorf("%d keys, more than %d: %w", len(keys), MaxKeys, ErrTooLarge)
		}
		for i, k := range keys {
			if err := checkKey(k); err != nil {
				return fmt.Errorf("key %d: %w", i, err)
			}
		}
		return nil
	}
	switch m := m.(type) {
	case *Request:
		if m.Flags&^flagsKnown != 0 {
			return fmt.Errorf("unknown flags %#x", m.Flags)
		}
		return checkKeys(m.Keys)
	case *Block:
		if len(m.Data) > MaxBlockSize {
			return fmt.Errorf("block of %d bytes, more than %d: %w", len(m.Data), MaxBlockSize, ErrTooLarge)
		}
		return checkKey(m.Key)
	case *DontHave:
		return checkKey(m.Key)
	case *Have:
		return checkKey(m.Key)
	case *Cancel:
		return checkKeys(m.Keys)
	case *Error:
		if len(m.Msg) > MaxErrorSize {
			return fmt.Errorf("error message of %d bytes, more than %d: %w", len(m.Msg), MaxErrorSize, ErrTooLarge)
		}
		if !utf8.ValidString(m.Msg) {
			return errors.New("error message is not UTF-8")
		}
		return nil
	case nil:
		return errors.New("nil message")
	default:
		return fmt.Errorf("unknown message type %T", m)
	}
}

func checkKey(k cid.Cid) error {
	if !k.Defined() {
		return errors.New("undefined key")
	}
	if n := k.ByteLen(); n > MaxKeySize {
		return fmt.Errorf("key of %d bytes, more than %d: %w", n, MaxKeySize, ErrTooLarge)
	}
	return nil
}

// Append appends the frame of m (length prefix, type, body) to dst. It
// returns an error, and dst unchanged, when m breaks a cap or is invalid
// (an undefined key, unknown flags, an error message that is not UTF-8).
func Append(dst []byte, m Msg) ([]byte, error) {
	if err := check(m); err != nil {
		return dst, fmt.Errorf("wire: encode %T: %w", m, err)
	}
	body := m.appendBody(make([]byte, 0, 64))
	dst = binary.AppendUvarint(dst, uint64(1+len(body)))
	dst = append(dst, byte(m.Type()))
	return append(dst, body...), nil
}

// Decode decodes one frame's content (type byte and body, without the length
// prefix). A Block's Data aliases frame; everything else is copied. Bad input
// gives an error wrapping ErrMalformed, never a panic.
func Decode(frame []byte) (Msg, error) {
	if len(frame) == 0 {
		return nil, fmt.Errorf("empty frame: %w", ErrMalformed)
	}
	if len(frame) > MaxFrameSize {
		return nil, fmt.Errorf("frame of %d bytes, more than %d: %w: %w", len(frame), MaxFrameSize, ErrTooLarge, ErrMalformed)
	}
	if c := MaxFrameOf(Type(frame[0])); c > 0 && len(frame) > c {
		return nil, fmt.Errorf("frame of type %d of %d bytes, more than %d: %w: %w", frame[0], len(frame), c, ErrTooLarge, ErrMalformed)
	}
	d := decoder{b: frame[1:]}
	var m Msg
	switch t := Type(frame[0]); t {
	case TypeRequest:
		r := &Request{ID: d.uvarint("id")}
		r.Flags = d.byte("flags")
		if d.err == nil && r.Flags&^flagsKnown != 0 {
			d.fail(fmt.Errorf("unknown flags %#x", r.Flags))
		}
		r.Keys = d.keys()
		m = r
	case TypeBlock:
		b := &Block{ID: d.uvarint("id"), Key: d.key()}
		if d.err == nil {
			if len(d.b) > MaxBlockSize {
				d.fail(fmt.Errorf("block of %d bytes, more than %d: %w", len(d.b), MaxBlockSize, ErrTooLarge))
			}
			b.Data = d.b
			d.b = nil
		}
		m = b
	case TypeDontHave:
		m = &DontHave{ID: d.uvarint("id"), Key: d.key()}
	case TypeHave:
		m = &Have{ID: d.uvarint("id"), Key: d.key()}
	case TypeCancel:
		m = &Cancel{Keys: d.keys()}
	case TypeError:
		e := &Error{Code: d.uvarint("code")}
		n := d.uvarint("message length")
		if d.err == nil && n > MaxErrorSize {
			d.fail(fmt.Errorf("error message of %d bytes, more than %d: %w", n, MaxErrorSize, ErrTooLarge))
		}
		msg := d.bytes(n, "message")
		if d.err == nil && !utf8.Valid(msg) {
			d.fail(errors.New("error message is not UTF-8"))
		}
		e.Msg = string(msg)
		m = e
	default:
		return nil, fmt.Errorf("unknown message type %d: %w", t, ErrMalformed)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Errorf("%d trailing bytes", len(d.b)))
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode %T: %w: %w", m, d.err, ErrMalformed)
	}
	return m, nil
}

// decoder reads fields from a frame body; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	// varint rejects non-minimal encodings, so that decode → encode is
	// the identity.
	v, n, err := varint.Decode(d.b)
	if err != nil {
		d.fail(fmt.Errorf("%s: %w", what, err))
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(fmt.Errorf("missing %s", what))
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(fmt.Errorf("%s of %d bytes, only %d left", what, n, len(d.b)))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) key() cid.Cid {
	n := d.uvarint("key length")
	if d.err != nil {
		return cid.Undef
	}
	if n == 0 || n > MaxKeySize {
		d.fail(fmt.Errorf("key of %d bytes, want 1..%d", n, MaxKeySize))
		return cid.Undef
	}
	kb := d.bytes(n, "key")
	if d.err != nil {
		return cid.Undef
	}
	k, err := cid.Cast(kb) // copies kb into the CID's string
	if err != nil {
		d.fail(fmt.Errorf("bad key: %v", err))
		return cid.Undef
	}
	return k
}

func (d *decoder) keys() []cid.Cid {
	n := d.uvarint("key count")
	if d.err != nil {
		return nil
	}
	if n > MaxKeys {
		d.fail(fmt.Errorf("%d keys, more than %d: %w", n, MaxKeys, ErrTooLarge))
		return nil
	}
	if n > uint64(len(d.b))/2 { // every key takes at least 2 bytes
		d.fail(fmt.Errorf("%d keys in %d bytes", n, len(d.b)))
		return nil
	}
	keys := make([]cid.Cid, 0, n)
	for range n {
		k := d.key()
		if d.err != nil {
			return nil
		}
		keys = append(keys, k)
	}
	return keys
}

// MemoryScope is where a Reader reserves the memory of the frames it
// reads: a libp2p stream's network.StreamScope (s.Scope()) implements it,
// with the resource manager's priorities (network.ReservationPriority*).
type MemoryScope interface {
	// ReserveMemory reserves size bytes, or returns an error when a limit
	// would be passed.
	ReserveMemory(size int, prio uint8) error
	// ReleaseMemory releases size bytes reserved before.
	ReleaseMemory(size int)
}

// Reader reads frames from a stream. It is not safe for concurrent use.
//
// A Reader never allocates what a frame announces before its bytes arrive:
// a frame over its type's cap (MaxFrameOf) is rejected after its length
// and type, and the buffer of a frame grows (from growStart, growFactor at
// a time) as its bytes arrive, so a peer that announces a large frame and
// sends little makes the Reader hold little. With a MemoryScope
// (SetMemoryScope) every buffer is reserved in it first.
type Reader struct {
	r    *bufio.Reader
	buf  []byte     // reused for frames other than blocks
	pool *BlockPool // nil: blocks' data freshly allocated

	scope    MemoryScope
	prio     uint8
	reserved int // bytes reserved in scope: buf's capacity, or a frame's while it is read
}

// Buffer growth of a frame whose bytes have not all arrived.
const (
	// growStart is the first buffer of a frame larger than it (and the
	// largest buffer a Reader keeps between frames).
	growStart = 32 << 10
	// growFactor multiplies the buffer each time it fills, up to the
	// frame's size; a Reader thus holds at most growFactor times the bytes
	// received, plus growStart.
	growFactor = 8
)

// NewReader returns a Reader of r. Its read buffer is small (8 KiB), so
// that most of a block's data is read straight into the block's own slice.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 8<<10)}
}

// NewPooledReader returns a Reader of r that takes the Data of the Blocks it
// returns from pool. The caller owns each Block's Data as with NewReader and
// may hand it back with pool.Put once nothing refers to it any more.
func NewPooledReader(r io.Reader, pool *BlockPool) *Reader {
	rd := NewReader(r)
	rd.pool = pool
	return rd
}

// SetMemoryScope makes r reserve in scope, at priority prio, every buffer
// it allocates for a frame before it allocates it, and release it when the
// buffer is dropped: a Block's data is released when Read returns it (the
// caller owns it from then on), the buffer of other frames when r drops it
// (Release). When a reservation fails, Read returns an error wrapping the
// scope's (not ErrMalformed: the peer broke no rule).
func (r *Reader) SetMemoryScope(scope MemoryScope, prio uint8) {
	r.scope, r.prio = scope, prio
}

// Release releases the memory r holds between frames (and its reservation);
// call it when the stream ends. r may be used again afterwards.
func (r *Reader) Release() {
	r.buf = nil
	r.unreserve(r.reserved)
}

func (r *Reader) reserve(n int) error {
	if r.scope == nil || n <= 0 {
		return nil
	}
	if err := r.scope.ReserveMemory(n, r.prio); err != nil {
		return fmt.Errorf("wire: reserve %d bytes: %w", n, err)
	}
	r.reserved += n
	return nil
}

func (r *Reader) unreserve(n int) {
	if r.scope == nil || n <= 0 {
		return
	}
	r.scope.ReleaseMemory(n)
	r.reserved -= n
}

// fill reads n bytes. It reads into dst when dst can hold them; otherwise
// into a buffer of min(n, growStart) bytes that grows growFactor times
// whenever it is full, up to n, reserving each buffer before allocating it
// and releasing the one it replaces. The buffer of n bytes comes from
// alloc. dst's capacity is not reserved here; fill returns the buffer and
// the bytes reserved for it (also on error, with a nil buffer, when the
// reservation is to be dropped by the caller).
func (r *Reader) fill(n int, dst []byte, alloc func(int) []byte) ([]byte, int, error) {
	if cap(dst) >= n {
		dst = dst[:n]
		if _, err := io.ReadFull(r.r, dst); err != nil {
			return nil, 0, unexpected(err)
		}
		return dst, 0, nil
	}
	var (
		buf  []byte
		held int // reserved for buf
		got  int
	)
	for size := min(n, growStart); ; size = min(n, size*growFactor) {
		if err := r.reserve(size); err != nil {
			return nil, held, err
		}
		var next []byte
		if size == n {
			next = alloc(n)
		} else {
			next = make([]byte, size)
		}
		copy(next, buf[:got])
		r.unreserve(held)
		buf, held = next, size
		k, err := io.ReadFull(r.r, buf[got:size])
		got += k
		if err != nil {
			return nil, held, unexpected(err)
		}
		if size == n {
			return buf, held, nil
		}
	}
}

// Read reads and decodes the next frame. It checks the frame's length
// against its type's cap (MaxFrameOf) before reading or allocating the
// body, and grows the frame's buffer as the bytes arrive. A Block's header
// (ID and key) is decoded before its data is read, and its Data, of
// exactly the data's length, is owned by the caller; nothing else returned
// is retained by the Reader. It returns io.EOF at a clean end of stream,
// io.ErrUnexpectedEOF inside a frame, an error wrapping ErrMalformed (and
// ErrTooLarge for a frame over its cap) for bad input, the MemoryScope's
// error, or the underlying reader's error. After an error the stream is
// not positioned at a frame boundary: the Reader must not be used again.
func (r *Reader) Read() (Msg, error) {
	n, err := r.readLen()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("wire: empty frame: %w", ErrMalformed)
	}
	if n > MaxFrameSize {
		return nil, fmt.Errorf("wire: frame of %d bytes, more than %d: %w: %w", n, MaxFrameSize, ErrTooLarge, ErrMalformed)
	}
	t, err := r.r.Peek(1)
	if err != nil {
		return nil, unexpected(err)
	}
	typ := Type(t[0])
	c := MaxFrameOf(typ)
	if c == 0 {
		return nil, fmt.Errorf("wire: unknown message type %d: %w", typ, ErrMalformed)
	}
	if int(n) > c {
		return nil, fmt.Errorf("wire: frame of type %d of %d bytes, more than %d: %w: %w", typ, n, c, ErrTooLarge, ErrMalformed)
	}
	if typ == TypeBlock {
		return r.readBlock(int(n))
	}
	frame, res, err := r.fill(int(n), r.buf, func(n int) []byte { return make([]byte, n) })
	if err != nil {
		r.unreserve(res)
		return nil, err
	}
	if res > 0 || cap(frame) > cap(r.buf) {
		// A new buffer: it replaces the old one.
		r.unreserve(r.reserved - res)
		r.buf = frame
	}
	m, err := Decode(frame)
	if cap(r.buf) > growStart {
		r.Release() // don't keep a large buffer for small frames
	}
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	return m, nil
}

// maxBlockHeader is the longest type, ID and key of a Block frame.
const maxBlockHeader = 1 + binary.MaxVarintLen64 + 2 + MaxKeySize

// readBlock reads a Block frame of n bytes: it decodes the type, ID and key
// from the read buffer, then reads the data straight into its own slice,
// which grows as the data arrives.
func (r *Reader) readBlock(n int) (Msg, error) {
	hdr, err := r.r.Peek(min(n, maxBlockHeader))
	if err != nil {
		return nil, unexpected(err)
	}
	d := decoder{b: hdr[1:]}
	b := &Block{ID: d.uvarint("id"), Key: d.key()}
	if d.err != nil {
		// Within maxBlockHeader bytes (or the whole frame), so the
		// header itself is bad.
		return nil, fmt.Errorf("wire: decode %T: %w: %w", b, d.err, ErrMalformed)
	}
	hl := len(hdr) - len(d.b)
	size := n - hl
	if size > MaxBlockSize {
		return nil, fmt.Errorf("wire: decode %T: block of %d bytes, more than %d: %w: %w", b, size, MaxBlockSize, ErrTooLarge, ErrMalformed)
	}
	if _, err := r.r.Discard(hl); err != nil {
		return nil, unexpected(err)
	}
	data, res, err := r.fill(size, nil, r.pool.Get)
	r.unreserve(res) // the caller owns the data from here
	if err != nil {
		return nil, err
	}
	b.Data = data
	return b, nil
}

// readLen reads a frame's length prefix. A prefix longer than needed for
// MaxFrameSize is rejected as soon as it is seen, so a hostile peer cannot
// make the reader consume more than maxLenBytes bytes of it.
func (r *Reader) readLen() (uint64, error) {
	v, err := varint.Read(r.r, maxLenBytes)
	switch {
	case err == nil || err == io.EOF:
		return v, err
	case errors.Is(err, varint.ErrOverflow):
		return 0, fmt.Errorf("wire: frame length prefix longer than %d bytes: %w: %w", maxLenBytes, ErrTooLarge, ErrMalformed)
	case errors.Is(err, varint.ErrMalformed):
		return 0, fmt.Errorf("wire: frame length prefix: %w: %v", ErrMalformed, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return 0, unexpected(err)
	}
	return 0, err
}

// maxLenBytes is the length of the longest uvarint that can hold
// MaxFrameSize.
const maxLenBytes = 4

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Writer writes frames to a stream through a buffer. It is not safe for
// concurrent use.
type Writer struct {
	w   *bufio.Writer
	hdr []byte
}

// NewWriter returns a Writer of w. Its buffer is small (8 KiB): small
// frames are batched, and most of a block's data goes to w without a copy.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 8<<10), hdr: make([]byte, 0, 256)}
}

// Write buffers the frame of m; call Flush to send buffered frames. A
// Block's data is written without an intermediate copy when it is large.
// It returns an error for a message that breaks the caps (nothing is
// written then) or the underlying writer's error.
func (w *Writer) Write(m Msg) error {
	if err := check(m); err != nil {
		return fmt.Errorf("wire: encode %T: %w", m, err)
	}
	if b, ok := m.(*Block); ok {
		body := binary.AppendUvarint(w.hdr[:0], b.ID)
		body = appendKey(body, b.Key)
		var pre [binary.MaxVarintLen64 + 1]byte
		p := binary.AppendUvarint(pre[:0], uint64(1+len(body)+len(b.Data)))
		p = append(p, byte(TypeBlock))
		if _, err := w.w.Write(p); err != nil {
			return err
		}
		if _, err := w.w.Write(body); err != nil {
			return err
		}
		_, err := w.w.Write(b.Data)
		return err
	}
	body := m.appendBody(w.hdr[:0])
	var pre [binary.MaxVarintLen64 + 1]byte
	p := binary.AppendUvarint(pre[:0], uint64(1+len(body)))
	p = append(p, byte(m.Type()))
	if _, err := w.w.Write(p); err != nil {
		return err
	}
	_, err := w.w.Write(body)
	if cap(body) <= 64<<10 {
		w.hdr = body[:0]
	}
	return err
}

// Flush sends buffered frames.
func (w *Writer) Flush() error { return w.w.Flush() }

// Buffered returns the number of bytes buffered and not yet flushed.
func (w *Writer) Buffered() int { return w.w.Buffered() }
