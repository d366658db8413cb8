package dht

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The search protocol's messages (see docs/ARCHITECTURE.md, "Keyword
// search"). A message is a frame: a uvarint length, then a body of at most
// MaxSearchMessage bytes whose first byte is its type. A stream carries one
// request and its answer.

// Limits of the search protocol's messages and records.
const (
	// MaxSearchMessage caps one frame's body.
	MaxSearchMessage = 512 << 10
	// MaxStoreRecords caps the records of one STORE.
	MaxStoreRecords = 64
	// MaxFindRecords caps the records of one FIND answer.
	MaxFindRecords = 256
	// MaxKeywordLen caps a keyword, in bytes.
	MaxKeywordLen = 64
	// MaxNameLen caps a record's name, in bytes.
	MaxNameLen = 255
	// MaxDescriptionLen caps a record's description, in bytes.
	MaxDescriptionLen = 256
	maxCIDLen         = 128
	maxPeerIDLen      = 128
	maxPubKeyLen      = 600
	maxSigLen         = 600
)

// ErrMalformed is wrapped by every decoding error of a search message or
// record.
var ErrMalformed = errors.New("dht: malformed search message")

// ErrBadRecord is wrapped by Verify's errors: a record whose signature,
// key or times do not check out.
var ErrBadRecord = errors.New("dht: bad search record")

// Kind is what a record names: a file or a directory.
type Kind uint8

// Kinds of records.
const (
	KindFile Kind = 0
	KindDir  Kind = 1
)

func (k Kind) String() string {
	if k == KindDir {
		return "dir"
	}
	return "file"
}

// KeywordRecord says that Publisher shares CID, called Name, under
// Keyword. It is signed by Publisher's key.
type KeywordRecord struct {
	Keyword     string
	CID         cid.Cid
	Name        string
	Size        uint64
	Kind        Kind
	Description string
	// Tags are the extra keywords the publisher gave (space-separated),
	// so that a search looking up one keyword can match the others.
	Tags      string
	Publisher peer.ID
	// PubKey is Publisher's marshalled public key.
	PubKey []byte
	// Published is when the record was signed, to the second.
	Published time.Time
	Sig       []byte
}

// recordVersion is the first byte of an encoded record.
const recordVersion = 1

// signPrefix separates a record's signature from any other use of the key.
const signPrefix = "enxame/search/record/v1\x00"

// appendUnsigned appends r without its signature.
func (r *KeywordRecord) appendUnsigned(b []byte) []byte {
	b = append(b, recordVersion)
	b = appendString(b, r.Keyword)
	b = appendString(b, string(r.CID.Bytes()))
	b = appendString(b, r.Name)
	b = binary.AppendUvarint(b, r.Size)
	b = append(b, byte(r.Kind))
	b = appendString(b, r.Description)
	b = appendString(b, r.Tags)
	b = appendString(b, string(r.Publisher))
	b = appendString(b, string(r.PubKey))
	b = binary.AppendUvarint(b, uint64(r.Published.Unix()))
	return b
}

// AppendRecord appends r's encoding to b.
func AppendRecord(b []byte, r *KeywordRecord) []byte {
	return appendString(r.appendUnsigned(b), string(r.Sig))
}

// signedBytes is what the signature covers.
func (r *KeywordRecord) signedBytes() []byte {
	return r.appendUnsigned([]byte(signPrefix))
}

// Sign fills in Publisher, PubKey and Sig with key.
func (r *KeywordRecord) Sign(key crypto.PrivKey) error {
	pub, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		return fmt.Errorf("sign record: %w", err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return fmt.Errorf("sign record: %w", err)
	}
	r.Publisher, r.PubKey = id, pub
	r.Published = r.Published.Truncate(time.Second)
	r.Sig, err = key.Sign(r.signedBytes())
	if err != nil {
		return fmt.Errorf("sign record: %w", err)
	}
	return nil
}

// Verify checks r's signature and that its key is its publisher's, and
// that it was published no later than now+skew and is not older than ttl.
// Its errors wrap ErrBadRecord.
func (r *KeywordRecord) Verify(now time.Time, ttl time.Duration) error {
	pub, err := crypto.UnmarshalPublicKey(r.PubKey)
	if err != nil {
		return fmt.Errorf("%w: public key: %v", ErrBadRecord, err)
	}
	if !r.Publisher.MatchesPublicKey(pub) {
		return fmt.Errorf("%w: key is not the publisher's", ErrBadRecord)
	}
	ok, err := pub.Verify(r.signedBytes(), r.Sig)
	if err != nil || !ok {
		return fmt.Errorf("%w: signature does not verify", ErrBadRecord)
	}
	if r.Published.After(now.Add(maxClockSkew)) {
		return fmt.Errorf("%w: published in the future (%s)", ErrBadRecord, r.Published.UTC().Format(time.RFC3339))
	}
	if !r.Published.Add(ttl).After(now) {
		return fmt.Errorf("%w: expired (published %s)", ErrBadRecord, r.Published.UTC().Format(time.RFC3339))
	}
	return nil
}

