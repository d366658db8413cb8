package node

import (
	"context"
	"net/http"

	"github.com/enxame/enxame/node/control"
	"github.com/enxame/enxame/share"
)

// registerSearchAPI adds the keyword-search routes to the control API.
func (n *Node) registerSearchAPI(s *control.Server) {
	s.Handle("POST "+control.PathPublish, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req control.PublishRequest
		if !s.Decode(w, r, &req) {
			return
		}
		c, err := parseCID(req.CID)
		if err != nil {
			s.Reply(w, r, nil, err)
			return
		}
		timeout := req.Timeout
		if timeout <= 0 {
			timeout = defaultPublishTimeout
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		res, err := n.Publish(ctx, c, req.Name, req.Keywords, req.Description)
		s.Reply(w, r, res, err)
	}))
	s.Handle("POST "+control.PathSearch, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req control.SearchRequest
		if !s.Decode(w, r, &req) {
			return
		}
		if _, err := share.ParseQuery(req.Words); err != nil {
			err = apiError(err)
			s.Reply(w, r, nil, err)
			return
		}
		sw := control.NewStreamWriter(w)
		err := n.SearchFiles(r.Context(), req.Words, req.Timeout, req.Limit, func(ev control.SearchEvent) { sw.Send(ev) })
		if err != nil {
			sw.Send(control.SearchEvent{Event: "error", Error: err.Error()})
		}
	}))
}
