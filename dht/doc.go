// Package dht owns enxame's Kademlia DHT: it wraps go-libp2p-kad-dht with
// enxame's protocol prefix (/enxame/kad/1.0.0), the routing-table
// peer-diversity filter, bootstrap with retry and backoff, provide and find,
// and a read-only view of the routing table.
//
// The concrete type is *Router. share and compute never import this package:
// they declare the small interfaces they need and node hands them a *Router.
//
// # Silent peers
//
// A peer may accept DHT streams and never answer (overloaded, broken or
// hostile). kad-dht's own message sender waits 10s for an answer and then
// retries once, and a lookup cannot end while one of the closest peers is
// still being waited on, so a few silent peers push Provide and FindPeer
// past their callers' deadlines. The Router therefore installs its own
// sender (kad-dht's WithCustomMessageSender), which
//   - bounds every request to one peer by Config.RequestTimeout (default
//     3s) whatever the caller's deadline, so a lookup goes on without the
//     peer; kad-dht then drops the peer from the routing table, and so does
//     the sender for requests outside lookups;
//   - mutes a peer that timed out (a pure core, mute.go): requests to it
//     fail at once for Config.MuteMin, doubling on each further timeout up
//     to Config.MuteMax, so no later lookup of this node waits on it;
//   - opens one stream per message, so concurrent lookups never queue
//     behind one slow peer's stream.
//
// Provide bounds its closest-peers lookup by Config.LookupTimeout and stores
// the record on the closest peers found when it ends; FindPeer returns as
// soon as the host is connected to the target, cancelling queries in
// flight. Provide returns ErrNoPeers while the routing table is empty.
//
// dht must not import share, compute, node or cli.
package dht
