package share

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
)

// newTestStore opens a Store in a fresh temporary directory, closed by
// t.Cleanup.
func newTestStore(t testing.TB, cfg StoreConfig) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := OpenStore(cfg, StoreDeps{})
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// randomBytes returns n bytes from a PCG seeded with seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeFile writes b at dir/name, creating parents.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// addBytes adds b as one file and returns its root.
func addBytes(t testing.TB, s *Store, b []byte, opts AddOptions) cid.Cid {
	t.Helper()
	res, err := s.AddReader(t.Context(), bytes.NewReader(b), "f", opts)
	if err != nil {
		t.Fatalf("AddReader(%d bytes): %v", len(b), err)
	}
	return res.Root
}

// catAll reads the whole file at c from s.
func catAll(t testing.TB, ctx context.Context, r *Reader, c cid.Cid) []byte {
	t.Helper()
	f, err := r.Open(ctx, c)
	if err != nil {
		t.Fatalf("Open(%s): %v", c, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatalf("read %s: %v", c, err)
	}
	return buf.Bytes()
}

func contextWithTimeout(t testing.TB, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}
