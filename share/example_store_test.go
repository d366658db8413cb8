package share_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/enxame/enxame/share"
)

// Example_store adds bytes the way `ipfs add --cid-version=1 --raw-leaves`
// does, reads them back and garbage-collects after unpinning.
func Example_store() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "enxame-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := share.OpenStore(share.StoreConfig{Dir: dir}, share.StoreDeps{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	res, err := s.AddReader(ctx, bytes.NewReader([]byte("hello enxame\n")), "hello.txt", share.AddOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("root:", res.Root)

	f, err := s.Open(ctx, res.Root)
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	fmt.Printf("content: %q\n", b)

	if err := s.Unpin(ctx, res.Root); err != nil {
		log.Fatal(err)
	}
	gc, err := s.GC(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("removed:", gc.Removed)
	// Output:
	// root: bafkreify4o4kqdlgibnqunweeox3fh3yzfwtykkkw4zmszjtr3snh5zxom
	// content: "hello enxame\n"
	// removed: 1
}
