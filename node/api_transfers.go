package node

import (
	"net/http"

	"github.com/enxame/enxame/node/control"
)

// transferList is the share service's fetches in progress as API types.
func (n *Node) transferList() []control.Transfer {
	out := []control.Transfer{}
	for _, t := range n.share.Transfers() {
		out = append(out, control.Transfer{ID: t.ID, CID: t.Root.String(), Started: t.Started,
			Progress: fetchEvent("progress", t.Progress)})
	}
	return out
}

// registerTransfersAPI adds GET /api/v1/transfers.
func (n *Node) registerTransfersAPI(s *control.Server) {
	s.Handle("GET "+control.PathTransfers, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Reply(w, r, n.transferList(), nil)
	}))
}
