// Package control is the local control API of an enxame node: HTTP + JSON
// over a unix socket in the node's home (mode 0600), with NDJSON streams for
// long operations. The server side serves a Backend (implemented by node);
// the client side is what the CLI uses.
//
// The same API is served on TCP (enxame daemon --api, config api.listen),
// where every route but those registered with HandlePublic needs the
// node's token as "Authorization: Bearer TOKEN" (Server.ServeAuth).
//
// Routes live under /api/v1/ (APIPrefix) and are described by the OpenAPI 3
// document served at /api/v1/openapi.json (OpenAPI). Every JSON request
// body is capped at MaxRequestBytes and decoded strictly (DecodeRequest).
// Errors come back as an ErrorResponse with a stable code.
//
// control imports only the standard library: it must not import node, dht,
// share, compute or cli.
package control
