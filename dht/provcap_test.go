package dht

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/enxame/enxame/internal/waittest"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multihash"
)

// TestProviderRecordsCappedPerPeer pins issue 11, finding 6: one peer
// sending 10,000 ADD_PROVIDER records to a real kad-dht server on
// loopback gets at most MaxProviderRecordsPerPeer of them stored; another
// peer's records are still stored.
func TestProviderRecordsCappedPerPeer(t *testing.T) {
	const capPerPeer, sent = 100, 10000
	store := dssync.MutexWrap(ds.NewMapDatastore())
	cfg := silentConfig()
	cfg.MaxProviderRecordsPerPeer = capPerPeer
	ha := newHost(t)
	ra, err := New(cfg, Deps{Host: ha, Datastore: store})
	if err != nil {
		t.Fatal(err)
	}
	// 10,000 requests in a row on a loaded machine: a generous request
	// timeout, so that a slow answer does not mute the server; the cap is
	// what is tested, not the speed.
	loaded := silentConfig()
	loaded.RequestTimeout = time.Minute
	loaded.LookupTimeout = 2 * time.Minute
	attacker, hb := newRouter(t, loaded)
	honest, hc := newRouter(t, loaded)
	connect(t, hb, ha)
	connect(t, hc, ha)

	key := func(i int) []byte {
		mh, _ := multihash.Sum([]byte(fmt.Sprint(i)), multihash.SHA2_256, -1)
		return cid.NewCidV1(cid.Raw, mh).Hash()
	}
	announce := func(r *Router, from peer.AddrInfo, k []byte) error {
		m := pb.NewMessage(pb.Message_ADD_PROVIDER, k, 0)
		m.ProviderPeers = pb.RawPeerInfosToPBPeers([]peer.AddrInfo{from})
		return r.snd.SendMessage(t.Context(), ha.ID(), m)
	}
	bi := peer.AddrInfo{ID: hb.ID(), Addrs: hb.Addrs()}
	for i := range sent {
		if err := announce(attacker, bi, key(i)); err != nil {
			t.Fatalf("ADD_PROVIDER %d: %v", i, err)
		}
	}
	ci := peer.AddrInfo{ID: hc.ID(), Addrs: hc.Addrs()}
	for i := range 3 {
		if err := announce(honest, ci, key(i)); err != nil {
			t.Fatalf("honest ADD_PROVIDER %d: %v", i, err)
		}
	}
	// ADD_PROVIDER has no answer: wait until the honest records are in.
	waittest.For(t, "the honest peer's records stored", func() bool {
		for i := range 3 {
			ps, err := ra.Kad().ProviderStore().GetProviders(t.Context(), key(i))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(ps, func(ai peer.AddrInfo) bool { return ai.ID == hc.ID() }) {
				return false
			}
		}
		return true
	})
	// Closing flushes the provider manager's write buffer to the store.
	if err := ra.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := store.Query(context.Background(), dsq.Query{Prefix: providersPrefix, KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for r := range res.Next() {
		if _, p, ok := splitProvKey(r.Key); ok {
			count[p]++
		}
	}
	res.Close()
	b32 := func(p peer.ID) string { _, s, _ := splitProvKey(providersPrefix + "k/" + encodePeer(p)); return s }
	if got := count[b32(hb.ID())]; got > capPerPeer || got == 0 {
		t.Errorf("stored %d records of the peer that sent %d, want 1..%d", got, sent, capPerPeer)
	}
	if got := count[b32(hc.ID())]; got != 3 {
		t.Errorf("stored %d records of the honest peer, want 3", got)
	}
}
