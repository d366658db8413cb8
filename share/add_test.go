package share

import (
	"bytes"
	"testing"
)

func TestAddProgress(t *testing.T) {
	s := newTestStore(t, StoreConfig{})
	data := randomBytes(31, 1<<20+5)
	var got []int64
	res, err := s.AddReader(t.Context(), bytes.NewReader(data), "f", AddOptions{ChunkSize: 4096, Progress: func(n int64) { got = append(got, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[len(got)-1] != int64(len(data)) || res.Bytes != int64(len(data)) {
		t.Fatalf("Progress calls end at %v, Bytes %d; want %d", got[max(0, len(got)-1):], res.Bytes, len(data))
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("Progress went %d → %d, want increasing", got[i-1], got[i])
		}
	}
}

func TestAddOptionErrors(t *testing.T) {
	s := newTestStore(t, StoreConfig{})
	tests := []struct {
		name string
		opts AddOptions
	}{
		{name: "chunk too big", opts: AddOptions{ChunkSize: MaxChunkSize + 1}},
		{name: "negative chunk", opts: AddOptions{ChunkSize: -1}},
		{name: "negative workers", opts: AddOptions{Workers: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.AddReader(t.Context(), bytes.NewReader([]byte("x")), "f", tt.opts); err == nil {
				t.Errorf("AddReader(%+v) = nil error, want one", tt.opts)
			}
		})
	}
	if _, err := s.Add(t.Context(), []string{"/does/not/exist"}, AddOptions{}); err == nil {
		t.Errorf("Add(missing path) = nil error, want one")
	}
}
