package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// tableEntryCost is what the runner counts, in bytes, for each entry a
// module's tables may hold. wazero keeps a table as a Go slice of 8-byte
// references outside the linear memory, and table.grow appends to it: the
// old slice, the new one and the zeroed delta it appends from may all be
// live at once, so an entry is counted twice.
const tableEntryCost = 16

// maxTables bounds how many tables a module may declare; wasm toolchains
// emit one.
const maxTables = 100

// tableLimits is one table's declared size, in entries.
type tableLimits struct {
	Type   byte // reference type: 0x70 funcref, 0x6f externref
	Min    uint64
	Max    uint64
	HasMax bool
}

// errBadTables is wrapped by moduleTables's errors.
var errBadTables = errors.New("malformed module")

// boundTables returns b with a maximum equal to its minimum given to every
// table that declares none, and the module's tables. wazero keeps a table
// outside the linear memory, so a table that could grow without bound
// would bypass the memory cap (issue 11, finding 3); Go's linker declares
// no maximum although Go code never grows its table, so refusing such
// tables would refuse every Go-built module. table.grow on a bounded table
// fails with -1, as the WebAssembly specification allows it to at any
// time. b is not modified.
func boundTables(b []byte) ([]byte, moduleTableInfo, error) {
	tables, imported, sec, err := moduleTables(b)
	if err != nil {
		return nil, moduleTableInfo{}, err
	}
	info := moduleTableInfo{tables: tables, imported: imported}
	patch := false
	for i, t := range tables {
		if !t.HasMax {
			info.tables[i] = tableLimits{Type: t.Type, Min: t.Min, Max: t.Min, HasMax: true}
			patch = true
		}
	}
	if !patch {
		return b, info, nil
	}
	content := binary.AppendUvarint(nil, uint64(len(info.tables)))
	for _, t := range info.tables {
		content = append(content, t.Type, 0x01)
		content = binary.AppendUvarint(content, t.Min)
		content = binary.AppendUvarint(content, t.Max)
	}
	out := make([]byte, 0, len(b)+len(content))
	out = append(out, b[:sec.start]...)
	out = append(out, 4)
	out = binary.AppendUvarint(out, uint64(len(content)))
	out = append(out, content...)
	out = append(out, b[sec.end:]...)
	return out, info, nil
}

// span is a byte range of a module.
type span struct{ start, end int }

// moduleTables returns the tables a WebAssembly binary defines, how many
// it imports, and where its table section is, reading only the import and
// table sections. It rejects, never panics on, malformed input; wazero
// validates the rest. The module header must have been checked.
func moduleTables(b []byte) (tables []tableLimits, imported int, tableSec span, err error) {
	r := wasmReader{b: b, off: 8}
	for r.off < len(r.b) {
		start := r.off
		id, err := r.byte()
		if err != nil {
			return nil, 0, span{}, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, 0, span{}, err
		}
		if uint64(size) > uint64(len(r.b)-r.off) {
			return nil, 0, span{}, fmt.Errorf("%w: section %d of %d bytes past the end", errBadTables, id, size)
		}
		sec := wasmReader{b: r.b[:r.off+int(size)], off: r.off}
		r.off += int(size)
		switch id {
		case 2: // imports
			n, err := sec.u32()
			if err != nil {
				return nil, 0, span{}, err
			}
			for range n {
				if err := sec.skipName(); err != nil {
					return nil, 0, span{}, err
				}
				if err := sec.skipName(); err != nil {
					return nil, 0, span{}, err
				}
				kind, err := sec.byte()
				if err != nil {
					return nil, 0, span{}, err
				}
				switch kind {
				case 0x00: // function: type index
					_, err = sec.u32()
				case 0x01: // table
					imported++
					_, err = sec.tableType()
				case 0x02: // memory
					_, err = sec.limits()
				case 0x03: // global: value type, mutability
					if _, err = sec.byte(); err == nil {
						_, err = sec.byte()
					}
				default:
					err = fmt.Errorf("%w: import kind %#x", errBadTables, kind)
				}
				if err != nil {
					return nil, 0, span{}, err
				}
			}
		case 4: // tables
			n, err := sec.u32()
			if err != nil {
				return nil, 0, span{}, err
			}
			if n > maxTables {
				return nil, 0, span{}, fmt.Errorf("%w: %d tables, over %d", errBadTables, n, maxTables)
			}
			for range n {
				t, err := sec.tableType()
				if err != nil {
					return nil, 0, span{}, err
				}
				tables = append(tables, t)
			}
			if sec.off != r.off {
				return nil, 0, span{}, fmt.Errorf("%w: %d trailing bytes in the table section", errBadTables, r.off-sec.off)
			}
			return tables, imported, span{start, r.off}, nil
		}
	}
	return tables, imported, span{}, nil
}

