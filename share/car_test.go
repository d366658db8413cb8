package share

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/enxame/enxame/internal/kubotest"
	"github.com/google/go-cmp/cmp"
	cid "github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/index"
)

func TestCARRoundTrip(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "t/a", randomBytes(1, 3*DefaultChunkSize+5))
	writeFile(t, dir, "t/b/c", randomBytes(2, 100))
	writeFile(t, dir, "t/b/same", randomBytes(2, 100)) // a block twice in the DAG
	src := newTestStore(t, StoreConfig{})
	res, err := src.Add(t.Context(), []string{filepath.Join(dir, "t")}, AddOptions{ChunkSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var car bytes.Buffer
	if err := src.ExportCAR(t.Context(), res.Root, &car); err != nil {
		t.Fatalf("ExportCAR: %v", err)
	}
	// go-car reads what we wrote.
	br, err := carv2.NewBlockReader(bytes.NewReader(car.Bytes()))
	if err != nil {
		t.Fatalf("go-car NewBlockReader: %v", err)
	}
	if diff := cmp.Diff([]cid.Cid{res.Root}, br.Roots, cmp.Comparer(cid.Cid.Equals)); diff != "" {
		t.Errorf("CAR roots mismatch (-want +got):\n%s", diff)
	}

	dst := newTestStore(t, StoreConfig{})
	roots, err := dst.ImportCAR(t.Context(), bytes.NewReader(car.Bytes()))
	if err != nil {
		t.Fatalf("ImportCAR: %v", err)
	}
	if len(roots) != 1 || !roots[0].Equals(res.Root) {
		t.Fatalf("ImportCAR roots = %v, want [%s]", roots, res.Root)
	}
	if ok, err := dst.IsPinned(t.Context(), res.Root); err != nil || !ok {
		t.Errorf("IsPinned(%s) after ImportCAR = %v, %v; want true", res.Root, ok, err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := dst.WriteTo(t.Context(), res.Root, out); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	for _, name := range []string{"a", "b/c", "b/same"} {
		want, _ := os.ReadFile(filepath.Join(dir, "t", name))
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("file %s after CAR round trip: %d bytes, err %v; want the %d added", name, len(got), err, len(want))
		}
	}
	// Export again from the importing store: same bytes.
	var car2 bytes.Buffer
	if err := dst.ExportCAR(t.Context(), res.Root, &car2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(car.Bytes(), car2.Bytes()) {
		t.Errorf("re-exported CAR differs (%d vs %d bytes)", car2.Len(), car.Len())
	}
}

// TestImportCARv2 imports CARv2 files of a DAG into a fresh store: the CARv1
// export wrapped by go-car's WrapV1 (no padding, an index), and CARv2 files
// assembled from go-car's header with padding before the data and before
// the index, or with no index at all. Every one returns the root, pins it,
// and the file reads back byte-exact; the store then exports the same
// CARv1.
func TestImportCARv2(t *testing.T) {
	src := newTestStore(t, StoreConfig{})
	data := randomBytes(6, 300*1000+7) // 301 leaves: a tree of depth 2
	root := addBytes(t, src, data, AddOptions{ChunkSize: 1000})
	var v1 bytes.Buffer
	if err := src.ExportCAR(t.Context(), root, &v1); err != nil {
		t.Fatalf("ExportCAR: %v", err)
	}
	var wrapped bytes.Buffer
	if err := carv2.WrapV1(bytes.NewReader(v1.Bytes()), &wrapped); err != nil {
		t.Fatalf("WrapV1: %v", err)
	}
	// padded assembles a CARv2: pragma, header, dataPad zero bytes, the
	// CARv1, and, unless noIndex, indexPad zero bytes and the index.
	padded := func(dataPad, indexPad uint64, noIndex bool) []byte {
		t.Helper()
		h := carv2.NewHeader(uint64(v1.Len())).WithDataPadding(dataPad).WithIndexPadding(indexPad)
		if noIndex {
			h.IndexOffset = 0
		}
		var b bytes.Buffer
		b.Write(carv2.Pragma)
		if _, err := h.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		b.Write(make([]byte, dataPad))
		b.Write(v1.Bytes())
		if noIndex {
			return b.Bytes()
		}
		idx, err := carv2.GenerateIndex(bytes.NewReader(v1.Bytes()))
		if err != nil {
			t.Fatalf("GenerateIndex: %v", err)
		}
		b.Write(make([]byte, indexPad))
		if _, err := index.WriteTo(idx, &b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	tests := []struct {
		name  string
		car   []byte
		index bool
	}{
		{"WrapV1", wrapped.Bytes(), true},
		{"padded data and index", padded(100, 37, false), true},
		{"padded data, no index", padded(64, 0, true), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// go-car itself takes it for a valid CARv2.
			r, err := carv2.NewReader(bytes.NewReader(tt.car))
			if err != nil {
				t.Fatalf("go-car NewReader: %v", err)
			}
			if r.Version != 2 || r.Header.HasIndex() != tt.index {
				t.Fatalf("go-car reads version %d, index %v; want 2, %v", r.Version, r.Header.HasIndex(), tt.index)
			}
			if _, err := r.Inspect(true); err != nil {
				t.Fatalf("go-car Inspect: %v", err)
			}

			dst := newTestStore(t, StoreConfig{})
			roots, err := dst.ImportCAR(t.Context(), bytes.NewReader(tt.car))
			if err != nil {
				t.Fatalf("ImportCAR: %v", err)
			}
			if len(roots) != 1 || !roots[0].Equals(root) {
				t.Fatalf("ImportCAR roots = %v, want [%s]", roots, root)
			}
			if ok, err := dst.IsPinned(t.Context(), root); err != nil || !ok {
				t.Errorf("IsPinned(%s) after ImportCAR = %v, %v; want true", root, ok, err)
			}
			f, err := dst.Open(t.Context(), root)
			if err != nil {
				t.Fatalf("Open(%s): %v", root, err)
			}
			got, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				t.Fatalf("read %s: %v", root, err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("root %s reads back %d bytes that differ from the %d added", root, len(got), len(data))
			}
			var again bytes.Buffer
			if err := dst.ExportCAR(t.Context(), root, &again); err != nil {
				t.Fatalf("ExportCAR after import: %v", err)
			}
			if !bytes.Equal(again.Bytes(), v1.Bytes()) {
				t.Errorf("CARv1 exported after the import differs from the original (%d vs %d bytes)", again.Len(), v1.Len())
			}
		})
	}
}

func TestImportCARRejectsBadBlock(t *testing.T) {
	src := newTestStore(t, StoreConfig{})
	data := randomBytes(3, 5000)
	root := addBytes(t, src, data, AddOptions{ChunkSize: 1000})
	var car bytes.Buffer
	if err := src.ExportCAR(t.Context(), root, &car); err != nil {
		t.Fatal(err)
	}
	b := car.Bytes()
	b[len(b)-1] ^= 0xff // last byte of the last block
	dst := newTestStore(t, StoreConfig{})
	_, err := dst.ImportCAR(t.Context(), bytes.NewReader(b))
	var hm *HashMismatchError
	if !errors.As(err, &hm) {
		t.Fatalf("ImportCAR(flipped byte) error = %v, want *HashMismatchError", err)
	}
	if ok, _ := dst.Has(t.Context(), hm.CID); ok {
		t.Errorf("Has(%s) = true after a rejected import, want the bad block never stored", hm.CID)
	}
}

func TestImportCARIncomplete(t *testing.T) {
	src := newTestStore(t, StoreConfig{})
	root := addBytes(t, src, randomBytes(4, 5000), AddOptions{ChunkSize: 1000})
	var car bytes.Buffer
	if err := src.ExportCAR(t.Context(), root, &car); err != nil {
		t.Fatal(err)
	}
	// Keep the header and the root block only.
	br, err := carv2.NewBlockReader(bytes.NewReader(car.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	rb, err := br.Next()
	if err != nil {
		t.Fatal(err)
	}
	var partial bytes.Buffer
	partial.Write(carHeader([]cid.Cid{root}))
	partial.Write(carSection(rb.Cid(), rb.RawData()))
	dst := newTestStore(t, StoreConfig{})
	_, err = dst.ImportCAR(t.Context(), &partial)
	var ie *IncompleteError
	if !errors.As(err, &ie) {
		t.Fatalf("ImportCAR(root only) error = %v, want *IncompleteError", err)
	}
	if ok, _ := dst.IsPinned(t.Context(), root); ok {
		t.Errorf("IsPinned(%s) = true after an incomplete import, want false", root)
	}
}

// TestExportCARMatchesKubo compares our CAR of a directory with
// `ipfs dag export` of the same directory added to Kubo: same bytes.
func TestExportCARMatchesKubo(t *testing.T) {
	k := kubotest.Start(t)
	dir := t.TempDir()
	writeFile(t, dir, "t/a", randomBytes(5, 2*DefaultChunkSize+5))
	writeFile(t, dir, "t/b/c", []byte("c"))
	writeFile(t, dir, "t/b/d", []byte("c"))
	want := k.Add(filepath.Join(dir, "t"), "-r")
	s := newTestStore(t, StoreConfig{})
	res, err := s.Add(t.Context(), []string{filepath.Join(dir, "t")}, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Root.String() != want {
		t.Fatalf("Add root %s, Kubo %s", res.Root, want)
	}
	var got bytes.Buffer
	if err := s.ExportCAR(t.Context(), res.Root, &got); err != nil {
		t.Fatal(err)
	}
	kcar := k.Run("dag", "export", want)
	if !bytes.Equal(got.Bytes(), kcar) {
		t.Errorf("ExportCAR(%s) = %d bytes, differs from Kubo's dag export (%d bytes)", res.Root, got.Len(), len(kcar))
	}
	// And Kubo imports ours into a fresh node.
	k2 := kubotest.Start(t)
	carPath := writeFile(t, dir, "x.car", got.Bytes())
	k2.Run("dag", "import", carPath)
	if b := k2.Cat(want + "/b/c"); string(b) != "c" {
		t.Errorf("Kubo cat of imported CAR = %q, want %q", b, "c")
	}
}
