package control

import (
	"context"
	"net/http"
)

// RepoStat is the block store's use against its quota (PathRepoStat).
type RepoStat struct {
	// Path is the store's directory.
	Path string `json:"path"`
	// Bytes is the total size of the stored blocks and Blocks their number.
	Bytes  int64 `json:"bytes"`
	Blocks int64 `json:"blocks"`
	// Max is the quota in bytes (config storage.max).
	Max int64 `json:"max"`
	// PinnedBytes is the total size of the stored blocks pins reach, and
	// PinnedBlocks their number: what an automatic GC cannot remove.
	PinnedBytes  int64 `json:"pinned_bytes"`
	PinnedBlocks int   `json:"pinned_blocks"`
	// DiskFree is the free space of the store's file system in bytes; -1
	// when unknown.
	DiskFree int64 `json:"disk_free"`
}

// RepoStat returns the block store's use against its quota. It walks every
// pinned DAG, so it may take a while on a large store.
func (c *Client) RepoStat(ctx context.Context) (RepoStat, error) {
	var v RepoStat
	return v, c.do(ctx, http.MethodGet, PathRepoStat, nil, &v)
}
