package wire

import (
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// receiptDomain prefixes the signed bytes of a receipt so that its signature
// cannot be replayed as a signature of anything else.
const receiptDomain = "enxame/compute/receipt/v1\x00"

// ErrKeyNotInline is wrapped, beside ErrBadSignature, by Verify of a receipt
// whose worker's peer ID is a hash of its key rather than the key itself:
// nobody can check such a worker's signature.
var ErrKeyNotInline = errors.New("worker's peer ID does not inline its public key (RSA/ECDSA); use Ed25519")

// Receipt is a worker's signed statement that it ran a unit and what came
// out. Everything but Signature is signed; Verify checks the signature with
// the public key Worker carries. Only a peer ID whose marshalled key fits in
// 42 bytes inlines it: Ed25519 and secp256k1 do; RSA and ECDSA (P-256 and
// up, whose PKIX keys are about 91 bytes or more) do not, their peer IDs are
// a hash of the key, and their receipts never verify (ErrKeyNotInline).
type Receipt struct {
	Worker peer.ID
	Job    string
	Unit   uint32
	Module cid.Cid
	Inputs []cid.Cid
	Args   []string
	Output cid.Cid
	// Took is the run's wall time on the worker.
	Took time.Duration
	// PeakMemory is the unit's largest linear memory, in bytes.
	PeakMemory uint64
	// Finished is when the run ended, in Unix nanoseconds by the worker's
	// clock (informational).
	Finished int64
	// Signature is the worker's signature of the other fields.
	Signature []byte
}

func (r *Receipt) encodeBody(e *encoder) {
	e.peer("worker", r.Worker)
	e.string("job", r.Job, MaxJobLen)
	e.bounded("unit", uint64(r.Unit), MaxUnit)
	e.cid("module", r.Module)
	e.cids("inputs", r.Inputs)
	e.strings("args", r.Args, MaxArgs, MaxArgLen)
	e.cid("output", r.Output)
	e.duration("took", r.Took)
	e.uvarint(r.PeakMemory)
	if r.Finished < 0 {
		e.fail("finished: negative")
	}
	e.uvarint(uint64(r.Finished))
}

func (r *Receipt) encode(e *encoder) {
	r.encodeBody(e)
	e.bytes("signature", r.Signature, MaxSignatureLen)
}

func (r *Receipt) decode(d *decoder) {
	r.Worker = d.peer("worker")
	r.Job = d.string("job", MaxJobLen)
	r.Unit = uint32(d.bounded("unit", MaxUnit))
	r.Module = d.cid("module")
	r.Inputs = d.cids("inputs")
	r.Args = d.strings("args", MaxArgs, MaxArgLen)
	r.Output = d.cid("output")
	r.Took = d.duration("took")
	r.PeakMemory = d.uvarint("peak_memory")
	r.Finished = int64(d.bounded("finished", maxInt64))
	if sig := d.bytes("signature", MaxSignatureLen); len(sig) > 0 {
		r.Signature = append([]byte(nil), sig...)
	}
}

// SignedBytes returns the bytes a receipt's signature covers: a domain
// prefix and the encoding of every field but Signature.
func (r *Receipt) SignedBytes() ([]byte, error) {
	e := &encoder{b: []byte(receiptDomain)}
	r.encodeBody(e)
	if e.err != nil {
		return nil, fmt.Errorf("receipt: %w: %v", ErrMalformed, e.err)
	}
	return e.b, nil
}

// Sign sets r.Worker to the peer ID of key and r.Signature to key's
// signature of the receipt.
func (r *Receipt) Sign(key crypto.PrivKey) error {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return fmt.Errorf("sign receipt: %w", err)
	}
	r.Worker = id
	b, err := r.SignedBytes()
	if err != nil {
		return fmt.Errorf("sign receipt: %w", err)
	}
	sig, err := key.Sign(b)
	if err != nil {
		return fmt.Errorf("sign receipt: %w", err)
	}
	r.Signature = sig
	return nil
}

// Verify checks r's signature against the public key in r.Worker. It
// returns nil for a valid signature and an error wrapping ErrBadSignature
// otherwise.
func (r *Receipt) Verify() error {
	if len(r.Signature) == 0 {
		return fmt.Errorf("%w: unsigned", ErrBadSignature)
	}
	pub, err := r.Worker.ExtractPublicKey()
	if err != nil {
		if errors.Is(err, peer.ErrNoPublicKey) {
			return fmt.Errorf("%w: %w: %s", ErrBadSignature, ErrKeyNotInline, r.Worker)
		}
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	b, err := r.SignedBytes()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	ok, err := pub.Verify(b, r.Signature)
	if err != nil || !ok {
		return fmt.Errorf("%w: worker %s", ErrBadSignature, r.Worker)
	}
	return nil
}

// MarshalReceipt returns r's canonical encoding, signature included: the
// bytes a Result carries it in. A submitter keeps receipts in this form, so
// that renaming a Go field never touches a kept signature.
func MarshalReceipt(r *Receipt) ([]byte, error) {
	e := &encoder{}
	r.encode(e)
	if e.err != nil {
		return nil, fmt.Errorf("encode receipt: %w: %v", ErrMalformed, e.err)
	}
	return e.b, nil
}

// UnmarshalReceipt decodes MarshalReceipt's encoding. It returns an error
// wrapping ErrMalformed, never a panic, for bytes that are not one; it does
// not check the signature (Verify does).
func UnmarshalReceipt(b []byte) (Receipt, error) {
	var r Receipt
	d := &decoder{b: b}
	r.decode(d)
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return Receipt{}, fmt.Errorf("decode receipt: %w: %v", ErrMalformed, d.err)
	}
	return r, nil
}
