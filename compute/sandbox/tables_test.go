package sandbox

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tetratelabs/wazero"
)

// tableModule is a hand-built WASI command with one funcref table of min
// entries (and max, if hasMax) whose _start grows the table by step
// entries at a time until it has target entries or table.grow fails, then
// returns. In WAT:
//
//	(table min max funcref)
//	(func (export "_start")
//	  (loop
//	    (i32.ne (table.grow (ref.null func) (i32.const step)) (i32.const -1))
//	    (i32.lt_u (table.size) (i32.const target))
//	    i32.and
//	    br_if 0))
func tableModule(min, max uint32, hasMax bool, step, target int32) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, section(1, []byte{1, 0x60, 0, 0})...)
	b = append(b, section(3, []byte{1, 0})...)
	limits := []byte{0x00}
	limits = append(limits, leb(uint64(min))...)
	if hasMax {
		limits[0] = 0x01
		limits = append(limits, leb(uint64(max))...)
	}
	b = append(b, section(4, append([]byte{1, 0x70}, limits...))...)
	b = append(b, section(7, append([]byte{1}, append(name("_start"), 0x00, 0)...))...)
	body := []byte{0, 0x03, 0x40, 0xd0, 0x70, 0x41}
	body = append(body, sleb(int64(step))...)
	body = append(body, 0xfc, 0x0f, 0x00, 0x41, 0x7f, 0x47, 0xfc, 0x10, 0x00, 0x41)
	body = append(body, sleb(int64(target))...)
	body = append(body, 0x49, 0x71, 0x0d, 0x00, 0x0b, 0x0b)
	b = append(b, section(10, append([]byte{1}, append(leb(uint64(len(body))), body...)...))...)
	return b
}

// sleb encodes v as a signed LEB128.
func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// TestPoolTablesWithinCap pins issue 11, finding 3: table.grow allocated
// the child's Go heap outside the memory cap, so a unit capped at 16 MiB
// grew its child by hundreds of MiB and ended "ok". A table without a
// maximum now gets its minimum as maximum (table.grow fails with -1), one
// whose size the cap cannot hold is refused before the unit runs, and the
// child's peak resident memory stays within a bound derived from the cap.
func TestPoolTablesWithinCap(t *testing.T) {
	const capMiB = 16
	// 48 Mi entries: 384 MiB of table, well under the old watchdog's
	// pool memory + 1 GiB, so the old code let it finish "ok".
	const target = 48 << 20
	tests := []struct {
		name       string
		mod        []byte
		want       Reason
		wantDetail string
	}{
		{"no maximum, grown in a loop", tableModule(0, 0, false, 1<<20, target), ReasonNone, ""},
		{"no maximum, huge minimum", tableModule(target, 0, false, 1<<20, target), ReasonMemory, "over what the memory cap of 16 MiB allows"},
		{"maximum past the cap", tableModule(0, target, true, 1<<20, target), ReasonMemory, "over what the memory cap of 16 MiB allows"},
		{"maximum within the cap, grown until refused", tableModule(0, 4096, true, 1024, target), ReasonNone, ""},
	}
	p := newTestPool(t, func(c *Config) { c.Limits.MemoryMiB = capMiB; c.Spares = -1 })
	mustRun(t, p, Unit{ModulePath: writeFile(t, "ok.wasm", modReturn)})
	base := idlePeakResident(t, p)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.RunUnit(t.Context(), Unit{ModulePath: writeFile(t, "table.wasm", tt.mod)})
			if res.Reason != tt.want || !strings.Contains(res.Detail, tt.wantDetail) {
				t.Fatalf("Run(%s) = %v, %v %q; want %v with %q", tt.name, err, res.Reason, res.Detail, tt.want, tt.wantDetail)
			}
			// The bound: what the child held before, the cap, and 64 MiB
			// for the Go runtime's and wazero's own work.
			bound := base + capMiB<<20 + 64<<20
			if peak := idlePeakResident(t, p); peak > bound {
				t.Errorf("child peak resident memory %d MiB after Run(%s), over %d MiB", peak>>20, tt.name, bound>>20)
			}
		})
	}
}

// idlePeakResident returns the peak resident memory of p's one idle child.
func idlePeakResident(t *testing.T, p *Pool) uint64 {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) != 1 {
		t.Fatalf("pool has %d idle children, want 1", len(p.idle))
	}
	peak, err := peakResidentBytes(p.idle[0].pid)
	if err != nil {
		t.Fatalf("peak resident memory: %v", err)
	}
	return peak
}

func TestCheckTables(t *testing.T) {
	const capBytes = 16 << 20
	tests := []struct {
		name    string
		info    moduleTableInfo
		want    Reason
		wantMem uint64
	}{
		{"no tables", moduleTableInfo{}, ReasonNone, 0},
		{"small bounded table", moduleTableInfo{tables: []tableLimits{{Min: 10, Max: 100, HasMax: true}}}, ReasonNone, 100 * tableEntryCost},
		{"no maximum", moduleTableInfo{tables: []tableLimits{{Min: 10}}}, ReasonMemory, 0},
		{"maximum over the cap", moduleTableInfo{tables: []tableLimits{{Max: capBytes/tableEntryCost + 1, HasMax: true}}}, ReasonMemory, 0},
		{"huge maximum", moduleTableInfo{tables: []tableLimits{{Max: 1<<64 - 1, HasMax: true}}}, ReasonMemory, 0},
		{"two tables over the cap together", moduleTableInfo{tables: []tableLimits{
			{Max: capBytes / tableEntryCost / 2, HasMax: true}, {Max: capBytes/tableEntryCost/2 + 1, HasMax: true}}}, ReasonMemory, 0},
		{"imported table", moduleTableInfo{imported: 1}, ReasonMissingImport, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, detail := checkTables(tt.info, capBytes)
			if reason != tt.want || got != tt.wantMem {
				t.Errorf("checkTables(%+v) = %d, %v %q; want %d, %v", tt.info, got, reason, detail, tt.wantMem, tt.want)
			}
		})
	}
}

