// Package share is enxame's content-addressed file sharing: the block store on
// disk, import of files and directories into UnixFS DAGs that match Kubo's
// CIDs, pins, garbage collection with holds, CAR import and export, local
// reads (cat, ls, get) and Bitswap for IPFS interop; and the multi-source
// exchange with other enxame peers.
//
// # Storage and import
//
// A [Store] keeps blocks in append-only pack files indexed by multihash in a
// pebble database (see DESIGN.md for the measurements behind that choice). It
// implements boxo's blockstore.Blockstore, so Bitswap and the exchange store
// and serve blocks through it. [Store.Add] imports files, directories and
// readers with a parallel builder whose DAG is byte-identical to boxo's
// balanced layout, so that `ipfs add --cid-version=1 --raw-leaves` prints the
// same root CID. Pins ([Store.Pin]) are recursive and persistent; [Store.GC]
// removes every block not reachable from a pin and not held ([Store.Hold]) by
// an operation in progress. A write that would take the store past its quota
// ([StoreConfig.MaxBytes]) runs such a GC first and fails with
// [ErrStoreFull] when pinned and held blocks alone fill it. [Store.ExportCAR] and [Store.ImportCAR] speak CAR
// v1 (and read v2). [Reader] reads files and directories through any
// [BlockGetter], the local store by default.
//
// # The service
//
// A [Service] is what one peer does with all of that: it adds and announces
// content, shares back what it fetches ([ServiceConfig.Provide]), reprovides
// (its retry policy is the pure core in share/provide), serves blocks, and
// fetches DAGs with the Bitswap fallback (fallback.go), to a path
// ([Service.Get]) or as a stream ([Service.OpenStream]). Every fetch walks
// a DAG through one walker ([Walk], walk.go) or the exchange's fetch loop,
// which shares its link decoding and seen set. node only builds a Service
// and wires the control API to it.
//
// The package imports boxo, go-cid, go-car and libp2p core only; it never
// imports node, cli, dht or compute: node passes in what share needs through
// the small interfaces declared here (for example [ProviderFinder]).
package share
