package share

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/enxame/enxame/internal/kubotest"
	"github.com/google/go-cmp/cmp"
	cid "github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
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
