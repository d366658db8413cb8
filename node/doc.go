// Package node is one enxame peer and the composition root: it owns the
// identity, the home directory, the config, the libp2p host and its
// lifecycle, and wires the DHT (and the share and compute services) into
// it. It also serves the local control API (package node/control).
//
// Nothing in node reads flags, the environment or globals: cli (or a test,
// or simnet) fills a Config and calls New, then Run, then Close.
//
// node may import dht, share, compute and libp2p; it must not import cli.
package node
