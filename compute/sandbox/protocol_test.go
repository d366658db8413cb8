package sandbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Caps the result fuzz target decodes with.
const (
	fuzzMaxStdout = 1 << 16
	fuzzMaxStderr = 1 << 12
)

var (
	sampleInit = initMsg{Version: protocolVersion, CacheDir: "/var/cache/enxame/wazero", MemoryMiB: 256, MaxCompiled: 16,
		UnitDirs: []string{"/var/lib/enxame/compute/units"}, MaxFileBytes: 1 << 30, MaxCacheBytes: 1 << 30}
	sampleRun = runMsg{
		ID: 42, ModuleKey: "bafkreia", ModulePath: "/tmp/m.wasm", InputDir: "/tmp/in",
		Args: []string{"-w", "1024", ""}, Env: []string{"A=1"}, Seed: 7,
		Limits: DefaultLimits(),
	}
	sampleResult = resultMsg{
		ID: 42, Reason: ReasonExit, ExitCode: 2, Detail: "exit status 2",
		Stdout: []byte("out"), Stderr: []byte("panic: boom"),
		Compile: time.Second, Exec: time.Millisecond, PeakMemory: 3 << 20, Warm: true,
	}
)

func TestRoundTrip(t *testing.T) {
	t.Run("init", func(t *testing.T) {
		for _, m := range []initMsg{{}, sampleInit} {
			got, err := decodeInit(encodeInit(m))
			if err != nil {
				t.Fatalf("decodeInit(encodeInit(%+v)): %v", m, err)
			}
			if diff := cmp.Diff(m, got); diff != "" {
				t.Errorf("init round trip mismatch (-want +got):\n%s", diff)
			}
		}
	})
	t.Run("ready", func(t *testing.T) {
		m := readyMsg{Version: protocolVersion, Isolation: "no_new_privs seccomp"}
		got, err := decodeReady(encodeReady(m))
		if err != nil || got != m {
			t.Errorf("decodeReady(encodeReady(%+v)) = %+v, %v", m, got, err)
		}
	})
	t.Run("run", func(t *testing.T) {
		for _, m := range []runMsg{{}, sampleRun} {
			got, err := decodeRun(encodeRun(m))
			if err != nil {
				t.Fatalf("decodeRun(encodeRun(%+v)): %v", m, err)
			}
			if diff := cmp.Diff(m, got); diff != "" {
				t.Errorf("run round trip mismatch (-want +got):\n%s", diff)
			}
		}
	})
	t.Run("result", func(t *testing.T) {
		for _, m := range []resultMsg{{}, sampleResult} {
			got, err := decodeResult(encodeResult(m), fuzzMaxStdout, fuzzMaxStderr)
			if err != nil {
				t.Fatalf("decodeResult(encodeResult(%+v)): %v", m, err)
			}
			if diff := cmp.Diff(m, got); diff != "" {
				t.Errorf("result round trip mismatch (-want +got):\n%s", diff)
			}
		}
	})
}

func TestDecodeRejects(t *testing.T) {
	res := encodeResult(sampleResult)
	withReason := func(r uint64) []byte {
		e := encoder{b: []byte{kindResult}}
		e.uint(1)
		e.uint(r)
		return e.b
	}
	tests := []struct {
		name   string
		decode func() error
	}{
		{name: "empty", decode: func() error { _, err := decodeResult(nil, 10, 10); return err }},
		{name: "wrong kind", decode: func() error { _, err := decodeResult(encodeRun(sampleRun), 1<<20, 1<<20); return err }},
		{name: "truncated", decode: func() error { _, err := decodeResult(res[:len(res)-2], 1<<20, 1<<20); return err }},
		{name: "trailing", decode: func() error { _, err := decodeResult(append(res, 0), 1<<20, 1<<20); return err }},
		{name: "stdout over cap", decode: func() error { _, err := decodeResult(res, 2, 1<<20); return err }},
		{name: "stderr over cap", decode: func() error { _, err := decodeResult(res, 1<<20, 2); return err }},
		{name: "unknown reason", decode: func() error { _, err := decodeResult(withReason(uint64(maxReason)+1), 10, 10); return err }},
		{name: "overlong varint", decode: func() error {
			_, err := decodeReady(append([]byte{kindReady}, bytes.Repeat([]byte{0x80}, 11)...))
			return err
		}},
		{name: "non-minimal varint", decode: func() error {
			// The version 2 as 0x82 0x00. Before internal/varint this
			// decoder took it.
			_, err := decodeReady([]byte{kindReady, 0x82, 0x00, 0x00}) // version, empty isolation
			return err
		}},
		{name: "bad bool", decode: func() error {
			b := bytes.Clone(res)
			b[len(b)-1] = 2
			_, err := decodeResult(b, 1<<20, 1<<20)
			return err
		}},
		{name: "string past end", decode: func() error {
			e := encoder{b: []byte{kindInit}}
			e.uint(1)
			e.uint(1000)
			_, err := decodeInit(e.b)
			return err
		}},
		{name: "too many args", decode: func() error {
			e := encoder{b: []byte{kindRun}}
			e.uint(1)
			e.string("")
			e.string("")
			e.string("")
			e.uint(maxArgs + 1)
			e.b = append(e.b, make([]byte, maxArgs+1)...)
			_, err := decodeRun(e.b)
			return err
		}},
		{name: "memory over max", decode: func() error {
			m := sampleInit
			m.MemoryMiB = MaxMemoryMiB + 1
			_, err := decodeInit(encodeInit(m))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.decode(); err == nil {
				t.Errorf("decode(%s) = nil error, want an error", tt.name)
			}
		})
	}
}

