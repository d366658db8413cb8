package share

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/waittest"
	blocks "github.com/ipfs/go-block-format"
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
		// Kill it in the middle of the next Add, at a varying point (any
		// point will do: the checks below hold wherever the kill lands).
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

const putChildEnv = "ENXAME_SHARE_PUT_CHILD"

// TestPutChild is the child process of TestPutSurvivesKill: when the
// environment names a store, it stores putChildBlocks blocks with PutMany,
// 10 at a time as a fetch does, prints "stored", and waits to be killed.
// Run directly, it does nothing.
func TestPutChild(t *testing.T) {
	dir := os.Getenv(putChildEnv)
	if dir == "" {
		return
	}
	s, err := OpenStore(StoreConfig{Dir: dir}, StoreDeps{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	bs := putChildData()
	for i := 0; i < len(bs); i += 10 {
		if err := s.PutMany(t.Context(), bs[i:min(i+10, len(bs))]); err != nil {
			fmt.Println("put:", err)
			os.Exit(2)
		}
	}
	// Wait for the timer-driven sync (indexSyncEvery after the first Put)
	// to have run, not for a wall-clock time (issue 16): once the timer is
	// disarmed the sync holds closeMu for reading, so taking it for writing
	// waits until the sync is done. Nothing here syncs by itself.
	waittest.For(t, "the index sync timer to fire", func() bool {
		s.smu.Lock()
		defer s.smu.Unlock()
		return s.syncTimer == nil
	})
	s.closeMu.Lock()
	s.closeMu.Unlock()
	fmt.Println("stored")
	// Wait to be killed: stdin is the parent's pipe, at EOF only if the
	// parent is gone.
	io.Copy(io.Discard, os.Stdin)
	os.Exit(3)
}

// putChildBlocks is few enough that their index entries fit in pebble's
// 32 KiB log buffer, which only a sync writes out.
const putChildBlocks = 100

func putChildData() []blocks.Block {
	bs := make([]blocks.Block, putChildBlocks)
	for i := range bs {
		bs[i] = blocks.NewBlock(randomBytes(uint64(i), 1000+i))
	}
	return bs
}

// TestPutSurvivesKill: blocks stored with PutMany (no StoreConfig.Sync, as
// a fetch stores them) by a process killed with SIGKILL once the index
// sync timer has run (indexSyncEvery after the Put) are all there when the
// store is reopened, so a get resumes from them.
func TestPutSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestPutChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), putChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "stored" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q, want stored", sc.Text())
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	s := newTestStore(t, StoreConfig{Dir: dir})
	missing := 0
	for _, b := range putChildData() {
		got, err := s.Get(t.Context(), b.Cid())
		if err != nil {
			missing++
			continue
		}
		if !bytes.Equal(got.RawData(), b.RawData()) {
			t.Errorf("block %s reads back different bytes", b.Cid())
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d blocks stored a second before the kill are gone", missing, putChildBlocks)
	}
}
