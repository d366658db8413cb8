package gateway

import (
	"context"
	"errors"
	"net/http"

	bgw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/namesys"
	"github.com/ipfs/boxo/path"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// errNoNames is what any IPNS name or DNSLink resolves to: out of scope.
var errNoNames = bgw.NewErrorStatusCode(errors.New("IPNS and DNSLink are not supported by this gateway: use /ipfs/CID"), http.StatusNotImplemented)

// noNames is a namesys that resolves nothing, so that boxo builds no DNS
// resolver of its own and /ipns/ paths are a 501.
type noNames struct{}

func (noNames) Resolve(context.Context, path.Path, ...namesys.ResolveOption) (namesys.Result, error) {
	return namesys.Result{}, errNoNames
}

func (noNames) ResolveAsync(context.Context, path.Path, ...namesys.ResolveOption) <-chan namesys.AsyncResult {
	ch := make(chan namesys.AsyncResult, 1)
	ch <- namesys.AsyncResult{Err: errNoNames}
	close(ch)
	return ch
}

func (noNames) Publish(context.Context, crypto.PrivKey, path.Path, ...namesys.PublishOption) error {
	return errNoNames
}
