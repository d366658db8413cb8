package main

import "testing"

// TestRunSmall runs the benchmark on a small file without Kubo.
func TestRunSmall(t *testing.T) {
	if err := run(t.Context(), 3<<20, "", false, 2); err != nil {
		t.Fatalf("run: %v", err)
	}
}
