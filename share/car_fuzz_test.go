package share

import (
	"bytes"
	"testing"

	cid "github.com/ipfs/go-cid"
)

// FuzzDecodeCAR feeds arbitrary bytes to ImportCAR: it must never panic,
// must store only blocks that match their CIDs, and must pin only roots
// whose DAG it has.
func FuzzDecodeCAR(f *testing.F) {
	src := newTestStore(f, StoreConfig{})
	for i, n := range []int{0, 10, 3000} {
		root := addBytes(f, src, randomBytes(uint64(i), n), AddOptions{ChunkSize: 1000})
		var car bytes.Buffer
		if err := src.ExportCAR(f.Context(), root, &car); err != nil {
			f.Fatal(err)
		}
		f.Add(car.Bytes())
	}
	f.Add(carHeader(nil))
	f.Add([]byte{0x0a, 0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x02})
	f.Add([]byte{})
	s := newTestStore(f, StoreConfig{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx := t.Context()
		roots, err := s.ImportCAR(ctx, bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, r := range roots {
			if ok, _ := s.IsPinned(ctx, r); !ok {
				t.Fatalf("ImportCAR returned no error but %s is not pinned", r)
			}
			err := s.walk(ctx, r, func(c cid.Cid) error {
				if c.Prefix().Codec == cid.Raw || isIdentity(c) {
					return nil
				}
				blk, err := s.get(ctx, c)
				if err != nil {
					return err
				}
				got, err := c.Prefix().Sum(blk.RawData())
				if err != nil || !got.Equals(c) {
					t.Fatalf("stored block %s does not match its CID", c)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("pinned root %s: walk: %v", r, err)
			}
		}
	})
}
