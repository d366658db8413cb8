package share

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
)

const crashEnv = "ENXAME_SHARE_CRASH_CHILD"

// TestCrashChild is the child process of TestStoreSurvivesKill: when the
// environment names a store, it adds files into it forever, printing
// "seed root" after each Add returns. Run directly, it does nothing.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		return
	}
	s, err := OpenStore(StoreConfig{Dir: dir, PackSize: 4 << 20}, StoreDeps{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	first, _ := strconv.ParseUint(os.Getenv(crashEnv+"_SEED"), 10, 64)
	for seed := first; ; seed++ {
		res, err := s.AddReader(t.Context(), bytes.NewReader(randomBytes(seed, 3<<20+int(seed))), "f", AddOptions{ChunkSize: 64 << 10})
		if err != nil {
			fmt.Println("add:", err)
			os.Exit(2)
		}
		fmt.Printf("%d %s\n", seed, res.Root)
	}
}

// TestStoreSurvivesKill kills (SIGKILL) a process that is adding to a
// store at several points, then reopens the store: every Add that had
// returned reads back byte-exact and is pinned, and no stored block fails
// its hash (no torn block is ever visible).
func TestStoreSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	done := map[uint64]cid.Cid{}
	for round, after := range []int{1, 3, 4} {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, fmt.Sprintf("%s_SEED=%d", crashEnv, 1000*(round+1)))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for n < after && sc.Scan() {
			var seed uint64
			var root string
			if _, err := fmt.Sscanf(sc.Text(), "%d %s", &seed, &root); err != nil {
				t.Fatalf("round %d: child said %q", round, sc.Text())
			}
			done[seed] = cid.MustParse(root)
			n++
		}
		// Kill it in the middle of the next Add, at a varying point.
		time.Sleep(time.Duration(5+round*7) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() { // roots printed before the kill landed
			var seed uint64
			var root string
			if _, err := fmt.Sscanf(sc.Text(), "%d %s", &seed, &root); err == nil {
				done[seed] = cid.MustParse(root)
			}
		}
		cmd.Wait()
		if n < after {
			t.Fatalf("round %d: child printed %d roots before exiting, want %d", round, n, after)
		}
	}
	s := newTestStore(t, StoreConfig{Dir: dir})
	res, err := s.Verify(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Corrupt) != 0 {
		t.Errorf("Verify after kills: %d corrupt blocks %v, want none", len(res.Corrupt), res.Corrupt)
	}
	r := NewReader(ReaderConfig{}, s)
	for seed, root := range done {
		want := randomBytes(seed, 3<<20+int(seed))
		if got := catAll(t, t.Context(), r, root); !bytes.Equal(got, want) {
			t.Errorf("add %d (%s) after kills: %d bytes, want %d", seed, root, len(got), len(want))
		}
		if ok, _ := s.IsPinned(t.Context(), root); !ok {
			t.Errorf("add %d (%s) not pinned after kills", seed, root)
		}
	}
	t.Logf("%d adds completed across 3 kills, %d blocks verified", len(done), res.Checked)
}
