package share_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/enxame/enxame/share"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
)

// staticFinder returns a fixed set of providers.
type staticFinder []peer.AddrInfo

func (f staticFinder) FindProviders(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo {
	ch := make(chan peer.AddrInfo, len(f))
	for _, ai := range f {
		ch <- ai
	}
	close(ch)
	return ch
}

// Example fetches a file that another peer added, through the exchange.
func Example_exchangeFetch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "enxame-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A provider: a host, a store holding the file, an exchange serving it.
	ph, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		log.Fatal(err)
	}
	defer ph.Close()
	pstore, err := share.OpenStore(share.StoreConfig{Dir: dir + "/provider"}, share.StoreDeps{})
	if err != nil {
		log.Fatal(err)
	}
	defer pstore.Close()
	f, err := os.CreateTemp(dir, "file")
	if err != nil {
		log.Fatal(err)
	}
	f.Write(make([]byte, 3<<20)) // 3 MiB of zeros
	f.Close()
	added, err := pstore.Add(ctx, []string{f.Name()}, share.AddOptions{})
	if err != nil {
		log.Fatal(err)
	}
	root := added.Roots[0]
	pex, err := share.NewExchange(share.ExchangeConfig{}, share.ExchangeDeps{Host: ph, Blockstore: pstore})
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pex.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// A fetcher whose finder knows the provider.
	fh, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		log.Fatal(err)
	}
	defer fh.Close()
	fstore, err := share.OpenStore(share.StoreConfig{Dir: dir + "/fetcher"}, share.StoreDeps{})
	if err != nil {
		log.Fatal(err)
	}
	defer fstore.Close()
	fex, err := share.NewExchange(share.ExchangeConfig{}, share.ExchangeDeps{
		Host:       fh,
		Blockstore: fstore,
		Finder:     staticFinder{{ID: ph.ID(), Addrs: ph.Addrs()}},
		Hold:       fstore.Hold,
	})
	if err != nil {
		log.Fatal(err)
	}
	var last share.Progress
	if err := fex.Fetch(ctx, root, share.FetchOptions{Progress: func(p share.Progress) { last = p }}); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("done: %v, %d of %d bytes\n", last.Done, last.BytesDone, last.BytesTotal)
	// Output: done: true, 3146337 of 3146337 bytes
}
