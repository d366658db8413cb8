package sandbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/enxame/enxame/internal/varint"
)

// The parent–child protocol; DESIGN.md describes it. A frame is a 4-byte
// big-endian body length followed by the body; a body is a kind byte
// followed by the message's fields, each an unsigned varint or a
// varint-length-prefixed byte string.

// protocolVersion is carried in the init and ready messages; parent and
// child must agree.
const protocolVersion = 2

// Message kinds.
const (
	kindInit   byte = 1 // parent → child, once
	kindReady  byte = 2 // child → parent, once
	kindRun    byte = 3 // parent → child
	kindResult byte = 4 // child → parent
)

// Size caps.
const (
	maxControlFrame = 64 << 10 // init and ready
	maxRunFrame     = 1 << 20  // run requests
	maxPathLen      = 4096
	maxKeyLen       = 1024
	maxArgs         = 4096
	maxArgLen       = 64 << 10
	maxDetailLen    = 2048
	maxUnitDirs     = 16
	maxIsolationLen = 1024
	// resultOverhead bounds a result frame's bytes beyond stdout and stderr.
	resultOverhead = 64 << 10
)

// frameChunk is the largest frame body read into a buffer allocated up
// front.
const frameChunk = 1 << 20

var (
	errFrameTooLarge = errors.New("frame over size cap")
	errTrailing      = errors.New("trailing bytes")
)

// readFrame reads one frame body of at most max bytes. It returns io.EOF
// only when r ends cleanly before a frame.
func readFrame(r io.Reader, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("read frame of %d bytes: %w (%d)", n, errFrameTooLarge, max)
	}
	if n <= frameChunk {
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("read frame body: %w", err)
		}
		return body, nil
	}
	// A large frame's memory is taken as its bytes arrive, so a peer that
	// announces more than it sends costs no more than it sent.
	var buf bytes.Buffer
	buf.Grow(frameChunk)
	if got, err := io.CopyN(&buf, r, int64(n)); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read frame body after %d of %d bytes: %w", got, n, err)
	}
	return buf.Bytes(), nil
}

// writeFrame writes body as one frame, in one Write call.
func writeFrame(w io.Writer, body []byte) error {
	if uint64(len(body)) > math.MaxUint32 {
		return errFrameTooLarge
	}
	buf := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	_, err := w.Write(append(buf, body...))
	return err
}

// initMsg configures a child; it is the first frame the parent sends.
type initMsg struct {
	Version     uint64
	CacheDir    string // on-disk compilation cache, or ""
	MemoryMiB   uint64 // the pool's memory cap: the most any unit may get
	MaxCompiled uint64 // compiled modules to keep in memory
	// UnitDirs are the directories units' modules and inputs live in: the
	// only ones, with CacheDir, a child may read where the OS can confine
	// it. Empty means no confinement of files.
	UnitDirs []string
	// MaxFileBytes caps the size of a file the child writes (RLIMIT_FSIZE),
	// or 0 for no cap.
	MaxFileBytes uint64
	// MaxCacheBytes caps the on-disk compilation cache, or 0 for no cap.
	MaxCacheBytes uint64
}

// readyMsg answers initMsg once the child can run units.
type readyMsg struct {
	Version uint64
	// Isolation lists the OS protections the child runs under, and why
	// others are off, in one line.
	Isolation string
}

// runMsg asks a child to run one unit.
type runMsg struct {
	ID         uint64
	ModuleKey  string
	ModulePath string
	InputDir   string
	Args       []string
	Env        []string
	Seed       uint64
	Limits     Limits // already clamped and defaulted by the parent
}

// resultMsg reports how a unit ended.
type resultMsg struct {
	ID         uint64
	Reason     Reason
	ExitCode   uint32
	Detail     string
	Stdout     []byte
	Stderr     []byte
	Compile    time.Duration // time spent getting the compiled module
	Exec       time.Duration // time spent instantiating and running it
	PeakMemory uint64        // bytes of linear memory at its largest
	Warm       bool          // the module was compiled in memory already
}

// encoder appends fields to a message body.
type encoder struct{ b []byte }

func (e *encoder) uint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) bytes(p []byte)  { e.uint(uint64(len(p))); e.b = append(e.b, p...) }
func (e *encoder) string(s string) { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) strings(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.string(s)
	}
}

// decoder reads fields from a message body. The first error sticks: later
// reads return zero values, and err reports it.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) kind(want byte) {
	if len(d.b) == 0 {
		d.fail("empty message")
		return
	}
	if d.b[0] != want {
		d.fail("message kind %d, want %d", d.b[0], want)
		return
	}
	d.b = d.b[1:]
}

func (d *decoder) uint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n, err := varint.Decode(d.b)
	if err != nil {
		d.fail("%s: %v", field, err)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// max bounds a uint field; values above it fail.
func (d *decoder) uintMax(field string, max uint64) uint64 {
	v := d.uint(field)
	if v > max {
		d.fail("%s: %d over %d", field, v, max)
		return 0
	}
	return v
}

func (d *decoder) bytes(field string, max int) []byte {
	n := d.uint(field)
	if d.err != nil {
		return nil
	}
	if n > uint64(max) {
		d.fail("%s: %d bytes over %d", field, n, max)
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("%s: %d bytes past the end", field, n)
		return nil
	}
	if n == 0 {
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) string(field string, max int) string {
	return string(d.bytes(field, max))
}

func (d *decoder) bool(field string) bool {
	if d.err != nil {
		return false
	}
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail("%s: bad bool", field)
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *decoder) strings(field string, maxCount, maxLen int) []string {
	n := d.uint(field)
	if d.err != nil {
		return nil
	}
	if n > uint64(maxCount) || n > uint64(len(d.b)) {
		d.fail("%s: %d entries over %d", field, n, min(maxCount, len(d.b)))
		return nil
	}
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.string(field, maxLen)
	}
	return ss
}

// finish reports the first error, or trailing bytes.
func (d *decoder) finish(msg string) error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d %w", len(d.b), errTrailing)
	}
	if d.err != nil {
		return fmt.Errorf("decode %s: %w", msg, d.err)
	}
	return nil
}