// maxClockSkew is how far in the future a record's time may be.
const maxClockSkew = 10 * time.Minute

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader decodes fields, keeping the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("%s: bad varint", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte1(what string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("%s: truncated", what)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) bytes(what string, max int) []byte {
	n := r.uvarint(what + " length")
	if r.err != nil {
		return nil
	}
	if n > uint64(max) {
		r.fail("%s: %d bytes over %d", what, n, max)
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("%s: truncated", what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) text(what string, max int) string {
	v := r.bytes(what, max)
	if r.err == nil && !utf8.Valid(v) {
		r.fail("%s: not UTF-8", what)
	}
	return string(v)
}

func (r *reader) record() *KeywordRecord {
	if v := r.byte1("record version"); r.err == nil && v != recordVersion {
		r.fail("record version %d, want %d", v, recordVersion)
	}
	var rec KeywordRecord
	rec.Keyword = r.text("keyword", MaxKeywordLen)
	if r.err == nil && rec.Keyword == "" {
		r.fail("empty keyword")
	}
	cb := r.bytes("cid", maxCIDLen)
	if r.err == nil {
		c, err := cid.Cast(cb)
		if err != nil {
			r.fail("cid: %v", err)
		}
		rec.CID = c
	}
	rec.Name = r.text("name", MaxNameLen)
	rec.Size = r.uvarint("size")
	switch k := Kind(r.byte1("kind")); k {
	case KindFile, KindDir:
		rec.Kind = k
	default:
		r.fail("kind %d", k)
	}
	rec.Description = r.text("description", MaxDescriptionLen)
	rec.Tags = r.text("tags", MaxDescriptionLen)
	pb := r.bytes("publisher", maxPeerIDLen)
	if r.err == nil {
		id, err := peer.IDFromBytes(pb)
		if err != nil {
			r.fail("publisher: %v", err)
		}
		rec.Publisher = id
	}
	rec.PubKey = r.bytes("public key", maxPubKeyLen)
	ts := r.uvarint("published")
	if r.err == nil && ts > 1<<40 {
		r.fail("published: %d out of range", ts)
	}
	rec.Published = time.Unix(int64(ts), 0)
	rec.Sig = r.bytes("signature", maxSigLen)
	if r.err != nil {
		return nil
	}
	return &rec
}

// DecodeRecord decodes one record from its encoding (AppendRecord). It
// does not verify the signature: see Verify.
func DecodeRecord(b []byte) (*KeywordRecord, error) {
	r := &reader{b: b}
	rec := r.record()
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d bytes after the record", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return rec, nil
}

// Message types.
const (
	msgStore     byte = 1
	msgStoreResp byte = 2
	msgFind      byte = 3
	msgFindResp  byte = 4
)

// SearchMsg is one message of the search protocol: a STORE (Records), its
// answer (Accepted), a FIND (Keyword, Limit) or its answer (Records,
// Total).
type SearchMsg struct {
	Type     byte
	Keyword  string           // FIND
	Limit    int              // FIND: most records wanted (0: MaxFindRecords)
	Records  []*KeywordRecord // STORE, FIND answer
	Accepted int              // STORE answer: records stored
	Total    int              // FIND answer: records held under the keyword
}

// StoreMsg returns a STORE of recs.
func StoreMsg(recs []*KeywordRecord) *SearchMsg { return &SearchMsg{Type: msgStore, Records: recs} }

// FindMsg returns a FIND of keyword.
func FindMsg(keyword string, limit int) *SearchMsg {
	return &SearchMsg{Type: msgFind, Keyword: keyword, Limit: limit}
}

// AppendSearchMsg appends m's body (without the frame length) to b. It
// returns an error for a message over the protocol's limits.
func AppendSearchMsg(b []byte, m *SearchMsg) ([]byte, error) {
	start := len(b)
	b = append(b, m.Type)
	switch m.Type {
	case msgStore, msgFindResp:
		max := MaxStoreRecords
		if m.Type == msgFindResp {
			max = MaxFindRecords
			b = binary.AppendUvarint(b, uint64(m.Total))
		}
		if len(m.Records) > max {
			return nil, fmt.Errorf("encode search message: %d records over %d", len(m.Records), max)
		}
		b = binary.AppendUvarint(b, uint64(len(m.Records)))
		for _, r := range m.Records {
			b = appendString(b, string(AppendRecord(nil, r)))
		}
	case msgStoreResp:
		b = binary.AppendUvarint(b, uint64(m.Accepted))
	case msgFind:
		if m.Keyword == "" || len(m.Keyword) > MaxKeywordLen {
			return nil, fmt.Errorf("encode search message: keyword of %d bytes", len(m.Keyword))
		}
		b = appendString(b, m.Keyword)
		b = binary.AppendUvarint(b, uint64(m.Limit))
	default:
		return nil, fmt.Errorf("encode search message: type %d", m.Type)
	}
	if len(b)-start > MaxSearchMessage {
		return nil, fmt.Errorf("encode search message: %d bytes over %d", len(b)-start, MaxSearchMessage)
	}
	return b, nil
}

// DecodeSearchMsg decodes a message body. Its errors wrap ErrMalformed.
func DecodeSearchMsg(body []byte) (*SearchMsg, error) {
	if len(body) > MaxSearchMessage {
		return nil, fmt.Errorf("%w: %d bytes over %d", ErrMalformed, len(body), MaxSearchMessage)
	}
	r := &reader{b: body}
	m := &SearchMsg{Type: r.byte1("type")}
	switch m.Type {
	case msgStore, msgFindResp:
		max := MaxStoreRecords
		if m.Type == msgFindResp {
			max = MaxFindRecords
			m.Total = int(min(r.uvarint("total"), 1<<31))
		}
		n := r.uvarint("records")
		if r.err == nil && n > uint64(max) {
			r.fail("%d records over %d", n, max)
		}
		for i := uint64(0); r.err == nil && i < n; i++ {
			rb := r.bytes("record", MaxSearchMessage)
			if r.err != nil {
				break
			}
			sub := &reader{b: rb}
			rec := sub.record()
			if sub.err == nil && len(sub.b) > 0 {
				sub.fail("%d bytes after record %d", len(sub.b), i)
			}
			if sub.err != nil {
				r.err = fmt.Errorf("record %d: %w", i, sub.err)
				break
			}
			m.Records = append(m.Records, rec)
		}
	case msgStoreResp:
		m.Accepted = int(min(r.uvarint("accepted"), MaxStoreRecords))
	case msgFind:
		m.Keyword = r.text("keyword", MaxKeywordLen)
		if r.err == nil && m.Keyword == "" {
			r.fail("empty keyword")
		}
		m.Limit = int(min(r.uvarint("limit"), MaxFindRecords))
	default:
		r.fail("type %d", m.Type)
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d bytes after the message", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

// WriteSearchMsg writes m as one frame.
func WriteSearchMsg(w io.Writer, m *SearchMsg) error {
	body, err := AppendSearchMsg(nil, m)
	if err != nil {
		return err
	}
	frame := binary.AppendUvarint(make([]byte, 0, len(body)+binary.MaxVarintLen64), uint64(len(body)))
	frame = append(frame, body...)
	if _, err := w.Write(frame); err != nil {
		return fmt.Errorf("write search message: %w", err)
	}
	return nil
}

// ReadSearchMsg reads one frame from r and decodes it. A frame announcing
// more than MaxSearchMessage bytes is rejected before its body is read.
func ReadSearchMsg(r *bufio.Reader) (*SearchMsg, error) {
	br := &errByteReader{r: r}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, err
		}
		if br.err != nil {
			// The stream failed (reset, deadline, cut short): not the
			// peer's bytes.
			return nil, fmt.Errorf("read search frame length: %w", err)
		}
		return nil, fmt.Errorf("%w: frame length: %v", ErrMalformed, err)
	}
	if n == 0 || n > MaxSearchMessage {
		return nil, fmt.Errorf("%w: frame of %d bytes (want 1..%d)", ErrMalformed, n, MaxSearchMessage)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the length came, the body did not
		}
		return nil, fmt.Errorf("read search message: %w", err)
	}
	return DecodeSearchMsg(body)
}

// errByteReader remembers the error of its reader, so that a varint the
// reader failed under tells apart from one whose bytes were invalid.
type errByteReader struct {
	r   io.ByteReader
	err error
}

func (b *errByteReader) ReadByte() (byte, error) {
	c, err := b.r.ReadByte()
	if err != nil {
		b.err = err
	}
	return c, err
}
