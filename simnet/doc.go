// Package simnet runs many real enxame nodes (node.New: DHT, share, compute
// submitter) in one process on a simulated network, and measures them.
//
// The network is go-libp2p's QUIC transport over github.com/marcopolo/simnet
// (the x/simlibp2p approach): every node is a real libp2p host whose UDP
// socket is a simulated endpoint. Each node sits in a region; the one-way
// latency of a packet is the latency between the two regions plus a stable
// per-pair offset, each node's uplink and downlink have a bandwidth cap, and
// a node's uplink may drop a fraction of its packets. Nodes can leave (their
// host closes) and new nodes can join during a scenario (churn).
//
// For thousands of nodes, Config.Tier = TierLight builds each node as
// enxame's DHT router alone on a host without transport: kad-dht's messages
// go through its custom message sender to the remote node's real stream
// handler after the link's latency (light.go). Lookups, tables and handlers
// are kad-dht's own code at ~1/20 of a full node's memory; only the DHT
// scenarios run on light nodes.
//
// Scenarios run inside a testing/synctest bubble, so time is virtual: a
// lookup that crosses three continents takes hundreds of milliseconds of
// simulated time and almost no wall time. In a test call synctest.Test; in a
// program (the CLI, bench/simnet) call Bubble. Everything random (placement,
// identities, workloads, churn) comes from Config.Seed.
//
// simnet may import node, dht and share; nothing imports simnet but cli and
// bench.
package simnet
