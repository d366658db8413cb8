package sandbox

import (
	"bufio"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/enxame/enxame/examples/examplestest"
)

// Function types of hand-built modules.
const (
	typeVoid   = 0 // () -> ()
	typeI32Arg = 1 // (i32) -> ()
)

// wasmImport is a function import of a hand-built module.
type wasmImport struct {
	module, name string
	typ          byte
}

// wasmSpec describes a tiny hand-built module: imported functions, an
// optional memory, and one defined function, exported as _start unless
// noStart.
type wasmSpec struct {
	imports []wasmImport
	memMin  int // pages; -1 for no memory
	body    []byte
	noStart bool
}

func leb(v uint64) []byte { return binary.AppendUvarint(nil, v) }

func section(id byte, content []byte) []byte {
	return append(append([]byte{id}, leb(uint64(len(content)))...), content...)
}

func name(s string) []byte { return append(leb(uint64(len(s))), s...) }

// wasmModule encodes spec as a WebAssembly binary.
func wasmModule(spec wasmSpec) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, section(1, []byte{2, 0x60, 0, 0, 0x60, 1, 0x7f, 0})...)
	if len(spec.imports) > 0 {
		imp := leb(uint64(len(spec.imports)))
		for _, i := range spec.imports {
			imp = append(append(append(imp, name(i.module)...), name(i.name)...), 0x00, i.typ)
		}
		b = append(b, section(2, imp)...)
	}
	b = append(b, section(3, []byte{1, typeVoid})...)
	if spec.memMin >= 0 {
		b = append(b, section(5, append([]byte{1, 0x00}, leb(uint64(spec.memMin))...))...)
	}
	var exports [][]byte
	if !spec.noStart {
		exports = append(exports, append(name("_start"), append([]byte{0x00}, leb(uint64(len(spec.imports)))...)...))
	}
	if spec.memMin >= 0 {
		exports = append(exports, append(name("memory"), 0x02, 0))
	}
	exp := leb(uint64(len(exports)))
	for _, e := range exports {
		exp = append(exp, e...)
	}
	b = append(b, section(7, exp)...)
	code := append([]byte{0}, spec.body...) // no locals
	b = append(b, section(10, append([]byte{1}, append(leb(uint64(len(code))), code...)...))...)
	return b
}

// Bodies of hand-built modules' _start (function index = number of imports).
var (
	bodyReturn = []byte{0x0b}
	bodyTrap   = []byte{0x00, 0x0b}                         // unreachable
	bodyLoop   = []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b} // loop br 0 end
	bodyGrow   = []byte{0x03, 0x40, 0x41, 0x10, 0x40, 0x00, 0x41, 0x7f, 0x47, 0x0d, 0x00, 0x0b, 0x00, 0x0b}
	// loop: memory.grow(16) != -1 → repeat; then unreachable
)

// bodyCallSelf calls function idx (itself) forever.
func bodyCallSelf(idx byte) []byte { return []byte{0x10, idx, 0x0b} }

// bodyExit calls imported proc_exit (function 0) with code.
func bodyExit(code byte) []byte { return []byte{0x41, code, 0x10, 0x00, 0x0b} }

var procExit = wasmImport{module: "wasi_snapshot_preview1", name: "proc_exit", typ: typeI32Arg}

// Hand-built modules of the tests.
var (
	modReturn    = wasmModule(wasmSpec{memMin: -1, body: bodyReturn})
	modTrap      = wasmModule(wasmSpec{memMin: -1, body: bodyTrap})
	modLoop      = wasmModule(wasmSpec{memMin: -1, body: bodyLoop})
	modGrow      = wasmModule(wasmSpec{memMin: 1, body: bodyGrow})
	modRecurse   = wasmModule(wasmSpec{memMin: -1, body: bodyCallSelf(0)})
	modExit7     = wasmModule(wasmSpec{imports: []wasmImport{procExit}, memMin: -1, body: bodyExit(7)})
	modImportEnv = wasmModule(wasmSpec{imports: []wasmImport{{module: "env", name: "nope", typ: typeVoid}}, memMin: -1, body: bodyCallSelf(0)})
	modBigMemory = wasmModule(wasmSpec{memMin: 2000, body: bodyReturn}) // 125 MiB
	modNoStart   = wasmModule(wasmSpec{memMin: -1, body: bodyReturn, noStart: true})
)

// writeFile writes b to a new file in t's temp dir and returns its path.
func writeFile(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// hostileModule returns the Go-built hostile module (testdata/hostile).
func hostileModule(t testing.TB) string {
	t.Helper()
	return examplestest.BuildSource(t, filepath.Join("testdata", "hostile"))
}

// fakeChild speaks the child protocol and misbehaves as mode says, for
// tests of the parent's distrust. It returns the exit status.
func fakeChild(mode string, stdin io.Reader, stdout io.Writer) int {
	in := bufio.NewReader(stdin)
	if _, err := readFrame(in, maxControlFrame); err != nil {
		return 1
	}
	switch mode {
	case "mute":
		io.Copy(io.Discard, in)
		return 0
	case "bad-version":
		writeFrame(stdout, encodeReady(readyMsg{Version: protocolVersion + 1}))
		io.Copy(io.Discard, in)
		return 0
	}
	writeFrame(stdout, encodeReady(readyMsg{Version: protocolVersion}))
	for {
		b, err := readFrame(in, maxRunFrame)
		if err != nil {
			return 0
		}
		m, err := decodeRun(b)
		if err != nil {
			return 1
		}
		res := resultMsg{ID: m.ID, Stdout: []byte("fake\n")}
		switch mode {
		case "ok":
		case "wrong-id":
			res.ID++
		case "huge-frame":
			stdout.Write([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
			io.Copy(io.Discard, in)
			return 0
		case "garbage":
			writeFrame(stdout, []byte("this is not a result"))
			continue
		case "long-stdout":
			res.Stdout = make([]byte, m.Limits.MaxOutputBytes+1)
		case "bad-reason":
			res.Reason = maxReason + 1
		case "canceled":
			res.Reason = ReasonCanceled
		case "exit-zero-failure":
			res.Reason = ReasonExit
		case "die":
			return 3
		case "bloat": // hold 512 MiB, as a unit escaping its caps would
			b := make([]byte, 512<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			io.Copy(io.Discard, in)
			return int(b[len(b)-4096])
		case "silent":
			io.Copy(io.Discard, in)
			return 0
		case "drip":
			stdout.Write([]byte{0, 0, 0, 100, kindResult})
			io.Copy(io.Discard, in)
			return 0
		default:
			return 64
		}
		writeFrame(stdout, encodeResult(res))
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
