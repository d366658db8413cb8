package node

import "io"

// FetchDone returns a channel closed when the fetch behind r, a reader
// from OpenStream, has ended.
func FetchDone(r io.ReadSeekCloser) <-chan struct{} { return r.(*streamReader).fetch.done }
