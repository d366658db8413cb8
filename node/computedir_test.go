package node

import (
	"bytes"
	"strings"
	"testing"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/share"
	sharewire "github.com/enxame/enxame/share/wire"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// TestResultDirFitsABlock: the result directory of a job of
// compute.MaxUnits units, every output CID as long as the compute wire
// lets a worker make it, is one block a peer may still send (the reduce
// unit's worker fetches it; issue 14); a directory over that is refused
// with an error rather than stored unservable.
func TestResultDirFitsABlock(t *testing.T) {
	// The longest CID the compute wire accepts: an identity multihash
	// filling wire.MaxCIDLen.
	long := func(i int) cid.Cid {
		t.Helper()
		digest := bytes.Repeat([]byte{byte(i)}, 128-8)
		h, err := mh.Sum(digest, mh.IDENTITY, -1)
		if err != nil {
			t.Fatal(err)
		}
		c := cid.NewCidV1(cid.Raw, h)
		if c.ByteLen() > 128 {
			t.Fatalf("CID of %d bytes, over wire.MaxCIDLen", c.ByteLen())
		}
		return c
	}
	entries := func(n int) []share.Link {
		es := make([]share.Link, n)
		for i := range es {
			es[i] = share.Link{Name: compute.InputName(i), CID: long(i)}
		}
		return es
	}
	size := func(cid.Cid) uint64 { return 1 << 40 } // the longest size varint a unit's output may have
	nd, err := share.DirNode(entries(compute.MaxUnits), size)
	if err != nil {
		t.Fatalf("share.DirNode(%d entries) = %v", compute.MaxUnits, err)
	}
	if n := len(nd.RawData()); n > sharewire.MaxBlockSize {
		t.Fatalf("result directory of %d units: %d bytes, over %d", compute.MaxUnits, n, sharewire.MaxBlockSize)
	} else {
		t.Logf("result directory of %d units: %d bytes", compute.MaxUnits, n)
	}
	if _, err := share.DirNode(entries(2*compute.MaxUnits), size); err == nil || !strings.Contains(err.Error(), "over the") {
		t.Errorf("share.DirNode(%d entries) = %v, want an error over the block size", 2*compute.MaxUnits, err)
	}
}