// wasmReader reads a WebAssembly binary's primitive values.
type wasmReader struct {
	b   []byte
	off int
}

func (r *wasmReader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, fmt.Errorf("%w: unexpected end at byte %d", errBadTables, r.off)
	}
	r.off++
	return r.b[r.off-1], nil
}

// u64 reads an unsigned LEB128 of at most 10 bytes.
func (r *wasmReader) u64() (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad LEB128 at byte %d", errBadTables, r.off)
	}
	r.off += n
	return v, nil
}

func (r *wasmReader) u32() (uint32, error) {
	v, err := r.u64()
	if err == nil && v > 1<<32-1 {
		err = fmt.Errorf("%w: LEB128 over 32 bits at byte %d", errBadTables, r.off)
	}
	return uint32(v), err
}

func (r *wasmReader) skipName() error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		return fmt.Errorf("%w: name past the end at byte %d", errBadTables, r.off)
	}
	r.off += int(n)
	return nil
}

// limits reads a limits value: a flags byte whose bit 0 says a maximum
// follows the minimum.
func (r *wasmReader) limits() (tableLimits, error) {
	flags, err := r.byte()
	if err != nil {
		return tableLimits{}, err
	}
	if flags > 1 {
		return tableLimits{}, fmt.Errorf("%w: unsupported limits flags %#x", errBadTables, flags)
	}
	var l tableLimits
	if l.Min, err = r.u64(); err != nil {
		return l, err
	}
	if flags&1 != 0 {
		l.HasMax = true
		l.Max, err = r.u64()
	}
	return l, err
}

// tableType reads a reference type and limits.
func (r *wasmReader) tableType() (tableLimits, error) {
	rt, err := r.byte()
	if err != nil {
		return tableLimits{}, err
	}
	if rt != 0x70 && rt != 0x6f { // funcref, externref
		return tableLimits{}, fmt.Errorf("%w: table element type %#x", errBadTables, rt)
	}
	l, err := r.limits()
	l.Type = rt
	return l, err
}

// moduleTableInfo is what the runner keeps of a module's tables.
type moduleTableInfo struct {
	tables   []tableLimits
	imported int
}

// checkTables decides whether a module's tables fit in a unit's memory
// cap, and returns the bytes they may take: tables live outside the linear
// memory, so what they may take is taken from the linear memory's cap.
// Tables have their maximum (see boundTables); a table whose maximum the
// cap cannot hold is refused.
func checkTables(info moduleTableInfo, capBytes uint64) (tableBytes uint64, reason Reason, detail string) {
	if info.imported > 0 {
		return 0, ReasonMissingImport, "imports a table, which the sandbox does not offer"
	}
	for i, t := range info.tables {
		if !t.HasMax { // boundTables gives every table a maximum
			return 0, ReasonMemory, fmt.Sprintf("table %d declares no maximum size", i)
		}
		if t.Max > capBytes/tableEntryCost {
			return 0, ReasonMemory, fmt.Sprintf("table %d may hold %d entries, over what the memory cap of %d MiB allows", i, t.Max, capBytes>>20)
		}
		tableBytes += t.Max * tableEntryCost
		if tableBytes > capBytes {
			return 0, ReasonMemory, fmt.Sprintf("tables may grow to %d MiB, over the memory cap of %d MiB", tableBytes>>20, capBytes>>20)
		}
	}
	return tableBytes, ReasonNone, ""
}
