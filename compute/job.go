package compute

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/enxame/enxame/compute/wire"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// JobID names a job of this submitter.
type JobID string

// SplitKind says how a job is cut into units.
type SplitKind int

// Kinds of Split.
const (
	// SplitNone: one unit with every input.
	SplitNone SplitKind = iota
	// SplitBytes: the single input cut into N parts of nearly equal size
	// (`--split N`).
	SplitBytes
	// SplitLines: the single input cut into N parts of nearly equal size,
	// each cut just after a newline (`--split-lines N`).
	SplitLines
	// SplitRange: N units, unit i gets every input and, after the job's
	// arguments, the two arguments "lo hi" of the i-th of N nearly equal
	// sub-ranges of [From, To) (`--range A:B/N`).
	SplitRange
	// SplitEachInput: one unit per input.
	SplitEachInput
	// SplitLinesPerUnit: the single input cut into units of N lines each,
	// the last unit taking what is left, as `split -l N` does
	// (`--split-lines N`). An input of no lines makes one empty unit.
	SplitLinesPerUnit
)

// String returns a lowercase word for k.
func (k SplitKind) String() string {
	switch k {
	case SplitNone:
		return "none"
	case SplitBytes:
		return "bytes"
	case SplitLines:
		return "lines"
	case SplitRange:
		return "range"
	case SplitEachInput:
		return "each-input"
	case SplitLinesPerUnit:
		return "lines-per-unit"
	}
	return fmt.Sprintf("split(%d)", int(k))
}

// MarshalText encodes k as its String word.
func (k SplitKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes a String word.
func (k *SplitKind) UnmarshalText(b []byte) error {
	for _, x := range []SplitKind{SplitNone, SplitBytes, SplitLines, SplitRange, SplitEachInput, SplitLinesPerUnit} {
		if x.String() == string(b) {
			*k = x
			return nil
		}
	}
	return fmt.Errorf("compute: unknown split kind %q", b)
}

// UnmarshalJSON decodes a String word, or the number jobs kept by earlier
// versions hold.
func (k *SplitKind) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		if n < int(SplitNone) || n > int(SplitLinesPerUnit) {
			return fmt.Errorf("compute: unknown split kind %d", n)
		}
		*k = SplitKind(n)
		return nil
	}
	var w string
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("compute: split kind: %w", err)
	}
	return k.UnmarshalText([]byte(w))
}

// Split says how a job is cut into units.
type Split struct {
	Kind SplitKind `json:"kind"`
	// N is the number of parts (SplitBytes, SplitLines, SplitRange), or
	// the lines of each unit (SplitLinesPerUnit).
	N int `json:"n,omitempty"`
	// From and To bound the range of SplitRange: [From, To).
	From int64 `json:"from,omitempty"`
	To   int64 `json:"to,omitempty"`
}

// ParseRange parses the `--range A:B/N` form into a SplitRange.
func ParseRange(s string) (Split, error) {
	ab, n, ok := strings.Cut(s, "/")
	a, b, ok2 := strings.Cut(ab, ":")
	if !ok || !ok2 {
		return Split{}, fmt.Errorf("compute: range %q: want A:B/N", s)
	}
	from, err1 := strconv.ParseInt(a, 10, 64)
	to, err2 := strconv.ParseInt(b, 10, 64)
	parts, err3 := strconv.Atoi(n)
	if err := errors.Join(err1, err2, err3); err != nil {
		return Split{}, fmt.Errorf("compute: range %q: %w", s, err)
	}
	sp := Split{Kind: SplitRange, N: parts, From: from, To: to}
	if err := sp.validate(1); err != nil {
		return Split{}, err
	}
	return sp, nil
}

// MaxUnits caps the units of one job (the reduce unit excluded). The
// job's result directory, one block with a link per unit, must stay under
// the 2 MiB a block may have on the wire (the reduce unit's worker fetches
// it) even when every output CID is as long as a worker may make it
// (wire.MaxCIDLen): 10,000 links of at most about 150 bytes.
const MaxUnits = 10000

// MaxJobBytes caps what a job's units weigh in the submitter's memory and
// its saved record: the sum over the units of their run message's size
// (wire.RunUnit: inputs and arguments), counted once for the unit and once
// per replica's receipt, which repeats them. A range split of 10,000 units
// with a few small arguments weighs about 1 MiB; 10,000 units of 60 KiB of
// arguments (each within a frame) would weigh over a GiB.
const MaxJobBytes = 64 << 20

