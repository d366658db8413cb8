// Package dht owns enxame's Kademlia DHT: it wraps go-libp2p-kad-dht with
// enxame's protocol prefix (/enxame/kad/1.0.0), the routing-table
// peer-diversity filter, bootstrap with retry and backoff, provide and find,
// and a read-only view of the routing table.
//
// The concrete type is *Router. share and compute never import this package:
// they declare the small interfaces they need and node hands them a *Router.
//
// dht must not import share, compute, node or cli.
package dht