func encodeInit(m initMsg) []byte {
	e := encoder{b: []byte{kindInit}}
	e.uint(m.Version)
	e.string(m.CacheDir)
	e.uint(m.MemoryMiB)
	e.uint(m.MaxCompiled)
	e.strings(m.UnitDirs)
	e.uint(m.MaxFileBytes)
	e.uint(m.MaxCacheBytes)
	return e.b
}

// decodeInit decodes an init body.
func decodeInit(b []byte) (initMsg, error) {
	d := decoder{b: b}
	d.kind(kindInit)
	m := initMsg{
		Version:       d.uint("version"),
		CacheDir:      d.string("cache dir", maxPathLen),
		MemoryMiB:     d.uintMax("memory", MaxMemoryMiB),
		MaxCompiled:   d.uintMax("max compiled", 1<<16),
		UnitDirs:      d.strings("unit dirs", maxUnitDirs, maxPathLen),
		MaxFileBytes:  d.uint("max file bytes"),
		MaxCacheBytes: d.uint("max cache bytes"),
	}
	return m, d.finish("init")
}

func encodeReady(m readyMsg) []byte {
	e := encoder{b: []byte{kindReady}}
	e.uint(m.Version)
	e.string(m.Isolation)
	return e.b
}

// decodeReady decodes a ready body.
func decodeReady(b []byte) (readyMsg, error) {
	d := decoder{b: b}
	d.kind(kindReady)
	m := readyMsg{Version: d.uint("version"), Isolation: d.string("isolation", maxIsolationLen)}
	return m, d.finish("ready")
}

func encodeLimits(e *encoder, l Limits) {
	e.uint(uint64(l.MemoryMiB))
	e.uint(uint64(l.Timeout))
	e.uint(uint64(l.MaxOutputBytes))
	e.uint(uint64(l.MaxModuleBytes))
	e.uint(uint64(l.MaxStderrBytes))
}

func decodeLimits(d *decoder) Limits {
	return Limits{
		MemoryMiB:      int(d.uintMax("memory", MaxMemoryMiB)),
		Timeout:        time.Duration(d.uintMax("timeout", math.MaxInt64)),
		MaxOutputBytes: int64(d.uintMax("max output", MaxOutputBytesLimit)),
		MaxModuleBytes: int64(d.uintMax("max module", MaxModuleBytesLimit)),
		MaxStderrBytes: int64(d.uintMax("max stderr", MaxStderrBytesLimit)),
	}
}

func encodeRun(m runMsg) []byte {
	e := encoder{b: []byte{kindRun}}
	e.uint(m.ID)
	e.string(m.ModuleKey)
	e.string(m.ModulePath)
	e.string(m.InputDir)
	e.strings(m.Args)
	e.strings(m.Env)
	e.uint(m.Seed)
	encodeLimits(&e, m.Limits)
	return e.b
}

// decodeRun decodes a run body.
func decodeRun(b []byte) (runMsg, error) {
	d := decoder{b: b}
	d.kind(kindRun)
	m := runMsg{
		ID:         d.uint("id"),
		ModuleKey:  d.string("module key", maxKeyLen),
		ModulePath: d.string("module path", maxPathLen),
		InputDir:   d.string("input dir", maxPathLen),
		Args:       d.strings("args", maxArgs, maxArgLen),
		Env:        d.strings("env", maxArgs, maxArgLen),
		Seed:       d.uint("seed"),
		Limits:     decodeLimits(&d),
	}
	return m, d.finish("run")
}

func encodeResult(m resultMsg) []byte {
	e := encoder{b: make([]byte, 0, 64+len(m.Detail)+len(m.Stdout)+len(m.Stderr))}
	e.b = append(e.b, kindResult)
	e.uint(m.ID)
	e.uint(uint64(m.Reason))
	e.uint(uint64(m.ExitCode))
	e.string(m.Detail)
	e.bytes(m.Stdout)
	e.bytes(m.Stderr)
	e.uint(uint64(max(m.Compile, 0)))
	e.uint(uint64(max(m.Exec, 0)))
	e.uint(m.PeakMemory)
	e.bool(m.Warm)
	return e.b
}

// decodeResult decodes a result body whose stdout and stderr may be at most
// maxStdout and maxStderr bytes. It checks every field's range; the caller
// checks the ID and what the reason may be.
func decodeResult(b []byte, maxStdout, maxStderr int) (resultMsg, error) {
	d := decoder{b: b}
	d.kind(kindResult)
	m := resultMsg{
		ID:         d.uint("id"),
		Reason:     Reason(d.uintMax("reason", uint64(maxReason))),
		ExitCode:   uint32(d.uintMax("exit code", math.MaxUint32)),
		Detail:     d.string("detail", maxDetailLen),
		Stdout:     d.bytes("stdout", maxStdout),
		Stderr:     d.bytes("stderr", maxStderr),
		Compile:    time.Duration(d.uintMax("compile time", math.MaxInt64)),
		Exec:       time.Duration(d.uintMax("exec time", math.MaxInt64)),
		PeakMemory: d.uintMax("peak memory", MaxMemoryMiB<<20),
		Warm:       d.bool("warm"),
	}
	return m, d.finish("result")
}