func (sp Split) validate(inputs int) error {
	switch sp.Kind {
	case SplitNone, SplitEachInput:
		if sp.Kind == SplitEachInput && inputs == 0 {
			return errors.New("compute: split each-input: no inputs")
		}
		return nil
	case SplitBytes, SplitLines, SplitLinesPerUnit:
		if inputs != 1 {
			return fmt.Errorf("compute: split %s: want exactly one input, have %d", sp.Kind, inputs)
		}
		if sp.Kind == SplitLinesPerUnit {
			// The units follow from the input's lines: planUnits caps them.
			if sp.N < 1 {
				return fmt.Errorf("compute: split into units of %d lines: want at least 1", sp.N)
			}
			return nil
		}
	case SplitRange:
		if sp.To <= sp.From {
			return fmt.Errorf("compute: range %d:%d is empty", sp.From, sp.To)
		}
		if uint64(sp.To-sp.From) < uint64(sp.N) {
			return fmt.Errorf("compute: range %d:%d has fewer than %d values", sp.From, sp.To, sp.N)
		}
	default:
		return fmt.Errorf("compute: unknown split kind %d", sp.Kind)
	}
	if sp.N < 1 || sp.N > MaxUnits {
		return fmt.Errorf("compute: split into %d parts: want 1 to %d", sp.N, MaxUnits)
	}
	return nil
}

// JobSpec is what a user submits.
type JobSpec struct {
	// Module is the CID of the WebAssembly module (a WASI command).
	Module cid.Cid `json:"module"`
	// Inputs are the CIDs of the job's inputs. A unit's inputs appear under
	// /input named InputName(0), InputName(1), ..., or by InputNames.
	Inputs []cid.Cid `json:"inputs"`
	// InputNames, when set, name Inputs one for one (unique, ValidName):
	// a unit then sees its inputs as /input/NAME (a split part under its
	// input's name), and with SplitEachInput a unit's output is named
	// after its input in the job's result directory.
	InputNames []string `json:"input_names,omitempty"`
	// Split says how the job is cut into units.
	Split Split `json:"split"`
	// Args are every unit's arguments (after argv[0]).
	Args []string `json:"args,omitempty"`
	// Replicas is the job's trust setting: how many distinct workers run
	// each unit; a result is accepted when a majority of them return the
	// same output CID. 1 accepts one worker's word unverified. 0 means
	// SubmitterConfig.Replicas (default 1). At most 15.
	Replicas int `json:"replicas,omitempty"`
	// Timeout is each unit's wall time on its worker, compilation
	// included. 0 means SubmitterConfig.UnitTimeout.
	Timeout time.Duration `json:"timeout_ns,omitempty"`
	// MemoryMiB is each unit's memory cap, in MiB. 0 means the worker's
	// default (256 MiB).
	MemoryMiB int `json:"memory_mib,omitempty"`
	// MaxOutputBytes caps each unit's output. 0 means the worker's
	// default.
	MaxOutputBytes int64 `json:"max_output_bytes,omitempty"`
	// Reduce, when defined, is the module of a final unit whose input is
	// the directory of every other unit's output (JobInfo.ResultDir): it
	// sees them as /input/NAME, one file per unit, named by UnitInfo.File.
	Reduce cid.Cid `json:"reduce,omitzero"`
	// ReduceArgs are the reduce unit's arguments.
	ReduceArgs []string `json:"reduce_args,omitempty"`
}

// UnmarshalJSON decodes a JobSpec, also as kept by earlier versions, which
// wrote Go field names: encoding/json matches them to the tags above
// case-insensitively, except those of two words, read here.
func (js *JobSpec) UnmarshalJSON(b []byte) error {
	type plain JobSpec
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var old struct {
		Timeout        time.Duration
		MemoryMiB      int
		MaxOutputBytes int64
		ReduceArgs     []string
	}
	if err := json.Unmarshal(b, &old); err != nil {
		return err
	}
	*js = JobSpec(p)
	if js.Timeout == 0 {
		js.Timeout = old.Timeout
	}
	if js.MemoryMiB == 0 {
		js.MemoryMiB = old.MemoryMiB
	}
	if js.MaxOutputBytes == 0 {
		js.MaxOutputBytes = old.MaxOutputBytes
	}
	if js.ReduceArgs == nil {
		js.ReduceArgs = old.ReduceArgs
	}
	return nil
}

