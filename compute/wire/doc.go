// Package wire encodes and decodes the messages of enxame's compute protocol
// (/enxame/compute/1.3.0): bid requests and bids, unit assignments, their
// progress, results with signed receipts, cancellations and errors.
//
// A message travels as one frame: an unsigned varint body length followed by
// the body, a kind byte and the message's fields. Readers reject a length over
// the cap before buffering any of the body, and decoders return an error,
// never panic, on any malformed input: a bad varint, a string or list past
// the end or over its cap, an invalid CID or peer ID, an out-of-range value,
// an unknown kind, or trailing bytes. compute/DESIGN.md describes the message
// flow and every limit.
//
// Receipts are signed with the worker's libp2p private key and verified with
// the public key its peer ID carries (Receipt.Sign, Receipt.Verify).
//
// wire imports only the standard library, go-cid and go-libp2p's core/
// packages; it must not import compute, node, cli, share or dht.
package wire
