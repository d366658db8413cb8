package kubo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// defaultAddArgs are the flags Add, AddReader and AddBytes pass unless the
// caller gives a flag of the same name: the options under which Kubo and
// enxame produce the same CID for the same bytes (CIDv1, raw leaves; both
// chunk at 256 KiB by default).
var defaultAddArgs = []string{"--cid-version=1", "--raw-leaves"}

// Run runs `ipfs --api=<this daemon> args...` with the given stdin and stdout
// (nil for none). The error carries the command and Kubo's stderr, and wraps
// ctx.Err() when ctx ended the command.
func (n *Node) Run(ctx context.Context, stdin io.Reader, stdout io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, n.bin, append([]string{"--api=" + n.api}, args...)...)
	cmd.Env = n.env
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	stderr := newTail(8 << 10)
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	msg := stderr.String()
	if msg == "" {
		msg = "(no stderr)"
	}
	if ctx.Err() != nil {
		return fmt.Errorf("kubo: ipfs %s: %w (%v): %s", strings.Join(args, " "), ctx.Err(), err, msg)
	}
	return fmt.Errorf("kubo: ipfs %s: %v: %s", strings.Join(args, " "), err, msg)
}

// Output runs the command like Run and returns its stdout.
func (n *Node) Output(ctx context.Context, args ...string) ([]byte, error) {
	var out bytes.Buffer
	err := n.Run(ctx, nil, &out, args...)
	return out.Bytes(), err
}

// ID returns the daemon's peer ID and the multiaddrs it listens on, each
// ending in /p2p/<peer ID> so a libp2p host can dial it.
func (n *Node) ID(ctx context.Context) (peerID string, addrs []string, err error) {
	out, err := n.Output(ctx, "id")
	if err != nil {
		return "", nil, err
	}
	var id struct {
		ID        string
		Addresses []string
	}
	if err := json.Unmarshal(out, &id); err != nil {
		return "", nil, fmt.Errorf("kubo: ipfs id: parse %q: %w", out, err)
	}
	return id.ID, id.Addresses, nil
}

// Add adds the file or directory at path (`ipfs add`) and returns the root
// CID. It passes --cid-version=1 --raw-leaves unless args set those flags.
// Pass "-r" for a directory, and any other `ipfs add` flags, in args.
func (n *Node) Add(ctx context.Context, path string, args ...string) (string, error) {
	return n.add(ctx, nil, append(addArgs(args), path))
}

// AddReader adds the bytes read from r as one file and returns its CID, like
// Add.
func (n *Node) AddReader(ctx context.Context, r io.Reader, args ...string) (string, error) {
	return n.add(ctx, r, addArgs(args))
}

// AddBytes adds b as one file and returns its CID, like Add.
func (n *Node) AddBytes(ctx context.Context, b []byte, args ...string) (string, error) {
	return n.AddReader(ctx, bytes.NewReader(b), args...)
}

func (n *Node) add(ctx context.Context, stdin io.Reader, args []string) (string, error) {
	var out bytes.Buffer
	if err := n.Run(ctx, stdin, &out, args...); err != nil {
		return "", err
	}
	fields := strings.Fields(out.String())
	if len(fields) == 0 {
		return "", fmt.Errorf("kubo: ipfs %s: printed no CID", strings.Join(args, " "))
	}
	return fields[len(fields)-1], nil
}

// addArgs builds `add --quieter`, the defaultAddArgs that args do not
// override, and args.
func addArgs(args []string) []string {
	full := []string{"add", "--quieter"}
	for _, d := range defaultAddArgs {
		name, _, _ := strings.Cut(d, "=")
		overridden := false
		for _, a := range args {
			if a == name || strings.HasPrefix(a, name+"=") {
				overridden = true
			}
		}
		if !overridden {
			full = append(full, d)
		}
	}
	return append(full, args...)
}

// Cat returns the content of the file at cid (`ipfs cat`), fetching blocks
// from connected peers as needed.
func (n *Node) Cat(ctx context.Context, cid string) ([]byte, error) {
	var out bytes.Buffer
	err := n.CatTo(ctx, cid, &out)
	return out.Bytes(), err
}

// CatTo streams the content of the file at cid to w. When w is an *os.File
// Kubo's command line writes to it directly.
func (n *Node) CatTo(ctx context.Context, cid string, w io.Writer) error {
	return n.Run(ctx, nil, w, "cat", cid)
}

// Get writes the file or directory at cid to dst (`ipfs get -o dst`).
func (n *Node) Get(ctx context.Context, cid, dst string) error {
	_, err := n.Output(ctx, "get", "--progress=false", "-o", dst, cid)
	return err
}

// PinAdd pins cid recursively (`ipfs pin add`), which fetches the whole DAG.
func (n *Node) PinAdd(ctx context.Context, cid string) error {
	_, err := n.Output(ctx, "pin", "add", "--progress=false", cid)
	return err
}

// SwarmConnect connects the daemon to the peer at addr, a multiaddr ending
// in /p2p/<peer ID>.
func (n *Node) SwarmConnect(ctx context.Context, addr string) error {
	_, err := n.Output(ctx, "swarm", "connect", addr)
	return err
}

// SwarmPeers returns the daemon's connected peers, one multiaddr ending in
// /p2p/<peer ID> per connection.
func (n *Node) SwarmPeers(ctx context.Context) ([]string, error) {
	out, err := n.Output(ctx, "swarm", "peers")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}