func (js *JobSpec) validate() error {
	switch {
	case !js.Module.Defined():
		return errors.New("compute: job: no module")
	case len(js.Inputs) > wire.MaxCIDs:
		return fmt.Errorf("compute: job: %d inputs over %d", len(js.Inputs), wire.MaxCIDs)
	case js.Replicas < 0 || js.Replicas > maxReplicas:
		return fmt.Errorf("compute: job: replicas %d: want 1 to %d", js.Replicas, maxReplicas)
	case js.Timeout < 0 || js.MemoryMiB < 0 || js.MaxOutputBytes < 0:
		return errors.New("compute: job: negative limit")
	case len(js.Args)+2 > wire.MaxArgs || len(js.ReduceArgs) > wire.MaxArgs:
		return fmt.Errorf("compute: job: more than %d arguments", wire.MaxArgs-2)
	}
	for _, c := range js.Inputs {
		if !c.Defined() {
			return errors.New("compute: job: undefined input CID")
		}
	}
	if len(js.InputNames) > 0 && len(js.InputNames) != len(js.Inputs) {
		return fmt.Errorf("compute: job: %d input names for %d inputs", len(js.InputNames), len(js.Inputs))
	}
	seen := map[string]bool{}
	for _, n := range js.InputNames {
		if !ValidName(n) {
			return fmt.Errorf("compute: job: input name %q: want 1 to %d bytes of UTF-8 without '/', '\\' or control characters, not . or ..", n, MaxNameLen)
		}
		if seen[n] {
			return fmt.Errorf("compute: job: input name %q given twice", n)
		}
		seen[n] = true
	}
	for _, a := range append(append([]string(nil), js.Args...), js.ReduceArgs...) {
		if len(a) > wire.MaxArgLen {
			return fmt.Errorf("compute: job: argument over %d bytes", wire.MaxArgLen)
		}
	}
	if err := js.Split.validate(len(js.Inputs)); err != nil {
		return err
	}
	// Every unit carries the job's arguments: refuse a job whose units
	// would weigh over MaxJobBytes before planning them (a range split
	// copies them into each unit).
	units := int64(1)
	switch js.Split.Kind {
	case SplitEachInput:
		units = int64(len(js.Inputs))
	case SplitBytes, SplitLines, SplitRange:
		units = int64(js.Split.N)
	}
	if w := units * int64(1+max(js.Replicas, 1)) * planBytes(nil, js.Args); w > MaxJobBytes {
		return fmt.Errorf("compute: job: %d units of %d arguments weigh over %d MiB (the unit and its receipts keep them); use fewer units or shorter arguments", units, len(js.Args), MaxJobBytes>>20)
	}
	return nil
}

// unitPlan is one unit as cut by planUnits.
type unitPlan struct {
	Inputs []cid.Cid
	Bytes  int64
	Args   []string
	// File names the unit's output in the job's result directory; empty
	// means InputName(index).
	File string
}

