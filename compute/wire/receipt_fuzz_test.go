package wire

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// receiptKeys are the key types a worker may sign verifiable receipts
// with: the ones whose peer IDs inline their public key (Ed25519 and
// secp256k1; an ECDSA P-256 key is too long to inline, so its peer ID is a
// hash, like RSA's). They are made once per process.
var receiptKeys = sync.OnceValues(func() ([]crypto.PrivKey, error) {
	ed, _, err := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		return nil, err
	}
	secp, _, err := crypto.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	return []crypto.PrivKey{ed, secp}, nil
})

func fuzzKeys(t testing.TB) []crypto.PrivKey {
	t.Helper()
	keys, err := receiptKeys()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// signedReceiptBody returns the encoding of a Result carrying r signed by
// key, without its kind byte.
func signedReceiptBody(t testing.TB, r Receipt, key crypto.PrivKey) []byte {
	t.Helper()
	if err := r.Sign(key); err != nil {
		t.Fatal(err)
	}
	b, err := MarshalReceipt(&r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeReceipt decodes a receipt's encoding (MarshalReceipt's; a Result
// body starts with it).
func decodeReceipt(b []byte) (Receipt, error) { return UnmarshalReceipt(b) }

// FuzzDecodeReceipt decodes arbitrary bytes as a receipt and checks them:
// no panic in Decode or Verify, and a receipt that verifies re-encodes to
// exactly the bytes it came from and still verifies after the round trip
// (what the submitter keeps is what the worker signed).
func FuzzDecodeReceipt(f *testing.F) {
	base := Receipt{
		Job: "job-1", Unit: 3, Module: testCID("m"), Inputs: []cid.Cid{testCID("a"), testCID("b")},
		Args: []string{"-n", "3"}, Output: testCID("out"), Took: time.Second, PeakMemory: 1 << 20, Finished: 42,
	}
	for _, key := range fuzzKeys(f) {
		f.Add(signedReceiptBody(f, base, key))
		min := Receipt{Module: testCID("m"), Output: testCID("o")}
		f.Add(signedReceiptBody(f, min, key))
	}
	unsigned := signedReceiptBody(f, base, fuzzKeys(f)[0])
	f.Add(unsigned[:len(unsigned)-65]) // truncated inside the signature
	f.Add([]byte{})
	f.Add([]byte{0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeReceipt(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("decode receipt %x = %v, want an error wrapping ErrMalformed", b, err)
			}
			return
		}
		if err := r.Verify(); err != nil {
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify() = %v, want nil or ErrBadSignature", err)
			}
			return
		}
		again, err := MarshalReceipt(&r)
		if err != nil {
			t.Fatalf("Encode(verified receipt) = %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("verified receipt re-encodes to %x, want the input %x", again, b)
		}
		r2, err := decodeReceipt(again)
		if err != nil {
			t.Fatalf("decode re-encoded receipt = %v", err)
		}
		if err := r2.Verify(); err != nil {
			t.Fatalf("Verify() after round trip = %v", err)
		}
	})
}

// FuzzVerifyReceipt signs receipts made of fuzzed fields with every key
// type, checks that each verifies before and after the wire, and then that
// changing any one field, or any one bit of its encoding, makes it fail
// verification.
func FuzzVerifyReceipt(f *testing.F) {
	f.Add("job-1", uint32(7), "-n\x003", int64(time.Second), uint64(64<<20), int64(1e18), uint16(2), uint8(0), uint16(0))
	f.Add("", uint32(0), "", int64(0), uint64(0), int64(0), uint16(0), uint8(11), uint16(1))
	f.Add(strings.Repeat("j", MaxJobLen), uint32(MaxUnit), "\x00\x00", int64(1<<62), uint64(1<<63), int64(1<<62), uint16(MaxCIDs), uint8(5), uint16(400))
	f.Add("é", uint32(1), "a", int64(-1), uint64(1), int64(-1), uint16(MaxCIDs+1), uint8(12), uint16(70))
	f.Fuzz(func(t *testing.T, job string, unit uint32, args string, took int64, peak uint64, finished int64,
		nInputs uint16, field uint8, bit uint16) {
		r := Receipt{
			Job: job, Unit: unit, Module: testCID("m" + job), Output: testCID("o" + args),
			Took: time.Duration(took), PeakMemory: peak, Finished: finished,
		}
		if args != "" {
			r.Args = strings.Split(args, "\x00")
		}
		for i := range int(nInputs) % (MaxCIDs + 2) {
			r.Inputs = append(r.Inputs, testCID(fmt.Sprint(i)))
		}
		keys := fuzzKeys(t)
		k := int(field) % len(keys)
		key := keys[k]
		other, err := peer.IDFromPrivateKey(keys[(k+1)%len(keys)])
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Sign(key); err != nil {
			// Fields over a limit cannot be signed, and an unsigned
			// receipt never verifies.
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Sign() = %v, want nil or ErrMalformed", err)
			}
			if err := r.Verify(); err == nil {
				t.Fatal("Verify() of a receipt Sign refused = nil")
			}
			return
		}
		if err := r.Verify(); err != nil {
			t.Fatalf("Verify() of a fresh receipt = %v", err)
		}
		body, err := MarshalReceipt(&r)
		if err != nil {
			t.Fatalf("Encode(signed receipt) = %v", err)
		}
		got, err := decodeReceipt(body)
		if err != nil {
			t.Fatalf("decode signed receipt = %v", err)
		}
		if err := got.Verify(); err != nil {
			t.Fatalf("Verify() after the wire = %v", err)
		}

		tampered := got
		tampered.Inputs = append([]cid.Cid(nil), got.Inputs...)
		tampered.Args = append([]string(nil), got.Args...)
		tampered.Signature = append([]byte(nil), got.Signature...)
		what := tamper(&tampered, field, other)
		if err := tampered.Verify(); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify() after changing the %s = %v, want ErrBadSignature\nbefore %+v\nafter  %+v", what, err, got, tampered)
		}

		flipped := append([]byte(nil), body...)
		i := int(bit) % (len(flipped) * 8)
		flipped[i/8] ^= 1 << (i % 8)
		fr, err := decodeReceipt(flipped)
		if err == nil {
			if err := fr.Verify(); err == nil {
				t.Fatalf("Verify() after flipping bit %d of the encoding = nil\nbefore %+v\nafter  %+v",
					i, got, fr)
			}
		}
	})
}

