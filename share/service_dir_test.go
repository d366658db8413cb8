package share

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
)

// TestServicePutDir: PutDir builds a pinned, announced directory of DAGs
// already here, each link recording its DAG's size, and FetchList lists
// it; an entry that is nowhere fails it and pins nothing.
func TestServicePutDir(t *testing.T) {
	exVerifyNoLeaks(t)
	r := newSvcRouter()
	s := svcStart(t, ServiceConfig{}, r)
	a := addBytes(t, s.store, []byte("alpha"), AddOptions{NoPin: true})
	b := addBytes(t, s.store, exRandom(3, 300<<10), AddOptions{NoPin: true})
	root, err := s.PutDir(t.Context(), []Link{{"a.txt", a}, {"b.bin", b}})
	if err != nil {
		t.Fatalf("PutDir: %v", err)
	}
	if pinned, err := s.store.IsPinned(t.Context(), root); err != nil || !pinned {
		t.Errorf("IsPinned(dir) = %v, %v; want pinned", pinned, err)
	}
	r.waitFor(t, "announcement of the directory", func() bool { return r.count(root) > 0 })
	ents, err := s.FetchList(t.Context(), root, 0)
	if err != nil {
		t.Fatalf("FetchList: %v", err)
	}
	var got []Link
	for _, e := range ents {
		got = append(got, Link{e.Name, e.CID})
	}
	if want := []Link{{"a.txt", a}, {"b.bin", b}}; !slices.Equal(got, want) {
		t.Errorf("FetchList = %v, want %v", got, want)
	}
	if ents[1].Size != 300<<10 {
		t.Errorf("FetchList b.bin size = %d, want %d", ents[1].Size, 300<<10)
	}
	// The directory block's links carry the cumulative sizes.
	if n := s.treeSize(t.Context(), b); n <= 300<<10 {
		t.Errorf("treeSize(b) = %d, want more than its %d bytes of data (blocks and links)", n, 300<<10)
	}
	if n := s.treeSize(t.Context(), a); n != 5 {
		t.Errorf("treeSize(raw a) = %d, want 5", n)
	}

	missing := exKey(t, "not here")
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if c, err := s.PutDir(ctx, []Link{{"a.txt", a}, {"gone", missing}}); err == nil {
		t.Errorf("PutDir with a missing entry = %s, nil error; want an error", c)
	}
	pins, err := s.store.Pins(t.Context())
	if err != nil || !slices.Equal(pins, []cid.Cid{root}) {
		t.Errorf("Pins = %v, %v; want only the first directory", pins, err)
	}
}

// TestServiceKeep: Keep pins a DAG here; past maxBytes it fails with
// ErrTooLarge and pins nothing.
func TestServiceKeep(t *testing.T) {
	exVerifyNoLeaks(t)
	s := svcStart(t, ServiceConfig{}, newSvcRouter())
	c := addBytes(t, s.store, exRandom(4, 100<<10), AddOptions{NoPin: true})
	if err := s.Keep(t.Context(), c, 10<<10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Keep over maxBytes err = %v, want ErrTooLarge", err)
	}
	if pinned, _ := s.store.IsPinned(t.Context(), c); pinned {
		t.Error("Keep over maxBytes pinned the DAG")
	}
	if err := s.Keep(t.Context(), c, 0); err != nil {
		t.Fatalf("Keep: %v", err)
	}
	if pinned, err := s.store.IsPinned(t.Context(), c); err != nil || !pinned {
		t.Errorf("IsPinned after Keep = %v, %v; want pinned", pinned, err)
	}
}
