package share

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	blocks "github.com/ipfs/go-block-format"
	cid "github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
	carv2 "github.com/ipld/go-car/v2"
)

// HashMismatchError reports a block of a CAR whose bytes do not hash to its
// CID; ImportCAR returns it (wrapped) and stores nothing of that block.
type HashMismatchError struct {
	CID cid.Cid
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("share: car block %s does not match its hash", e.CID)
}

// ExportCAR writes the DAG under root to w as a CARv1 stream with root as
// its only root: the blocks in depth-first pre-order, links in order, each
// block once (the order and bytes of `ipfs dag export`). The whole DAG must
// be local, else it returns an *IncompleteError after writing what came
// before the missing block.
func (s *Store) ExportCAR(ctx context.Context, root cid.Cid, w io.Writer) error {
	done, err := s.enter()
	if err != nil {
		return err
	}
	defer done()
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.Write(carHeader([]cid.Cid{root})); err != nil {
		return fmt.Errorf("share: export %s: %w", root, err)
	}
	var vbuf [binary.MaxVarintLen64]byte
	err = s.walk(ctx, root, func(c cid.Cid) error {
		b, err := s.get(ctx, c)
		if format.IsNotFound(err) {
			return &IncompleteError{Root: root, Missing: c}
		}
		if err != nil {
			return err
		}
		cb, data := c.Bytes(), b.RawData()
		n := binary.PutUvarint(vbuf[:], uint64(len(cb)+len(data)))
		if _, err := bw.Write(vbuf[:n]); err != nil {
			return err
		}
		if _, err := bw.Write(cb); err != nil {
			return err
		}
		_, err = bw.Write(data)
		return err
	})
	if err != nil {
		bw.Flush()
		return fmt.Errorf("share: export %s: %w", root, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("share: export %s: %w", root, err)
	}
	return nil
}

// carHeader is the varint-prefixed dag-cbor header {roots, version: 1},
// encoded canonically by hand (keys sorted by length, then bytes).
func carHeader(roots []cid.Cid) []byte {
	var h []byte
	h = append(h, 0xa2)            // map(2)
	h = append(h, 0x65)            // text(5)
	h = append(h, "roots"...)      //
	h = cborHead(h, 4, len(roots)) // array
	for _, r := range roots {
		h = append(h, 0xd8, 0x2a) // tag(42)
		cb := r.Bytes()
		h = cborHead(h, 2, len(cb)+1) // bytes
		h = append(h, 0x00)
		h = append(h, cb...)
	}
	h = append(h, 0x67) // text(7)
	h = append(h, "version"...)
	h = append(h, 0x01)
	var vbuf [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(vbuf[:], uint64(len(h)))
	return append(vbuf[:n:n], h...)
}

// cborHead appends a CBOR head of major type major and argument n.
func cborHead(b []byte, major byte, n int) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n < 1<<8:
		return append(b, m|24, byte(n))
	case n < 1<<16:
		return append(b, m|25, byte(n>>8), byte(n))
	default:
		return append(b, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// ImportCAR reads a CARv1 or CARv2 stream, checks every block against its
// CID (a mismatch stops the import with a *HashMismatchError), stores the
// blocks and pins every root. It returns the roots. A root whose DAG is not
// complete in the store after the import is not pinned, and the error wraps
// an *IncompleteError; the blocks stay stored (unpinned) either way.
func (s *Store) ImportCAR(ctx context.Context, r io.Reader) ([]cid.Cid, error) {
	done, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	br, err := carv2.NewBlockReader(r, carv2.MaxAllowedSectionSize(maxBlockSize+1024))
	if err != nil {
		return nil, fmt.Errorf("share: import car: %w", err)
	}
	roots := br.Roots
	h := s.NewHold()
	defer h.Release()
	h.Add(roots...)
	var batch []blocks.Block
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.putInside(ctx, batch)
		batch = batch[:0]
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return roots, err
		}
		c, br2, size, err := br.NextReader()
		if err == io.EOF {
			break
		}
		if err != nil {
			return roots, fmt.Errorf("share: import car: %w", err)
		}
		if size > maxBlockSize {
			return roots, fmt.Errorf("share: import car: block %s of %d bytes over the %d limit", c, size, maxBlockSize)
		}
		data := make([]byte, size)
		if _, err := io.ReadFull(br2, data); err != nil {
			return roots, fmt.Errorf("share: import car: block %s: %w", c, err)
		}
		got, err := c.Prefix().Sum(data)
		if err != nil {
			return roots, fmt.Errorf("share: import car: block %s: %w", c, err)
		}
		if !got.Equals(c) {
			return roots, fmt.Errorf("share: import car: %w", &HashMismatchError{CID: c})
		}
		b, err := blocks.NewBlockWithCid(data, c)
		if err != nil {
			return roots, fmt.Errorf("share: import car: block %s: %w", c, err)
		}
		h.Add(c)
		batch = append(batch, b)
		if len(batch) == 64 {
			if err := flush(); err != nil {
				return roots, fmt.Errorf("share: import car: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return roots, fmt.Errorf("share: import car: %w", err)
	}
	var errs []error
	for _, root := range roots {
		err := s.walk(ctx, root, func(c cid.Cid) error {
			ok, err := s.hasLocked(ctx, c)
			if err != nil {
				return err
			}
			if !ok {
				return &IncompleteError{Root: root, Missing: c}
			}
			return nil
		})
		if err == nil {
			err = s.putPin(ctx, root)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("share: import car: pin %s: %w", root, err))
		}
	}
	return roots, errors.Join(errs...)
}

// carSection encodes one CARv1 block section.
func carSection(c cid.Cid, data []byte) []byte {
	cb := c.Bytes()
	var vbuf [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(vbuf[:], uint64(len(cb)+len(data)))
	out := make([]byte, 0, n+len(cb)+len(data))
	out = append(out, vbuf[:n]...)
	out = append(out, cb...)
	return append(out, data...)
}
