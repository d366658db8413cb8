package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestRunSmall runs the whole benchmark on 3 MiB, Kubo included, and checks
// the report: it fails if enxame and Kubo disagree on the root CID.
func TestRunSmall(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"-size", "3MiB", "-dir", t.TempDir(), "-json"}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("decode report: %v\n%s", err, out.String())
	}
	if rep.CID == "" || rep.CID != rep.KuboCID {
		t.Errorf("report CID %q, Kubo CID %q: want equal and non-empty", rep.CID, rep.KuboCID)
	}
	var names []string
	for _, r := range rep.Results {
		names = append(names, r.Name)
		if r.MBps <= 0 {
			t.Errorf("result %s: %v MB/s, want > 0", r.Name, r.MBps)
		}
	}
	if len(names) != 3 {
		t.Errorf("results %v, want enxame, sha256, kubo", names)
	}
}
