// Package dashboard is the daemon's web dashboard: one plain HTML page, a
// stylesheet and a small vanilla JS file, embedded in the binary (no CDN, no
// build step) and served on the TCP API address at "/". The page itself is
// public; every datum it shows comes from the HTTP API under /api/v1/ with
// the bearer token, which the page asks its user for once (`enxame api
// token` prints it) and keeps in the browser's localStorage.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/enxame/enxame/node/control"
)

//go:embed static
var files embed.FS

// Static are the dashboard's files: index.html, app.js and style.css.
var Static, _ = fs.Sub(files, "static")

// Paths the dashboard is served on.
const (
	PathIndex  = "/"
	PathAssets = "/dashboard/"
)

// csp keeps the page to its own files: no inline script, no third party.
const csp = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Handler serves the page at / and its assets under /dashboard/.
func Handler() http.Handler {
	mux := http.NewServeMux()
	register(mux.Handle)
	return mux
}

// Register adds the dashboard's public routes to s (before it serves).
func Register(s *control.Server) { register(s.HandlePublic) }

func register(handle func(string, http.Handler)) {
	assets := http.StripPrefix(PathAssets, http.FileServerFS(Static))
	handle("GET "+PathIndex+"{$}", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, Static, "index.html")
	})))
	handle("GET "+PathAssets, secure(assets))
}

func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}
