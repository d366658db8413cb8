package compute

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/enxame/enxame/compute/wire"
	"github.com/enxame/enxame/internal/waittest"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
)

// startFakeWorker serves the compute protocol on a new host announced in
// sw's registry: it bids fast and free, accepts every unit and answers it
// as mode says.
func (sw *swarm) startFakeWorker(t testing.TB, mode string) *testWorker {
	t.Helper()
	h := newHost(t)
	other, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h.SetStreamHandler(ProtocolID, func(s network.Stream) {
		defer s.Close()
		r := bufio.NewReader(s)
		m, err := wire.ReadMsg(r)
		if err != nil {
			s.Reset()
			return
		}
		switch m := m.(type) {
		case *wire.BidRequest:
			wire.WriteMsg(s, &wire.Bid{Slots: 4, FreeSlots: 4, Speed: 1000, MaxMemory: 1 << 30})
		case *wire.RunUnit:
			wire.WriteMsg(s, &wire.Accepted{})
			rc := wire.Receipt{Job: m.Job, Unit: m.Unit, Module: m.Module, Inputs: m.Inputs, Args: m.Args, Output: rawCID([]byte("forged")), Took: time.Millisecond}
			switch mode {
			case "other-key": // signed, but not by this peer
				rc.Sign(other)
				wire.WriteMsg(s, &wire.Result{Receipt: rc})
			case "tampered": // signed by this peer, then changed
				rc.Sign(h.Peerstore().PrivKey(h.ID()))
				rc.Unit++
				wire.WriteMsg(s, &wire.Result{Receipt: rc})
			case "inline-mismatch": // the receipt names the honest output, the inline bytes are others
				rc.Output = rawCID([]byte("ok\n"))
				rc.Sign(h.Peerstore().PrivKey(h.ID()))
				wire.WriteMsg(s, &wire.Result{Receipt: rc, Inline: true, Output: []byte("evil\n")})
				wire.ReadMsg(r) // the submitter's word that it holds the output
			case "garbage":
				s.Write([]byte{3, 0xee, 0xee, 0xee})
			}
		}
	})
	t.Cleanup(func() { h.RemoveStreamHandler(ProtocolID) })
	discovery{sw.reg, h}.Provide(t.Context(), ComputeKey())
	return &testWorker{h: h}
}

// TestSubmitterBadWorkers: workers that forge or tamper with receipts or
// send garbage never get a result accepted; the job completes on an honest
// worker with the right output.
func TestSubmitterBadWorkers(t *testing.T) {
	for _, mode := range []string{"other-key", "tampered", "garbage"} {
		t.Run(mode, func(t *testing.T) {
			sw := newSwarm()
			bad := sw.startFakeWorker(t, mode)
			sw.startWorker(t, WorkerConfig{Slots: 2}, nil)
			sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
			id, err := sub.s.Submit(t.Context(), JobSpec{Module: sw.hostileModule(t), Args: []string{"ok"}, Split: Split{Kind: SplitRange, From: 0, To: 4, N: 4}})
			if err != nil {
				t.Fatal(err)
			}
			info := sub.wait(t, id, 30*time.Second)
			if info.State != JobDone {
				t.Fatalf("job: %s %s", info.State, info.Error)
			}
			checkReceipts(t, info)
			var failed int
			for _, u := range info.Units {
				if got := sw.content.bytes(t, u.Output); !bytes.Equal(got, []byte("ok\n")) {
					t.Errorf("unit %d output %q", u.Index, got)
				}
				for _, r := range u.Receipts {
					if r.Worker == bad.h.ID() {
						t.Errorf("unit %d: the bad worker's receipt was accepted", u.Index)
					}
				}
				for _, f := range u.Failures {
					if strings.HasPrefix(f, bad.h.ID().String()) {
						failed++
					}
				}
			}
			if failed == 0 {
				t.Errorf("no run failed on the bad worker; was it used?")
			}
		})
	}
}

// TestInlineOutputs: tiny outputs travel inline with their Result and are
// kept, checked against their CID, without a fetch (Keep) or an
// announcement (LocalContent), for one replica and for a vote of two
// (issue 14).
func TestInlineOutputs(t *testing.T) {
	for _, replicas := range []int{1, 2} {
		t.Run(fmt.Sprintf("replicas %d", replicas), func(t *testing.T) {
			sw := newSwarm()
			sw.startWorker(t, WorkerConfig{Slots: 2}, nil)
			sw.startWorker(t, WorkerConfig{Slots: 2}, nil)
			sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
			id, err := sub.s.Submit(t.Context(), JobSpec{Module: sw.hostileModule(t), Args: []string{"ok"}, Replicas: replicas,
				Split: Split{Kind: SplitRange, From: 0, To: 4, N: 4}})
			if err != nil {
				t.Fatal(err)
			}
			info := sub.wait(t, id, 30*time.Second)
			if info.State != JobDone {
				t.Fatalf("job: %s %s", info.State, info.Error)
			}
			checkReceipts(t, info)
			for _, u := range info.Units {
				if got := sw.content.bytes(t, u.Output); !bytes.Equal(got, []byte("ok\n")) {
					t.Errorf("unit %d output %q", u.Index, got)
				}
			}
			local, keeps, pinned := sw.content.localStats(info.Units[0].Output)
			// Each run's output stored unannounced by its worker and by
			// the submitter.
			if want := 2 * replicas * len(info.Units); local < want || keeps != 0 || !pinned {
				t.Errorf("PutTempLocal %d times, Keep %d times, output pinned locally %v; want at least %d, 0, true", local, keeps, pinned, want)
			}
		})
	}
}

// TestInlineOutputMismatch: inline bytes that are not the receipt's output
// are never kept as it: the submitter fetches the output by its CID.
func TestInlineOutputMismatch(t *testing.T) {
	sw := newSwarm()
	sw.content.putBytes(t, []byte("ok\n"))
	sw.startFakeWorker(t, "inline-mismatch")
	sub := sw.startSubmitter(t, nil, "", SubmitterConfig{})
	id, err := sub.s.Submit(t.Context(), JobSpec{Module: sw.hostileModule(t), Args: []string{"ok"}})
	if err != nil {
		t.Fatal(err)
	}
	info := sub.wait(t, id, 30*time.Second)
	if info.State != JobDone {
		t.Fatalf("job: %s %s", info.State, info.Error)
	}
	evil := rawCID([]byte("evil\n"))
	waittest.For(t, "the output fetched by its CID", func() bool {
		_, keeps, _ := sw.content.localStats(evil)
		_, kept := sw.content.state(info.Units[0].Output)
		return keeps > 0 && kept
	})
	if _, _, pinned := sw.content.localStats(evil); pinned {
		t.Error("the inline bytes that are not the output were pinned")
	}
	if temp, kept := sw.content.state(evil); temp != 0 || kept {
		t.Errorf("the inline bytes that are not the output: %d holds, kept %v; want released", temp, kept)
	}
}