func TestReadFrame(t *testing.T) {
	frame := func(n uint32, body string) []byte {
		return append(binary.BigEndian.AppendUint32(nil, n), body...)
	}
	tests := []struct {
		name    string
		in      []byte
		want    string
		wantErr error
	}{
		{name: "ok", in: frame(3, "abc"), want: "abc"},
		{name: "empty body", in: frame(0, ""), want: ""},
		{name: "clean end", in: nil, wantErr: io.EOF},
		{name: "short header", in: []byte{0, 0}, wantErr: io.ErrUnexpectedEOF},
		{name: "short body", in: frame(5, "ab"), wantErr: io.ErrUnexpectedEOF},
		{name: "over cap", in: frame(17, strings.Repeat("x", 17)), wantErr: errFrameTooLarge},
		{name: "huge length", in: frame(0xffffffff, ""), wantErr: errFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readFrame(bytes.NewReader(tt.in), 16)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("readFrame(%x) error = %v, want %v", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("readFrame(%x) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	var buf bytes.Buffer
	if err := writeFrame(&buf, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got, err := readFrame(&buf, 16); err != nil || string(got) != "hello" {
		t.Errorf("readFrame(writeFrame(hello)) = %q, %v", got, err)
	}
}

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	writeFrame(&buf, encodeResult(sampleResult))
	f.Add(buf.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := readFrame(bytes.NewReader(b), 1024)
		if err == nil && (len(body) > 1024 || len(body)+4 > len(b)) {
			t.Fatalf("readFrame returned %d bytes from %d bytes of input with cap 1024", len(body), len(b))
		}
	})
}

func FuzzDecodeInit(f *testing.F) {
	f.Add(encodeInit(sampleInit))
	f.Add(encodeInit(initMsg{}))
	f.Add([]byte{kindInit})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeInit(b)
		if err != nil {
			return
		}
		if len(m.CacheDir) > maxPathLen || m.MemoryMiB > MaxMemoryMiB {
			t.Fatalf("decodeInit accepted out-of-range %+v", m)
		}
		again, err := decodeInit(encodeInit(m))
		if err != nil {
			t.Fatalf("decodeInit(encodeInit(%+v)): %v", m, err)
		}
		if diff := cmp.Diff(m, again); diff != "" {
			t.Fatalf("init round trip mismatch (-want +got):\n%s", diff)
		}
	})
}

func FuzzDecodeReady(f *testing.F) {
	f.Add(encodeReady(readyMsg{Version: protocolVersion}))
	f.Add(encodeReady(readyMsg{Version: protocolVersion, Isolation: "no_new_privs seccomp landlock(abi 7)"}))
	f.Add([]byte{kindReady, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeReady(b)
		if err != nil {
			return
		}
		again, err := decodeReady(encodeReady(m))
		if err != nil || again != m {
			t.Fatalf("decodeReady(encodeReady(%+v)) = %+v, %v", m, again, err)
		}
	})
}

func FuzzDecodeRun(f *testing.F) {
	f.Add(encodeRun(sampleRun))
	f.Add(encodeRun(runMsg{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeRun(b)
		if err != nil {
			return
		}
		if len(m.Args) > maxArgs || len(m.Env) > maxArgs || len(m.ModuleKey) > maxKeyLen ||
			len(m.ModulePath) > maxPathLen || len(m.InputDir) > maxPathLen || m.Limits.validate() != nil {
			t.Fatalf("decodeRun accepted out-of-range %+v", m)
		}
		again, err := decodeRun(encodeRun(m))
		if err != nil {
			t.Fatalf("decodeRun(encodeRun(%+v)): %v", m, err)
		}
		if diff := cmp.Diff(m, again); diff != "" {
			t.Fatalf("run round trip mismatch (-want +got):\n%s", diff)
		}
	})
}

func FuzzDecodeResult(f *testing.F) {
	f.Add(encodeResult(sampleResult))
	f.Add(encodeResult(resultMsg{}))
	f.Add(encodeResult(resultMsg{Reason: ReasonCrash, Detail: strings.Repeat("d", maxDetailLen)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeResult(b, fuzzMaxStdout, fuzzMaxStderr)
		if err != nil {
			return
		}
		if len(m.Stdout) > fuzzMaxStdout || len(m.Stderr) > fuzzMaxStderr || len(m.Detail) > maxDetailLen ||
			m.Reason > maxReason || m.Compile < 0 || m.Exec < 0 {
			t.Fatalf("decodeResult accepted out-of-range %+v", m)
		}
		again, err := decodeResult(encodeResult(m), fuzzMaxStdout, fuzzMaxStderr)
		if err != nil {
			t.Fatalf("decodeResult(encodeResult(%+v)): %v", m, err)
		}
		if diff := cmp.Diff(m, again); diff != "" {
			t.Fatalf("result round trip mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestReadFrameLargeShort(t *testing.T) {
	// A frame announcing 8 MiB that carries 10 bytes fails without the
	// reader having taken 8 MiB.
	in := append(binary.BigEndian.AppendUint32(nil, 8<<20), "0123456789"...)
	_, err := readFrame(bytes.NewReader(in), 16<<20)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("readFrame(short 8 MiB frame) = %v, want io.ErrUnexpectedEOF", err)
	}
	body := bytes.Repeat([]byte("z"), 3<<20)
	var buf bytes.Buffer
	writeFrame(&buf, body)
	got, err := readFrame(&buf, 4<<20)
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("readFrame(3 MiB frame) = %d bytes, %v; want the 3 MiB body", len(got), err)
	}
}
