package node_test

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/enxame/enxame/compute"
	"github.com/enxame/enxame/examples/examplestest"
	"github.com/enxame/enxame/internal/nodetest"
	"github.com/enxame/enxame/node"
	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	"os"
)

// TestSwarmWordCount runs a word count split into 16 units on a 5-peer
// loopback swarm with everything real: hosts, DHT, share's block stores and
// exchange, sandbox pools; the reduced result must equal a native count.
func TestSwarmWordCount(t *testing.T) {
	size := 20 << 20
	if testing.Short() {
		size = 2 << 20
	}
	deps := node.Deps{SandboxCommand: nodetest.SandboxCommand(t), WasmCacheDir: nodetest.WasmCacheDir(t)}
	nodes := nodetest.Swarm(t, 5, deps, func(i int, cfg *node.Config, _ []*node.Node) {
		cfg.Compute.Disabled = false
		cfg.Compute.Slots = 1 + i%2
	})

	text := wordText(size)
	ctx := t.Context()
	sub := nodes[0]
	add := func(data []byte) share.AddResult {
		res, err := sub.AddReader(ctx, bytes.NewReader(data), "", share.AddOptions{})
		if err != nil {
			t.Fatalf("AddReader: %v", err)
		}
		return res
	}
	wc := add(readFile(t, examplestest.Build(t, "wordcount")))
	merge := add(readFile(t, examplestest.Build(t, "wordcount-merge")))
	input := add(text)

	start := time.Now()
	id, err := sub.Submitter().Submit(ctx, compute.JobSpec{
		Module: wc.Root, Inputs: []cid.Cid{input.Root},
		Split:  compute.Split{Kind: compute.SplitLines, N: 16},
		Reduce: merge.Root,
	})
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	info, err := sub.Submitter().Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if info.State != compute.JobDone {
		t.Fatalf("job %s: %s", info.State, info.Error)
	}
	perWorker := map[string]int{}
	for _, u := range info.Units {
		for _, r := range u.Receipts {
			perWorker[r.Worker.String()]++
		}
	}
	t.Logf("%d MiB word count in 16 units + reduce took %v; units per worker: %v", size>>20, time.Since(start).Round(time.Millisecond), perWorker)
	if len(perWorker) < 2 {
		t.Errorf("every unit ran on one worker (%v); want the job spread over the swarm", perWorker)
	}
	r, err := sub.Open(ctx, info.Output())
	if err != nil {
		t.Fatalf("open result %s: %v", info.Output(), err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatalf("read result: %v", err)
	}
	if want := nativeCount(string(text)); string(got) != want {
		t.Errorf("word count differs from the native count:\ngot  %.200q\nwant %.200q", got, want)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return data
}

// wordText makes size bytes of text in lines of words.
func wordText(size int) []byte {
	words := strings.Fields("enxame abelha mel colmeia flor sol Água rainha zangão operária cera pólen néctar favo")
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%s %s %s %d\n", words[i%len(words)], words[(i*7+3)%len(words)], words[(i*11+5)%len(words)], i%97)
	}
	return b.Bytes()
}

func nativeCount(s string) string {
	counts := map[string]int{}
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		counts[strings.Map(unicode.ToLower, w)]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s\t%d\n", k, counts[k])
	}
	return b.String()
}
