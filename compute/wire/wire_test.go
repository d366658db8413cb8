package wire

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

func testCID(s string) cid.Cid {
	sum := sha256.Sum256([]byte(s))
	h, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

func testKey(t testing.TB, seed byte) (crypto.PrivKey, peer.ID) {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{seed}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, id
}

var cidOpts = cmp.Comparer(func(a, b cid.Cid) bool { return a.Equals(b) })

// sampleMsgs returns one valid message of every kind, with every field set.
func sampleMsgs(t testing.TB) []Msg {
	priv, _ := testKey(t, 1)
	r := Receipt{
		Job: "job-1", Unit: 7, Module: testCID("m"), Inputs: []cid.Cid{testCID("a"), testCID("b")},
		Args: []string{"-n", "3"}, Output: testCID("out"), Took: 1500 * time.Millisecond,
		PeakMemory: 64 << 20, Finished: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano(),
	}
	if err := r.Sign(priv); err != nil {
		t.Fatal(err)
	}
	lim := Limits{MemoryBytes: 256 << 20, WallTime: time.Minute, MaxOutputBytes: 1 << 20}
	return []Msg{
		&BidRequest{Job: "job-1", Module: testCID("m"), Inputs: []cid.Cid{testCID("a")}, Limits: lim},
		&Bid{Busy: true, Slots: 4, FreeSlots: 2, QueueLen: 1, Speed: 12.5, MaxMemory: 1 << 30, HasInputs: []cid.Cid{testCID("a")}},
		&RunUnit{Job: "job-1", Unit: 3, Module: testCID("m"), Inputs: []cid.Cid{testCID("a"), testCID("b")}, Args: []string{"x", ""}, Seed: 99, Limits: lim},
		&Accepted{QueueLen: 2},
		&Rejected{Reason: RejectLimits, Detail: "memory 8 GiB over 4 GiB"},
		&Progress{Running: true},
		&Result{Receipt: r, Log: Log{Stderr: []byte("warning: x\n"), Truncated: true}},
		&Result{Receipt: r, Inline: true, Output: []byte("count\t4\n")},
		&Failed{Reason: "timeout", Detail: "ran past 1s", Deterministic: true, Took: time.Second},
		&Failed{Reason: "exit", Detail: "exit status 2", Deterministic: true, Took: time.Millisecond, Log: Log{ExitCode: 2, Stderr: []byte("panic: boom\n")}},
		&Cancel{Reason: "outvoted"},
		&Error{Code: CodeBadRequest, Detail: "bad frame"},
		&Bid{Slots: 1, FreeSlots: 1, Speed: 1, HasInputs: []cid.Cid{testCID("a"), testCID("b")}, HeldBytes: []uint64{64 << 20, 0}},
		&Bid{Slots: 2, FreeSlots: 2, Speed: 3, LinkRate: 12.5e6},
		&Result{Receipt: r, FetchedBytes: 64 << 20, FetchTook: 5 * time.Second},
		&Result{Receipt: r, FetchedBytes: MaxHeldBytes, FetchTook: math.MaxInt64, Inline: true, Output: []byte("x")},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, m := range sampleMsgs(t) {
		t.Run(m.Kind().String(), func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteMsg(&buf, m); err != nil {
				t.Fatalf("WriteMsg(%T) = %v", m, err)
			}
			got, err := ReadMsg(bufio.NewReader(&buf))
			if err != nil {
				t.Fatalf("ReadMsg() = %v", err)
			}
			if diff := cmp.Diff(m, got, cidOpts); diff != "" {
				t.Errorf("ReadMsg() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := func(m Msg) []byte {
		b, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bid := valid(&Bid{Slots: 1, Speed: 1})
	run := valid(&RunUnit{Job: "j", Module: testCID("m")})
	nan := append([]byte(nil), bid...)
	binary.BigEndian.PutUint64(nan[5:], 0x7ff8000000000001)
	badCID := []byte{byte(KindBidRequest), 1, 'j', 3, 1, 2, 3}
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown kind", []byte{0}},
		{"kind past the last", []byte{byte(KindError) + 1}},
		{"truncated bid", bid[:len(bid)-1]},
		{"trailing byte", append(append([]byte(nil), bid...), 0)},
		{"bad boolean", append([]byte{byte(KindBid), 2}, bid[2:]...)},
		{"slots over cap", []byte{byte(KindBid), 0, 0x80, 0x80, 0x08}},
		{"NaN speed", nan},
		{"bad varint", []byte{byte(KindAccepted), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{"non-minimal varint", []byte{byte(KindAccepted), 0x81, 0x00}},
		{"string past the end", []byte{byte(KindCancel), 5, 'a'}},
		{"string over cap", append([]byte{byte(KindCancel)}, binary.AppendUvarint(nil, MaxDetailLen+1)...)},
		{"not UTF-8", []byte{byte(KindCancel), 1, 0xff}},
		{"bad CID", badCID},
		{"CID count past the end", append(append([]byte{byte(KindBidRequest), 1, 'j'}, run[3:3+1+int(run[3])]...), 200, 1)},
		{"reject reason zero", []byte{byte(KindRejected), 0, 0}},
		{"reject reason too high", []byte{byte(KindRejected), 4, 0}},
		{"error code zero", []byte{byte(KindError), 0, 0}},
		{"truncated run", run[:len(run)-2]},
		{"stderr over cap", func() []byte {
			f := valid(&Failed{Reason: "exit"})
			f = f[:len(f)-len(encodeLog(Log{}))]
			f = binary.AppendUvarint(f, 2)
			f = binary.AppendUvarint(f, MaxStderrLen+1)
			return append(f, make([]byte, MaxStderrLen+1)...)
		}()},
		{"exit code over 32 bits", func() []byte {
			f := valid(&Failed{Reason: "exit"})
			f = f[:len(f)-len(encodeLog(Log{}))]
			return append(binary.AppendUvarint(f, 1<<32), 0, 0)
		}()},
		{"inline output over cap", func() []byte {
			b := valid(sampleMsgs(t)[6])
			b = append(b[:len(b)-1], 1) // inline
			b = binary.AppendUvarint(b, MaxInlineOutput+1)
			return append(b, make([]byte, MaxInlineOutput+1)...)
		}()},
		{"inline output past the end", func() []byte {
			b := valid(sampleMsgs(t)[7])
			return b[:len(b)-1]
		}()},
		{"inline flag not a bool", func() []byte {
			b := valid(sampleMsgs(t)[6])
			return append(b[:len(b)-1], 2)
		}()},

		{"held bytes without CIDs", append(bid[:len(bid)-1:len(bid)-1], 1)},
		{"held bytes over cap", func() []byte {
			b := valid(&Bid{Slots: 1, Speed: 1, HasInputs: []cid.Cid{testCID("a")}, HeldBytes: []uint64{1}})
			return binary.AppendUvarint(b[:len(b)-1], MaxHeldBytes+1)
		}()},
		{"held bytes missing", func() []byte {
			b := valid(&Bid{Slots: 1, Speed: 1, HasInputs: []cid.Cid{testCID("a"), testCID("b")}, HeldBytes: []uint64{1, 2}})
			return b[:len(b)-1]
		}()},
		{"NaN link rate", func() []byte {
			b := append([]byte(nil), bid...)
			binary.BigEndian.PutUint64(b[5+8:], 0x7ff8000000000001)
			return b
		}()},
		{"negative link rate", func() []byte {
			b := append([]byte(nil), bid...)
			binary.BigEndian.PutUint64(b[5+8:], math.Float64bits(-1))
			return b
		}()},
		{"fetched bytes over cap", func() []byte {
			b := valid(&Result{Receipt: sampleMsgs(t)[6].(*Result).Receipt})
			tail := len(encodeLog(Log{})) + 3 // log, fetched 0, took 0, inline 0
			b = append(b[:len(b)-tail:len(b)-tail], encodeLog(Log{})...)
			b = binary.AppendUvarint(b, MaxHeldBytes+1)
			return append(b, 0, 0)
		}()},
		{"fetch took over int64", func() []byte {
			b := valid(&Result{Receipt: sampleMsgs(t)[6].(*Result).Receipt})
			b = b[: len(b)-2 : len(b)-2] // took 0, inline 0
			b = binary.AppendUvarint(b, math.MaxInt64+1)
			return append(b, 0)
		}()},
		{"empty peer ID", func() []byte {
			b := valid(sampleMsgs(t)[6])
			return append([]byte{byte(KindResult), 0}, b[2+int(b[1]):]...)
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(tt.in)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Decode(%x) = %v, %v; want ErrMalformed", tt.in, m, err)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name string
		m    Msg
	}{
		{"undefined module", &BidRequest{Job: "j"}},
		{"too many inputs", &BidRequest{Job: "j", Module: testCID("m"), Inputs: make([]cid.Cid, MaxCIDs+1)}},
		{"job too long", &RunUnit{Job: strings.Repeat("j", MaxJobLen+1), Module: testCID("m")}},
		{"arg too long", &RunUnit{Job: "j", Module: testCID("m"), Args: []string{strings.Repeat("a", MaxArgLen+1)}}},
		{"negative speed", &Bid{Speed: -1}},
		{"NaN link rate", &Bid{Speed: 1, LinkRate: math.NaN()}},
		{"infinite link rate", &Bid{Speed: 1, LinkRate: math.Inf(1)}},
		{"slots over cap", &Bid{Slots: MaxSlots + 1}},
		{"held bytes for no CID", &Bid{Speed: 1, HeldBytes: []uint64{1}}},
		{"held bytes not one per CID", &Bid{Speed: 1, HasInputs: []cid.Cid{testCID("a"), testCID("b")}, HeldBytes: []uint64{1}}},
		{"held bytes over cap", &Bid{Speed: 1, HasInputs: []cid.Cid{testCID("a")}, HeldBytes: []uint64{MaxHeldBytes + 1}}},
		{"zero reject reason", &Rejected{}},
		{"zero error code", &Error{}},
		{"negative took", &Failed{Took: -1}},
		{"stderr over cap", &Failed{Log: Log{Stderr: make([]byte, MaxStderrLen+1)}}},
		{"inline output over cap", &Result{Receipt: sampleMsgs(t)[6].(*Result).Receipt, Inline: true, Output: make([]byte, MaxInlineOutput+1)}},
		{"fetched bytes over cap", &Result{Receipt: sampleMsgs(t)[6].(*Result).Receipt, FetchedBytes: MaxHeldBytes + 1}},
		{"negative fetch time", &Result{Receipt: sampleMsgs(t)[6].(*Result).Receipt, FetchTook: -1}},
		{"output not marked inline", &Result{Receipt: sampleMsgs(t)[6].(*Result).Receipt, Output: []byte("x")}},
		{"unsigned receipt without worker", &Result{Receipt: Receipt{Job: "j", Module: testCID("m"), Output: testCID("o")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Encode(tt.m); !errors.Is(err, ErrMalformed) {
				t.Errorf("Encode(%s) = %v; want ErrMalformed", tt.name, err)
			}
		})
	}
}

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		max     int
		want    []byte
		wantErr error
	}{
		{"empty stream", nil, 0, nil, io.EOF},
		{"one frame", []byte{3, 'a', 'b', 'c'}, 0, []byte("abc"), nil},
		{"empty frame", []byte{0}, 0, []byte{}, nil},
		{"over the given cap", []byte{4, 'a', 'b', 'c', 'd'}, 3, nil, ErrFrameTooLarge},
		{"over MaxFrame", binary.AppendUvarint(nil, MaxFrame+1), 0, nil, ErrFrameTooLarge},
		{"huge length", binary.AppendUvarint(nil, 1<<62), 0, nil, ErrFrameTooLarge},
		{"truncated body", []byte{5, 'a'}, 0, nil, io.ErrUnexpectedEOF},
		{"truncated length", []byte{0x80}, 0, nil, io.ErrUnexpectedEOF},
		{"length over 64 bits", bytes.Repeat([]byte{0xff}, 11), 0, nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadFrame(bufio.NewReader(bytes.NewReader(tt.in)), tt.max)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ReadFrame(%x) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); err == nil && diff != "" {
				t.Errorf("ReadFrame(%x) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestReadFrameOversizedNotBuffered pins that an announced length over the
// cap is refused before the body is read: the reader consumes nothing past
// the length.
func TestReadFrameOversizedNotBuffered(t *testing.T) {
	body := bytes.Repeat([]byte{'x'}, MaxFrame+1)
	in := append(binary.AppendUvarint(nil, uint64(len(body))), body...)
	r := &countingReader{r: bytes.NewReader(in)}
	if _, err := ReadFrame(bufio.NewReaderSize(r, 16), 0); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("ReadFrame() = %v, want ErrFrameTooLarge", err)
	}
	if r.n > 16 {
		t.Errorf("ReadFrame() read %d bytes of an oversized frame, want at most the 16-byte buffer", r.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestReceiptVerify(t *testing.T) {
	priv, id := testKey(t, 1)
	_, other := testKey(t, 2)
	base := func() Receipt {
		r := Receipt{
			Job: "job", Unit: 1, Module: testCID("m"), Inputs: []cid.Cid{testCID("a")}, Args: []string{"1", "2"},
			Output: testCID("o"), Took: time.Second, PeakMemory: 1 << 20, Finished: 42,
		}
		if err := r.Sign(priv); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := base(); r.Worker != id {
		t.Fatalf("Sign() set Worker %s, want %s", r.Worker, id)
	}
	tests := []struct {
		name   string
		tamper func(r *Receipt)
		valid  bool
	}{
		{"untouched", func(*Receipt) {}, true},
		{"worker", func(r *Receipt) { r.Worker = other }, false},
		{"job", func(r *Receipt) { r.Job = "job2" }, false},
		{"unit", func(r *Receipt) { r.Unit = 2 }, false},
		{"module", func(r *Receipt) { r.Module = testCID("m2") }, false},
		{"input", func(r *Receipt) { r.Inputs[0] = testCID("b") }, false},
		{"inputs dropped", func(r *Receipt) { r.Inputs = nil }, false},
		{"args", func(r *Receipt) { r.Args = []string{"1", "3"} }, false},
		{"output", func(r *Receipt) { r.Output = testCID("o2") }, false},
		{"took", func(r *Receipt) { r.Took++ }, false},
		{"peak memory", func(r *Receipt) { r.PeakMemory++ }, false},
		{"finished", func(r *Receipt) { r.Finished++ }, false},
		{"signature bit", func(r *Receipt) { r.Signature[0] ^= 1 }, false},
		{"no signature", func(r *Receipt) { r.Signature = nil }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			tt.tamper(&r)
			err := r.Verify()
			if tt.valid && err != nil {
				t.Errorf("Verify() = %v, want nil", err)
			}
			if !tt.valid && !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify() = %v, want ErrBadSignature", err)
			}
		})
	}
}

func encodeLog(l Log) []byte {
	var e encoder
	l.encode(&e)
	return e.b
}

// TestReceiptVerifyAfterWire pins that a receipt still verifies after a trip
// through the codec, and fails after a byte of it flips in transit.
func TestReceiptVerifyAfterWire(t *testing.T) {
	m := *sampleMsgs(t)[6].(*Result)
	m.Log = Log{} // the log is not signed: flip only the receipt's bytes
	b, err := Encode(&m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.(*Result).Receipt.Verify(); err != nil {
		t.Errorf("Verify() after round trip = %v", err)
	}
	flipped := 0
	logLen := len(encodeLog(Log{})) + 3 // and the fetch figures and inline flag: unsigned too
	for i := 1; i < len(b)-logLen; i++ {
		c := append([]byte(nil), b...)
		c[i] ^= 0x01
		m, err := Decode(c)
		if err != nil {
			continue
		}
		if err := m.(*Result).Receipt.Verify(); err == nil {
			t.Errorf("byte %d flipped: Verify() = nil, want an error", i)
		}
		flipped++
	}
	if flipped == 0 {
		t.Error("no flipped encoding decoded; the test checks nothing")
	}
}

func TestReceiptHashedPeerIDRefused(t *testing.T) {
	// A peer ID that hashes its key (RSA, ECDSA, any key over 42 bytes)
	// carries no public key: its receipts cannot be verified, and the error
	// says why and what to use instead.
	sum := sha256.Sum256([]byte("rsa"))
	h, _ := mh.Encode(sum[:], mh.SHA2_256)
	tests := []struct {
		name string
		id   func(t *testing.T) peer.ID
	}{
		{name: "hash", id: func(*testing.T) peer.ID { return peer.ID(h) }},
		{name: "ecdsa p-256", id: func(t *testing.T) peer.ID {
			_, pub, err := crypto.GenerateECDSAKeyPair(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			id, err := peer.IDFromPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			return id
		}},
		{name: "rsa 2048", id: func(t *testing.T) peer.ID {
			_, pub, err := crypto.GenerateRSAKeyPair(2048, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			id, err := peer.IDFromPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			return id
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Receipt{Worker: tt.id(t), Job: "j", Module: testCID("m"), Output: testCID("o"), Signature: []byte{1}}
			err := r.Verify()
			if !errors.Is(err, ErrBadSignature) || !errors.Is(err, ErrKeyNotInline) {
				t.Fatalf("Verify() = %v, want ErrBadSignature and ErrKeyNotInline", err)
			}
			if !strings.Contains(err.Error(), "use Ed25519") {
				t.Errorf("Verify() = %q, want it to say to use Ed25519", err)
			}
		})
	}
}
