package share

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enxame/enxame/internal/kubotest"
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
)

// TestAddLargeDirectoryMatchesKubo: a directory whose links pass Kubo's
// 256 KiB threshold becomes a HAMT shard in both, with the same root
// (1200 links of about 240 bytes each: name plus CID).
func TestAddLargeDirectoryMatchesKubo(t *testing.T) {
	k := kubotest.Start(t)
	dir := filepath.Join(t.TempDir(), "big")
	pad := strings.Repeat("x", 200)
	for i := range 1200 {
		writeFile(t, dir, fmt.Sprintf("%s-%05d", pad, i), []byte(fmt.Sprint(i)))
	}
	want := k.Add(dir, "-r")
	s := newTestStore(t, StoreConfig{})
	res, err := s.Add(t.Context(), []string{dir}, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Root.String() != want {
		t.Errorf("Add(1200-entry dir) root = %s, Kubo = %s", res.Root, want)
	}
	nd, err := nodeGetter{s}.Get(t.Context(), res.Root)
	if err != nil {
		t.Fatal(err)
	}
	if fsn, err := ft.FSNodeFromBytes(nd.(*merkledag.ProtoNode).Data()); err != nil || fsn.Type() != ft.THAMTShard {
		t.Errorf("root of the 1200-entry dir is not a HAMT shard (%v)", err)
	}
	ents, err := s.List(t.Context(), res.Root)
	if err != nil || len(ents) != 1200 {
		t.Errorf("List(HAMT dir) = %d entries, %v; want 1200", len(ents), err)
	}
}
