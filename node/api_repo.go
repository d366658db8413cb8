package node

import (
	"context"
	"net/http"

	"github.com/enxame/enxame/node/control"
)

// registerRepoAPI adds the block store's routes to the control API.
func (n *Node) registerRepoAPI(s *control.Server) {
	s.Handle("GET "+control.PathRepoStat, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := n.RepoStat(r.Context())
		s.Reply(w, r, st, err)
	}))
}

// RepoStat reports the block store's use against its quota (storage.max).
// It walks every pinned DAG to count the pinned bytes.
func (n *Node) RepoStat(ctx context.Context) (control.RepoStat, error) {
	u := n.blocks.Usage()
	st := control.RepoStat{Path: u.Dir, Bytes: u.Bytes, Blocks: u.Blocks, Max: u.Max, DiskFree: u.DiskFree}
	var err error
	st.PinnedBytes, st.PinnedBlocks, err = n.blocks.PinnedBytes(ctx)
	return st, err
}
