package control

import (
	"context"
	"regexp"
	"strings"
)

// opKey is the context key of a request's operation (WithOp).
type opKey struct{}

type opInfo struct {
	op, subject string
	aliases     []string
}

// WithOp returns ctx carrying the operation a request performs ("ls",
// "pin add") and its subject (the CID or path as the client wrote it; ""
// for none); aliases are other spellings of the subject the server's own
// errors use (the CID in its default base). Reply and Message then word the request's errors as one line
// "op subject: message" that names the op and subject once, so a client
// prints the message as it is.
func WithOp(ctx context.Context, op, subject string, aliases ...string) context.Context {
	return context.WithValue(ctx, opKey{}, opInfo{op, subject, aliases})
}

// Message is err's message for the client of the request whose context is
// ctx: worded with the request's op and subject (see WithOp) when it has
// them, else err's own text.
func Message(ctx context.Context, err error) string {
	oi, ok := ctx.Value(opKey{}).(opInfo)
	if !ok {
		return err.Error()
	}
	return cleanMessage(oi.op, oi.subject, oi.aliases, err.Error())
}

// describe returns err with its message worded by Message, keeping its
// code (CodedError) and its chain.
func describe(ctx context.Context, err error) error {
	msg := Message(ctx, err)
	if msg == err.Error() {
		return err
	}
	return &describedError{msg: msg, err: err}
}

type describedError struct {
	msg string
	err error
}

func (e *describedError) Error() string { return e.msg }
func (e *describedError) Unwrap() error { return e.err }

// sharePrefix matches the package prefix "share: " at the start of a
// context segment.
var sharePrefix = regexp.MustCompile(`(^|: |\()share: `)

// cleanMessage returns "op subject: msg" with msg's contexts that repeat op
// or subject removed. The daemon's errors carry the contexts of the layers
// they went through ("share: fetch CID: … share: bitswap get CID: …");
// the message names the CID (or path) once in front, so the segments
// naming it again are dropped, with the package prefix "share: ".
func cleanMessage(op, subject string, aliases []string, msg string) string {
	m := sharePrefix.ReplaceAllString(msg, "$1")
	var names []string
	if subject != "" {
		names = append(names, subject)
		for _, a := range aliases {
			if a != "" && a != subject {
				names = append(names, a) // the daemon prints CIDs in their default base
			}
		}
	}
	for _, n := range names {
		// "fetch CID: ", "bitswap get CID: ", "CID: " at a segment's start.
		seg := regexp.MustCompile(`(^|: |\()(?:[a-z][a-z-]* ){0,3}` + regexp.QuoteMeta(n) + `: `)
		for {
			next := seg.ReplaceAllString(m, "$1")
			if next == m {
				break
			}
			m = next
		}
	}
	m = strings.TrimPrefix(m, op+": ")
	if m == "" {
		return op + ": " + msg
	}
	if subject == "" {
		if strings.HasPrefix(m, op+" ") {
			return m // the message names op and its subject: "add /x/y: …"
		}
		return op + ": " + m
	}
	m = strings.TrimPrefix(m, op+" ")
	for _, n := range names {
		if strings.Contains(m, n) {
			return op + ": " + m // "pin rm: CID is not pinned"
		}
	}
	return op + " " + subject + ": " + m
}
