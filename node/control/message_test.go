package control

import (
	"testing"

	cid "github.com/ipfs/go-cid"
)

// TestCleanMessage pins the messages of share commands: each context once
// (issue 3: "ls X: ls X: share: ls X: …"); the daemon words them since issue 13. The daemon's messages are the ones
// it sent for a CID nobody provides.
func TestCleanMessage(t *testing.T) {
	const c = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
	// The same CID in base58btc: the daemon answers in base32.
	c58, err := cid.MustParse(c).StringOfBase('z') // multibase base58btc
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		op      string
		subject string
		msg     string
		want    string
	}{
		{
			name: "ls nobody provides", op: "ls", subject: c,
			msg:  "ls " + c + ": share: fetch " + c + ": 1 of 1 blocks unavailable after 30s (0 providers tried): share: no providers (and bitswap: get root " + c + ": share: bitswap get " + c + ": context deadline exceeded)",
			want: "ls " + c + ": 1 of 1 blocks unavailable after 30s (0 providers tried): no providers (and bitswap: context deadline exceeded)",
		},
		{
			name: "get deadline", op: "get", subject: c,
			msg:  "share: get " + c + ": share: open " + c + ": context deadline exceeded",
			want: "get " + c + ": context deadline exceeded",
		},
		{
			name: "cat in base58", op: "cat", subject: c58,
			msg:  "share: fetch " + c + ": context deadline exceeded",
			want: "cat " + c58 + ": context deadline exceeded",
		},
		{
			name: "no context", op: "export", subject: c,
			msg:  "unexpected EOF",
			want: "export " + c + ": unexpected EOF",
		},
		{
			name: "cid inside the message", op: "pin rm", subject: c,
			msg:  c + " is not pinned",
			want: "pin rm: " + c + " is not pinned",
		},
		{
			name: "add repeats add", op: "add",
			msg:  "share: add: ChunkSize must be in [1, 1048576], got 0",
			want: "add: ChunkSize must be in [1, 1048576], got 0",
		},
		{
			name: "add names its path", op: "add",
			msg:  "share: add /tmp/x/f: read: input/output error",
			want: "add /tmp/x/f: read: input/output error",
		},
		{
			name: "add option", op: "add",
			msg:  "chunk size 99999999: want 1..1048576",
			want: "add: chunk size 99999999: want 1..1048576",
		},
		{
			name: "import path", op: "import", subject: "x.car",
			msg:  "import: share: import car: unexpected EOF",
			want: "import x.car: car: unexpected EOF",
		},
		{
			name: "import stdin", op: "import", subject: "-",
			msg:  "import: share: import car: unexpected EOF",
			want: "import -: car: unexpected EOF",
		},
		{
			name: "a word before the cid is not a context", op: "get", subject: c,
			msg:  "timed out waiting for " + c + ": no providers",
			want: "get: timed out waiting for " + c + ": no providers",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cleanMessage(tt.op, tt.subject, []string{c}, tt.msg); got != tt.want {
				t.Errorf("cleanMessage(%q, %q, %q)\n got %q\nwant %q", tt.op, tt.subject, tt.msg, got, tt.want)
			}
		})
	}
}
