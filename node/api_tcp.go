package node

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/enxame/enxame/node/control"
	"github.com/enxame/enxame/node/dashboard"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// APITokenFile is the file in the home holding the token the HTTP API
// asks for on TCP (mode 0600).
const APITokenFile = "api.token"

// apiTokenBytes is the token's entropy: 32 random bytes, written as hex.
const apiTokenBytes = 32

// APIToken returns the home's API token, creating it (mode 0600) when the
// home has none. `enxame init`, the daemon's first start and `enxame api
// token` all go through it, so whichever runs first creates the token.
func APIToken(home string) (string, error) {
	path := filepath.Join(home, APITokenFile)
	data, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(data))
		if tok == "" {
			return "", fmt.Errorf("api token %s is empty: remove it to make a new one", path)
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read api token: %w", err)
	}
	tok, err := newAPIToken()
	if err != nil {
		return "", err
	}
	if err := writeFileExclusive(path, []byte(tok+"\n"), 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) { // made meanwhile by another process
			return APIToken(home)
		}
		return "", fmt.Errorf("write api token: %w", err)
	}
	return tok, nil
}

func newAPIToken() (string, error) {
	b := make([]byte, apiTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make api token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// apiListenAddr turns api.listen (a multiaddr such as
// /ip4/127.0.0.1/tcp/5001) into a TCP address for net.Listen.
func apiListenAddr(s string) (string, error) {
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		return "", fmt.Errorf("malformed multiaddr %q: %w", s, err)
	}
	network, addr, err := manet.DialArgs(m)
	if err != nil || !strings.HasPrefix(network, "tcp") {
		return "", fmt.Errorf("%q: want /ip4/ADDR/tcp/PORT or /ip6/ADDR/tcp/PORT", s)
	}
	return addr, nil
}

// listenAPI binds the TCP API listener of cfg.API.Listen.
func listenAPI(listen string) (net.Listener, error) {
	addr, err := apiListenAddr(listen)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on API address %s: %w", listen, err)
	}
	return ln, nil
}

// openAPI binds the API's unix socket (with a home, or an absolute
// api_socket) and its TCP listener (api.listen), and builds the server
// both serve. With a home the token is the home's (APIToken); an
// ephemeral node serving TCP makes a fresh one.
func (n *Node) openAPI() error {
	var err error
	if n.cfg.Home != "" {
		if n.apiToken, err = APIToken(n.cfg.Home); err != nil {
			return err
		}
	}
	if path := n.socketPath(); path != "" {
		if n.apiLn, err = listenUnix(path); err != nil {
			return err
		}
		n.apiPath = path
	}
	if n.cfg.API.Listen != "" {
		if n.apiToken == "" {
			if n.apiToken, err = newAPIToken(); err != nil {
				return err
			}
		}
		if n.apiTCP, err = listenAPI(n.cfg.API.Listen); err != nil {
			return err
		}
	}
	if n.apiLn == nil && n.apiTCP == nil {
		return nil
	}
	n.api = control.NewServer(backend{n}, n.baseLog)
	n.registerShareAPI(n.api)
	n.registerComputeAPI(n.api)
	n.registerRepoAPI(n.api)
	n.registerTransfersAPI(n.api)
	n.registerSearchAPI(n.api)
	n.api.Handle("GET "+control.PathMetrics, n.metricsHandler())
	dashboard.Register(n.api)
	return nil
}

// APIAddr is the multiaddr the TCP API listens on (its port resolved), or
// "" when there is none.
func (n *Node) APIAddr() string {
	if n.apiTCP == nil {
		return ""
	}
	m, err := manet.FromNetAddr(n.apiTCP.Addr())
	if err != nil {
		return ""
	}
	return m.String()
}

// APIToken is the token the TCP API asks for: the home's, or a fresh one
// for an ephemeral node. Empty when the node has neither a home nor a TCP
// API.
func (n *Node) APIToken() string { return n.apiToken }

// APIDialAddr turns the address of a daemon's TCP API, a multiaddr
// (/ip4/127.0.0.1/tcp/5001) or host:port, into host:port.
func APIDialAddr(s string) (string, error) {
	if strings.HasPrefix(s, "/") {
		return apiListenAddr(s)
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		return "", fmt.Errorf("%q: want a multiaddr like /ip4/127.0.0.1/tcp/5001 or HOST:PORT", s)
	}
	return s, nil
}

// ReadAPIToken returns the home's API token without creating one.
func ReadAPIToken(home string) (string, error) {
	path := filepath.Join(home, APITokenFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read api token: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("api token %s is empty", path)
	}
	return tok, nil
}
