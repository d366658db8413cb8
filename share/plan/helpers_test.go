package plan

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// t0 is the virtual epoch of every test.
var t0 = time.Unix(1_000_000, 0)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

var (
	namesMu sync.Mutex
	names   = map[cid.Cid]string{}
	keys    = map[string]cid.Cid{}
)

// key returns a deterministic raw CIDv1 for a name, and remembers the name
// for printing.
func key(name string) cid.Cid {
	namesMu.Lock()
	defer namesMu.Unlock()
	if c, ok := keys[name]; ok {
		return c
	}
	h, err := mh.Sum([]byte(name), mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	c := cid.NewCidV1(cid.Raw, h)
	keys[name] = c
	names[c] = name
	return c
}

// name returns the name a CID was made from, or its string form.
func name(c cid.Cid) string {
	namesMu.Lock()
	defer namesMu.Unlock()
	if n, ok := names[c]; ok {
		return n
	}
	return c.String()
}

func keyList(ns ...string) []cid.Cid {
	out := make([]cid.Cid, len(ns))
	for i, n := range ns {
		out[i] = key(n)
	}
	return out
}

func nameList(cs []cid.Cid) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = name(c)
	}
	return strings.Join(s, " ")
}

// fmtAction renders an action on one line, naming keys by name.
func fmtAction(a Action) string {
	switch a := a.(type) {
	case RequestBlocks:
		return fmt.Sprintf("request %s %s", string(a.Peer), nameList(a.Keys))
	case CancelBlocks:
		return fmt.Sprintf("cancel %s %s", string(a.Peer), nameList(a.Keys))
	case DropPeer:
		return fmt.Sprintf("drop %s %s", string(a.Peer), a.Reason)
	case Done:
		return "done"
	case Stuck:
		return fmt.Sprintf("stuck %d", a.Missing)
	}
	return fmt.Sprintf("unknown action %T", a)
}

func fmtActions(as []Action) []string {
	var out []string
	for _, a := range as {
		out = append(out, fmtAction(a))
	}
	return out
}
