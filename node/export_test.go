package node

import (
	"io"

	"github.com/enxame/enxame/share"
)

// FetchDone returns a channel closed when the fetch behind r, a reader
// from OpenStream, has ended.
func FetchDone(r io.ReadSeekCloser) <-chan struct{} { return r.(*share.FetchStream).Fetched() }

// APIRoutes returns the patterns the node's API server registered.
func (n *Node) APIRoutes() []string { return n.api.Routes() }