// planUnits cuts spec into its map units, storing split parts through
// content. maxSplit caps the input read for SplitBytes and SplitLines.
// Named inputs reach a unit as one directory (content.PutDir) holding them
// under their names.
func planUnits(ctx context.Context, content Content, spec *JobSpec, maxSplit int64) ([]unitPlan, error) {
	sp := spec.Split
	named := len(spec.InputNames) > 0
	// wrap returns the inputs a unit is sent: cs, or the directory of cs
	// under names when the job's inputs are named.
	wrap := func(cs []cid.Cid, names []string) ([]cid.Cid, error) {
		if !named {
			return cs, nil
		}
		var es []DirEntry
		for i, c := range cs {
			es = append(es, DirEntry{Name: names[i], CID: c})
		}
		d, err := content.PutDir(ctx, es)
		if err != nil {
			return nil, fmt.Errorf("compute: store the directory of named inputs: %w", err)
		}
		return []cid.Cid{d}, nil
	}
	switch sp.Kind {
	case SplitNone:
		ins, err := wrap(spec.Inputs, spec.InputNames)
		if err != nil {
			return nil, err
		}
		return []unitPlan{{Inputs: ins, Args: spec.Args}}, nil
	case SplitEachInput:
		var us []unitPlan
		for i, c := range spec.Inputs {
			u := unitPlan{Inputs: []cid.Cid{c}, Args: spec.Args}
			if named {
				var err error
				if u.Inputs, err = wrap(u.Inputs, spec.InputNames[i:i+1]); err != nil {
					return nil, err
				}
				u.File = spec.InputNames[i]
			}
			us = append(us, u)
		}
		return us, nil
	case SplitRange:
		ins, err := wrap(spec.Inputs, spec.InputNames)
		if err != nil {
			return nil, err
		}
		var us []unitPlan
		span := uint64(sp.To - sp.From)
		for i := range sp.N {
			lo := sp.From + int64(span*uint64(i)/uint64(sp.N))
			hi := sp.From + int64(span*uint64(i+1)/uint64(sp.N))
			args := append(append([]string(nil), spec.Args...), strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10))
			us = append(us, unitPlan{Inputs: ins, Args: args})
		}
		return us, nil
	}
	rc, err := content.Get(ctx, spec.Inputs[0], maxSplit)
	if errors.Is(err, ErrTooLarge) {
		return nil, fmt.Errorf("compute: split: input %s over %d bytes", spec.Inputs[0], maxSplit)
	}
	if err != nil {
		return nil, fmt.Errorf("compute: split: get %s: %w", spec.Inputs[0], err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxSplit+1))
	rc.Close()
	if int64(len(data)) > maxSplit || errors.Is(err, ErrTooLarge) {
		return nil, fmt.Errorf("compute: split: input %s over %d bytes", spec.Inputs[0], maxSplit)
	}
	if err != nil {
		return nil, fmt.Errorf("compute: split: read %s: %w", spec.Inputs[0], err)
	}
	var parts [][]byte
	if sp.Kind == SplitLinesPerUnit {
		// Counted before anything is stored: too small an N is refused
		// with no part kept. The parts are slices of data, not copies.
		if err := CheckLineUnits(CountLines(data), sp.N); err != nil {
			return nil, err
		}
		parts = splitLinesPerUnit(data, sp.N)
	} else {
		parts = splitData(data, sp.N, sp.Kind == SplitLines)
	}
	var us []unitPlan
	for _, part := range parts {
		c, err := content.Put(ctx, bytes.NewReader(part))
		if err != nil {
			return nil, fmt.Errorf("compute: split: store part: %w", err)
		}
		ins, err := wrap([]cid.Cid{c}, spec.InputNames)
		if err != nil {
			return nil, err
		}
		us = append(us, unitPlan{Inputs: ins, Bytes: int64(len(part)), Args: spec.Args})
	}
	return us, nil
}

