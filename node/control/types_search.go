package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Routes of keyword search.
const (
	PathPublish = APIPrefix + "/publish" // POST PublishRequest → PublishResult
	PathSearch  = APIPrefix + "/search"  // POST SearchRequest → NDJSON SearchEvent
)

// PublishRequest asks the daemon to announce a pinned file or directory
// under the keywords of its name (and Keywords) until it is unpinned.
type PublishRequest struct {
	CID string `json:"cid"`
	// Name is what the file is called (its keywords come from it).
	Name string `json:"name,omitempty"`
	// Keywords are extra keywords (normalised like the name's).
	Keywords    []string `json:"keywords,omitempty"`
	Description string   `json:"description,omitempty"`
	// Timeout bounds the first publication; 0 means the daemon's default.
	Timeout time.Duration `json:"timeout_ns,omitempty"`
}

// PublishResult is what a publish announced: the keywords, and for each
// how many peers took its record. Deferred says none did yet (no peers):
// the daemon publishes again as soon as it can.
type PublishResult struct {
	CID      string         `json:"cid"`
	Name     string         `json:"name"`
	Size     uint64         `json:"size"`
	Type     string         `json:"type"`
	Keywords []string       `json:"keywords"`
	Stored   map[string]int `json:"stored"`
	Deferred bool           `json:"deferred,omitempty"`
}

// SearchRequest asks the swarm for files whose names hold every word.
type SearchRequest struct {
	Words []string `json:"words"`
	// Timeout is the search's deadline; 0 means the daemon's default (30s).
	Timeout time.Duration `json:"timeout_ns,omitempty"`
	// Limit caps the results of the "done" event; 0 means 100.
	Limit int `json:"limit,omitempty"`
}

// SearchResult is one file found.
type SearchResult struct {
	CID         string `json:"cid"`
	Name        string `json:"name"`
	Size        uint64 `json:"size"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	// Publishers is how many distinct peers published it; Providers how
	// many provide it (-1: not checked); Peers how many did either.
	Publishers int `json:"publishers"`
	Providers  int `json:"providers"`
	Peers      int `json:"peers"`
	// NameMatch is how many of the query's keywords its name holds.
	NameMatch int `json:"name_match"`
}

// SearchEvent is one NDJSON event of a search: "result" (Result: a file
// found, or found again by another publisher, as records arrive), then
// "done" (Results, best first; Lookup, the keyword looked up; Queried and
// Answered, peers) or "error" (Error).
type SearchEvent struct {
	Event    string         `json:"event"`
	Result   *SearchResult  `json:"result,omitempty"`
	Results  []SearchResult `json:"results,omitempty"`
	Lookup   string         `json:"lookup,omitempty"`
	Keywords []string       `json:"keywords,omitempty"`
	Queried  int            `json:"queried,omitempty"`
	Answered int            `json:"answered,omitempty"`
	Error    string         `json:"error,omitempty"`
}

// Publish announces a pinned CID under keywords.
func (c *Client) Publish(ctx context.Context, req PublishRequest) (PublishResult, error) {
	var out PublishResult
	return out, c.do(ctx, http.MethodPost, PathPublish, req, &out)
}

// Search runs a search, calling fn with each event as it arrives; it
// returns fn's first error, or an error for an "error" event.
func (c *Client) Search(ctx context.Context, req SearchRequest, fn func(SearchEvent) error) error {
	return c.Stream(ctx, http.MethodPost, PathSearch, req, func(line []byte) error {
		var ev SearchEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("decode search event: %w", err)
		}
		if ev.Event == "error" {
			return errors.New(ev.Error)
		}
		return fn(ev)
	})
}
