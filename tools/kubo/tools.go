//go:build tools

// Package kubo pins the Kubo (IPFS) version that enxame's interop tests and
// baselines run against. It is a separate module so that Kubo's large
// dependency graph never enters enxame's own go.mod, and so that `go test ./...`
// at the repository root never descends into it.
//
// Kubo's own go.mod replaces go-libp2p with a fork that the module proxy does
// not serve, so `go install github.com/ipfs/kubo/cmd/ipfs@v0.43.1` is refused.
// Replace directives of a dependency are ignored, so requiring Kubo here
// together with an upstream go-libp2p builds it. scripts/build-kubo.sh does so:
//
//	cd tools/kubo && GOFLAGS=-mod=mod go build -o BIN github.com/ipfs/kubo/cmd/ipfs
package kubo

import _ "github.com/ipfs/kubo/cmd/ipfs"