func TestModuleTables(t *testing.T) {
	tableImport := func(limits ...byte) []byte {
		imp := append([]byte{1}, name("env")...)
		imp = append(append(imp, name("t")...), 0x01, 0x70)
		return []byte(string(append([]byte("\x00asm\x01\x00\x00\x00"), section(2, append(imp, limits...))...)))
	}
	tests := []struct {
		name         string
		mod          []byte
		want         []tableLimits
		wantImported int
		wantErr      bool
	}{
		{"no tables", modReturn, nil, 0, false},
		{"function import", modExit7, nil, 0, false},
		{"table without max", tableModule(3, 0, false, 1, 1), []tableLimits{{Type: 0x70, Min: 3}}, 0, false},
		{"table with max", tableModule(3, 9, true, 1, 1), []tableLimits{{Type: 0x70, Min: 3, Max: 9, HasMax: true}}, 0, false},
		{"table64 limits", append([]byte("\x00asm\x01\x00\x00\x00"), section(4, []byte{1, 0x70, 0x04, 0x00})...), nil, 0, true},
		{"trailing bytes in the table section", append([]byte("\x00asm\x01\x00\x00\x00"), section(4, []byte{1, 0x70, 0x00, 0x00, 0x00})...), nil, 0, true},
		{"imported table", tableImport(0x00, 1), nil, 1, false},
		{"truncated section", tableModule(3, 9, true, 1, 1)[:24], nil, 0, true},
		{"section size past the end", append([]byte("\x00asm\x01\x00\x00\x00"), 4, 0xff, 0xff, 0x03), nil, 0, true},
		{"bad element type", append([]byte("\x00asm\x01\x00\x00\x00"), section(4, []byte{1, 0x01, 0x00, 0x00})...), nil, 0, true},
		{"bad LEB128", append([]byte("\x00asm\x01\x00\x00\x00"), 4, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80), nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, imported, _, err := moduleTables(tt.mod)
			if (err != nil) != tt.wantErr {
				t.Fatalf("moduleTables(%s) error = %v, want error %v", tt.name, err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, errBadTables) {
					t.Errorf("moduleTables(%s) error = %v, want errBadTables", tt.name, err)
				}
				return
			}
			if imported != tt.wantImported || len(got) != len(tt.want) {
				t.Fatalf("moduleTables(%s) = %+v, %d imported; want %+v, %d", tt.name, got, imported, tt.want, tt.wantImported)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("moduleTables(%s) table %d = %+v, want %+v", tt.name, i, got[i], tt.want[i])
				}
			}
		})
	}
}

// FuzzModuleTables drives the table reader with arbitrary modules: it must
// never panic, and a module it accepts has at most maxTables tables.
func FuzzModuleTables(f *testing.F) {
	for _, m := range [][]byte{modReturn, modExit7, modGrow, modImportEnv, tableModule(1, 2, true, 1, 1), tableModule(0, 0, false, 1, 1)} {
		f.Add(m)
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x04\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 8 || !bytes.Equal(b[:8], []byte("\x00asm\x01\x00\x00\x00")) {
			b = append([]byte("\x00asm\x01\x00\x00\x00"), b...)
		}
		tables, _, _, err := moduleTables(b)
		if err == nil && len(tables) > maxTables {
			t.Errorf("moduleTables accepted %d tables", len(tables))
		}
		out, info, err := boundTables(b)
		if err != nil {
			return
		}
		again, imported, _, err := moduleTables(out)
		if err != nil || imported != info.imported || len(again) != len(info.tables) {
			t.Fatalf("boundTables output reads as %+v, %d, %v; want %+v", again, imported, err, info)
		}
		for i, tl := range again {
			if !tl.HasMax || tl != info.tables[i] {
				t.Errorf("boundTables output table %d = %+v, want %+v with a maximum", i, tl, info.tables[i])
			}
		}
	})
}

// TestBoundTables checks that a table without a maximum gets its minimum
// as maximum in a module wazero still compiles, and that other modules are
// returned as they are.
func TestBoundTables(t *testing.T) {
	tests := []struct {
		name    string
		mod     []byte
		want    []tableLimits
		patched bool
	}{
		{"no tables", modReturn, nil, false},
		{"bounded", tableModule(2, 5, true, 1, 1), []tableLimits{{Type: 0x70, Min: 2, Max: 5, HasMax: true}}, false},
		{"unbounded", tableModule(300, 0, false, 1, 1), []tableLimits{{Type: 0x70, Min: 300, Max: 300, HasMax: true}}, true},
	}
	rt := wazero.NewRuntime(t.Context())
	defer rt.Close(t.Context())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, info, err := boundTables(tt.mod)
			if err != nil {
				t.Fatalf("boundTables(%s): %v", tt.name, err)
			}
			if bytes.Equal(out, tt.mod) == tt.patched {
				t.Errorf("boundTables(%s) patched = %v, want %v", tt.name, !bytes.Equal(out, tt.mod), tt.patched)
			}
			if diff := cmp.Diff(tt.want, info.tables); diff != "" {
				t.Errorf("boundTables(%s) tables mismatch (-want +got):\n%s", tt.name, diff)
			}
			if _, err := rt.CompileModule(t.Context(), out); err != nil {
				t.Errorf("compile boundTables(%s) output: %v", tt.name, err)
			}
		})
	}
}