// CountLines counts the lines of data as SplitLinesPerUnit cuts them: a
// last line without a newline counts.
func CountLines(data []byte) int64 {
	n := int64(bytes.Count(data, []byte{'\n'}))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// CountLinesReader is CountLines of what r yields, read in small pieces
// (the CLI checks a local file before adding it).
func CountLinesReader(r io.Reader) (int64, error) {
	buf := make([]byte, 64<<10)
	var n int64
	var last byte = '\n'
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			last = buf[k-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	if last != '\n' {
		n++
	}
	return n, nil
}

// LineUnits returns the units SplitLinesPerUnit makes of lines lines at n
// a unit: at least one.
func LineUnits(lines int64, n int) int64 {
	if lines <= 0 || n < 1 {
		return 1
	}
	return (lines + int64(n) - 1) / int64(n)
}

// CheckLineUnits refuses a SplitLinesPerUnit of n over lines lines that
// would make more than MaxUnits units, naming the smallest n that fits.
func CheckLineUnits(lines int64, n int) error {
	if u, lim := LineUnits(lines, n), int64(MaxUnits); u > lim {
		least := (lines + lim - 1) / lim
		return fmt.Errorf("compute: split: %d lines at %d a unit would make %d units, over the cap of %d; use at least %d lines a unit", lines, n, u, MaxUnits, least)
	}
	return nil
}

// splitLinesPerUnit cuts data into parts of n lines each (the last one
// the rest); no lines make one empty part. The parts concatenate to data.
func splitLinesPerUnit(data []byte, n int) [][]byte {
	if len(data) == 0 {
		return [][]byte{data}
	}
	var parts [][]byte
	for len(data) > 0 {
		cut := 0
		for range n {
			j := bytes.IndexByte(data[cut:], '\n')
			if j < 0 {
				cut = len(data)
				break
			}
			cut += j + 1
			if cut == len(data) {
				break
			}
		}
		parts = append(parts, data[:cut])
		data = data[cut:]
	}
	return parts
}

// splitData cuts data into n parts of nearly equal size; with lines, each
// cut but the last is moved forward to just after a newline (a part may
// then be empty). The parts concatenate to data.
func splitData(data []byte, n int, lines bool) [][]byte {
	parts := make([][]byte, 0, n)
	prev := 0
	for i := 1; i <= n; i++ {
		cut := len(data) * i / n
		if i == n {
			cut = len(data)
		}
		cut = max(cut, prev)
		if lines && cut < len(data) && cut > 0 && data[cut-1] != '\n' {
			if j := bytes.IndexByte(data[cut:], '\n'); j >= 0 {
				cut += j + 1
			} else {
				cut = len(data)
			}
		}
		parts = append(parts, data[prev:cut])
		prev = cut
	}
	return parts
}

// Placeholders of checkSendable, each as large as the real value may be:
// a peer ID inlining an Ed25519 key, a CIDv1 of a SHA-256 (a unit's
// output, the reduce's input directory) and an Ed25519 signature.
var (
	sendablePeer = peer.ID(strings.Repeat("p", 38))
	sendableCID  = cid.NewCidV1(cid.DagProtobuf, append([]byte{0x12, 0x20}, make([]byte, 32)...))
	sendableSig  = make([]byte, 64)
)

// checkSendable reports, before any unit runs, whether every unit of the
// job, the reduce unit included, fits the compute protocol: its run
// message and its result (the signed receipt, which repeats the unit's
// inputs and arguments) within their caps (wire.MaxCIDs inputs, wire.MaxArgs
// arguments of wire.MaxArgLen bytes, wire.MaxFrame bytes in all).
func checkSendable(id JobID, spec *JobSpec, plans []unitPlan, timeout time.Duration) error {
	limits := wire.Limits{MemoryBytes: uint64(spec.MemoryMiB) << 20, WallTime: timeout, MaxOutputBytes: uint64(spec.MaxOutputBytes)}
	check := func(name string, unit int, module cid.Cid, inputs []cid.Cid, args []string) error {
		run := &wire.RunUnit{Job: string(id), Unit: uint32(unit), Module: module, Inputs: inputs, Args: args, Seed: math.MaxUint64, Limits: limits}
		res := &wire.Result{Receipt: wire.Receipt{Worker: sendablePeer, Job: string(id), Unit: uint32(unit), Module: module,
			Inputs: inputs, Args: args, Output: sendableCID, Took: math.MaxInt64, PeakMemory: math.MaxUint64,
			Finished: math.MaxInt64, Signature: sendableSig}}
		for _, m := range []wire.Msg{run, res} {
			if _, err := wire.Encode(m); err != nil {
				return fmt.Errorf("compute: job: %s cannot be sent to a worker: %v", name, err)
			}
		}
		return nil
	}
	copies := int64(1 + max(spec.Replicas, 1))
	var total int64
	for i, p := range plans {
		if err := check(fmt.Sprintf("unit %d", i), i, spec.Module, p.Inputs, p.Args); err != nil {
			return err
		}
		if total += copies * planBytes(p.Inputs, p.Args); total > MaxJobBytes {
			return fmt.Errorf("compute: job: %d units whose inputs and arguments weigh over %d MiB (%d copies kept of each: the unit and its receipts); use fewer units or shorter arguments", len(plans), MaxJobBytes>>20, copies)
		}
	}
	if spec.Reduce.Defined() {
		return check("the reduce unit", len(plans), spec.Reduce, []cid.Cid{sendableCID}, spec.ReduceArgs)
	}
	return nil
}

// planBytes is about what a unit's inputs and arguments weigh encoded.
func planBytes(inputs []cid.Cid, args []string) int64 {
	n := int64(64) // the rest of a run message or receipt
	for _, c := range inputs {
		n += int64(c.ByteLen()) + 2
	}
	for _, a := range args {
		n += int64(len(a)) + 2
	}
	return n
}
