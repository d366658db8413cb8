package compute

import (
	"bytes"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

func TestSubmitterSingleUnit(t *testing.T) {
	sw := newSwarm()
	sw.startWorker(t, WorkerConfig{Slots: 1}, nil)
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	mod := sw.module(t, "wordcount")
	in := sw.content.putBytes(t, []byte("b a b\n"))
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: mod, Inputs: []cid.Cid{in}})
	if err != nil {
		t.Fatal(err)
	}
	info := sub.wait(t, id, 60*time.Second)
	if info.State != JobDone {
		t.Fatalf("job %s: %s %s", id, info.State, info.Error)
	}
	got := sw.content.bytes(t, info.Output())
	if want := []byte("a\t1\nb\t2\n"); !bytes.Equal(got, want) {
		t.Errorf("output = %q, want %q", got, want)
	}
}