// tamper changes the field of r that field selects and names it.
// other is a peer ID that is not r's worker.
func tamper(r *Receipt, field uint8, other peer.ID) string {
	switch field % 12 {
	case 0:
		r.Worker = other
		return "worker"
	case 1:
		r.Job += "x"
		return "job"
	case 2:
		r.Unit ^= 1
		return "unit"
	case 3:
		r.Module = testCID("other module")
		return "module"
	case 4:
		r.Inputs = append(r.Inputs, testCID("extra"))
		return "inputs"
	case 5:
		r.Args = append(r.Args, "")
		return "args"
	case 6:
		r.Output = testCID("forged output")
		return "output"
	case 7:
		r.Took ^= 1
		return "took"
	case 8:
		r.PeakMemory ^= 1
		return "peak memory"
	case 9:
		r.Finished ^= 1
		return "finished"
	case 10:
		r.Signature[int(field)%len(r.Signature)] ^= 1 << (field % 8)
		return "signature"
	default:
		if len(r.Inputs) == 0 {
			r.Signature = nil
			return "signature (removed)"
		}
		r.Inputs = r.Inputs[1:]
		return "inputs (first dropped)"
	}
}

// TestFuzzReceiptTamperCoversEveryField checks that tamper changes a
// different field for every selector, so the fuzz target cannot silently
// stop checking one.
func TestFuzzReceiptTamperCoversEveryField(t *testing.T) {
	keys := fuzzKeys(t)
	r := Receipt{Job: "j", Module: testCID("m"), Output: testCID("o"), Inputs: []cid.Cid{testCID("a")}}
	if err := r.Sign(keys[0]); err != nil {
		t.Fatal(err)
	}
	other, err := peer.IDFromPrivateKey(keys[1])
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for field := range uint8(12) {
		c := r
		c.Inputs = append([]cid.Cid(nil), r.Inputs...)
		c.Signature = append([]byte(nil), r.Signature...)
		what := tamper(&c, field, other)
		if seen[what] {
			t.Errorf("tamper(%d) changes the %s again", field, what)
		}
		seen[what] = true
		if cmp.Equal(c, r, cidOpts) {
			t.Errorf("tamper(%d) (%s) left the receipt unchanged", field, what)
		}
	}
}
