// Package control is the local control API of an enxame node: HTTP + JSON
// over a unix socket in the node's home (mode 0600), with NDJSON streams for
// long operations. The server side serves a Backend (implemented by node);
// the client side is what the CLI uses.
//
// Routes live under /api/v0/. Every request body is capped at
// MaxRequestBytes and decoded strictly (DecodeRequest). Errors come back as
// an Error body with a code.
//
// control imports only the standard library: it must not import node, dht,
// share, compute or cli.
package control
