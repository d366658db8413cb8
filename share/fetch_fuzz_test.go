package share

import (
	"bytes"
	"testing"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
)

// FuzzFetchLinks feeds arbitrary bytes to fetchLinks, the fetch's decoder of
// a block's links, under a dag-pb CIDv1, a CIDv0 (dag-pb too), a raw CID
// and a dag-cbor one: it must never panic; a block of any codec but dag-pb
// has no links and no error; a dag-pb block it accepts has only defined
// link CIDs, the same under either CID version, and decodes the same twice.
func FuzzFetchLinks(f *testing.F) {
	// Seeds: real dag-pb nodes (a file's root with many links, an
	// intermediate node, a directory, an empty node), a raw leaf, nothing,
	// and a few hand-made PBNode encodings.
	bs := exNewBlockstore(f)
	root := exImport(f, bs, exRandom(1, 200*1024+3), 1024) // depth 2
	blk, err := bs.Get(f.Context(), root)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blk.RawData())
	links, err := fetchLinks(root, blk.RawData())
	if err != nil || len(links) == 0 {
		f.Fatalf("fetchLinks(root) = %d links, %v", len(links), err)
	}
	if inner, err := bs.Get(f.Context(), links[0].key); err == nil {
		f.Add(inner.RawData())
	}
	dir := unixfs.EmptyDirNode()
	if err := dir.AddRawLink("a", &ipld.Link{Cid: root, Size: 1 << 40}); err != nil {
		f.Fatal(err)
	}
	f.Add(dir.RawData())
	f.Add(merkledag.NodeWithData(nil).RawData())
	f.Add(exRandom(2, 1000))
	f.Add([]byte{})
	f.Add([]byte{0x12, 0x00})             // a link with no fields (no Hash)
	f.Add([]byte{0x12, 0x02, 0x0a, 0x00}) // a link with an empty Hash
	f.Add([]byte{0x0a, 0x01, 0x08})       // Data only
	f.Add([]byte{0x12, 0x05, 0x18, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := multihash.Sum(data, multihash.SHA2_256, -1)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []uint64{cid.Raw, cid.DagCBOR} {
			k := cid.NewCidV1(c, h)
			if links, err := fetchLinks(k, data); links != nil || err != nil {
				t.Fatalf("fetchLinks(%s) = %d links, %v; want none and no error", k, len(links), err)
			}
		}
		k1 := cid.NewCidV1(cid.DagProtobuf, h)
		links, err := fetchLinks(k1, data)
		links0, err0 := fetchLinks(cid.NewCidV0(h), data)
		if (err == nil) != (err0 == nil) {
			t.Fatalf("fetchLinks: error %v under CIDv1, %v under CIDv0", err, err0)
		}
		if err != nil {
			if links != nil {
				t.Fatalf("fetchLinks(%s) = %d links with error %v", k1, len(links), err)
			}
			return
		}
		again, err := fetchLinks(k1, data)
		if err != nil {
			t.Fatalf("fetchLinks(%s) failed the second time: %v", k1, err)
		}
		for _, other := range [][]fetchLink{links0, again} {
			if len(other) != len(links) {
				t.Fatalf("fetchLinks(%s): %d links, then %d", k1, len(links), len(other))
			}
			for i := range links {
				if !links[i].key.Equals(other[i].key) || links[i].size != other[i].size {
					t.Fatalf("fetchLinks(%s): link %d is %v, then %v", k1, i, links[i], other[i])
				}
			}
		}
		for i, l := range links {
			if !l.key.Defined() {
				t.Fatalf("fetchLinks(%s): link %d has an undefined CID", k1, i)
			}
			if c, err := cid.Cast(l.key.Bytes()); err != nil || !bytes.Equal(c.Bytes(), l.key.Bytes()) {
				t.Fatalf("fetchLinks(%s): link %d CID %s does not round-trip: %v", k1, i, l.key, err)
			}
		}
	})
}
