package sandbox

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCappedOutput(t *testing.T) {
	overs := 0
	w := &cappedOutput{max: 5, onOver: func() { overs++ }}
	if n, err := w.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatalf("Write(abc) = %d, %v", n, err)
	}
	if n, err := w.Write([]byte("defg")); n != 2 || !errors.Is(err, errOutputOver) {
		t.Fatalf("Write(defg) past cap = %d, %v; want 2, errOutputOver", n, err)
	}
	if n, err := w.Write([]byte("h")); n != 0 || !errors.Is(err, errOutputOver) {
		t.Fatalf("Write(h) after cap = %d, %v; want 0, errOutputOver", n, err)
	}
	if string(w.buf) != "abcde" || !w.over || overs != 1 {
		t.Errorf("after overflow: buf %q, over %v, onOver called %d times; want abcde, true, 1", w.buf, w.over, overs)
	}
}

func TestHeadTail(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{name: "fits", max: 10, writes: []string{"abc", "de"}, want: "abcde"},
		{name: "exactly full", max: 4, writes: []string{"abcd"}, want: "abcd"},
		{name: "drops middle", max: 4, writes: []string{"abcdefgh"}, want: "ab\n[... 4 bytes dropped ...]\ngh"},
		{name: "many small writes", max: 4, writes: strings.Split("abcdefghij", ""), want: "ab\n[... 6 bytes dropped ...]\nij"},
		{name: "zero cap", max: 0, writes: []string{"abc"}, want: "\n[... 3 bytes dropped ...]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHeadTail(tt.max)
			for _, w := range tt.writes {
				if n, err := h.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := string(h.Bytes()); got != tt.want {
				t.Errorf("headTail(%d) after %q = %q, want %q", tt.max, tt.writes, got, tt.want)
			}
		})
	}
}

func TestHeadTailHammer(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 1000
	}
	h := newHeadTail(64)
	for i := range n {
		h.Write([]byte{byte('a' + i%26)})
	}
	if got := h.Bytes(); len(got) > 64+40 || !bytes.HasPrefix(got, []byte("abcdef")) || cap(h.tail) > 4*64 {
		t.Errorf("headTail after %d writes: %q (tail cap %d)", n, got, cap(h.tail))
	}
}

func TestVirtualClock(t *testing.T) {
	var c virtualClock
	sec, nsec := c.walltime()
	if sec != clockEpochSec || nsec != clockTick {
		t.Errorf("first walltime = %d.%09d, want %d.%09d", sec, nsec, clockEpochSec, clockTick)
	}
	a := c.nanotime()
	c.nanosleep(int64(time.Hour))
	b := c.nanotime()
	if d := time.Duration(b - a); d != time.Hour+clockTick {
		t.Errorf("nanotime across a 1h sleep advanced %v, want %v", d, time.Hour+clockTick)
	}
	c.nanosleep(1 << 62)
	c.nanosleep(1 << 62)
	if c.nanotime() <= b {
		t.Errorf("nanotime went backwards after saturating sleeps")
	}
	var d virtualClock
	if d.nanotime() != (&virtualClock{}).nanotime() {
		t.Errorf("two fresh clocks disagree")
	}
}

func TestRandSource(t *testing.T) {
	read := func(seed uint64) []byte {
		b := make([]byte, 32)
		randSource(seed).Read(b)
		return b
	}
	if !bytes.Equal(read(1), read(1)) {
		t.Errorf("randSource(1) is not deterministic")
	}
	if bytes.Equal(read(1), read(2)) {
		t.Errorf("randSource(1) and randSource(2) agree")
	}
}

func TestLimitsWithin(t *testing.T) {
	pool := Limits{MemoryMiB: 128, Timeout: time.Minute, MaxOutputBytes: 1000, MaxModuleBytes: 2000, MaxStderrBytes: 100}
	tests := []struct {
		name string
		unit Limits
		want Limits
	}{
		{name: "zero takes the pool's", unit: Limits{}, want: pool},
		{name: "lower kept", unit: Limits{MemoryMiB: 64, Timeout: time.Second, MaxOutputBytes: 10, MaxModuleBytes: 20, MaxStderrBytes: 1},
			want: Limits{MemoryMiB: 64, Timeout: time.Second, MaxOutputBytes: 10, MaxModuleBytes: 20, MaxStderrBytes: 1}},
		{name: "higher clamped", unit: Limits{MemoryMiB: 4096, Timeout: time.Hour, MaxOutputBytes: 1 << 30, MaxModuleBytes: 1 << 30, MaxStderrBytes: 1 << 20}, want: pool},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.unit.within(pool); got != tt.want {
				t.Errorf("%+v.within(%+v) = %+v, want %+v", tt.unit, pool, got, tt.want)
			}
		})
	}
	if got := (Limits{}).withDefaults(); got != DefaultLimits() {
		t.Errorf("Limits{}.withDefaults() = %+v, want %+v", got, DefaultLimits())
	}
}

// TestLimitsAboveDefaultsKept pins that limits above the defaults survive
// withDefaults, in a pool's Config and in the child: they were lowered to
// the defaults (60s, 256 MiB), so a node whose pool allows 30 minutes ran
// every unit, even one asking for 5 minutes, under 60s (issue 14: the
// JavaScript runtime's first compile on a loaded machine took longer).
func TestLimitsAboveDefaultsKept(t *testing.T) {
	big := Limits{MemoryMiB: 4096, Timeout: 30 * time.Minute, MaxOutputBytes: 1 << 30, MaxModuleBytes: 1 << 30, MaxStderrBytes: 1 << 20}
	if got := big.withDefaults(); got != big {
		t.Errorf("%+v.withDefaults() = %+v, want it unchanged", big, got)
	}
	cfg := DefaultConfig()
	cfg.Command = []string{"child"}
	cfg.Limits = Limits{Timeout: 30 * time.Minute, MemoryMiB: 1024}
	got, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got.Limits.Timeout != 30*time.Minute || got.Limits.MemoryMiB != 1024 {
		t.Errorf("Config.withDefaults() limits = %+v, want Timeout 30m and MemoryMiB 1024 kept", got.Limits)
	}
	if unit := (Limits{Timeout: 5 * time.Minute}).within(got.Limits); unit.Timeout != 5*time.Minute {
		t.Errorf("a unit asking 5m in that pool gets %v", unit.Timeout)
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name string
		l    Limits
		ok   bool
	}{
		{name: "zero", l: Limits{}, ok: true},
		{name: "defaults", l: DefaultLimits(), ok: true},
		{name: "negative memory", l: Limits{MemoryMiB: -1}},
		{name: "memory past 4 GiB", l: Limits{MemoryMiB: MaxMemoryMiB + 1}},
		{name: "negative timeout", l: Limits{Timeout: -time.Second}},
		{name: "output past 1 GiB", l: Limits{MaxOutputBytes: MaxOutputBytesLimit + 1}},
		{name: "negative module", l: Limits{MaxModuleBytes: -1}},
		{name: "stderr past 16 MiB", l: Limits{MaxStderrBytes: MaxStderrBytesLimit + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.l.validate(); (err == nil) != tt.ok {
				t.Errorf("%+v.validate() = %v, want ok %v", tt.l, err, tt.ok)
			}
		})
	}
}

func TestReasonText(t *testing.T) {
	for r := ReasonNone; r <= maxReason; r++ {
		b, err := r.MarshalText()
		if err != nil {
			t.Fatalf("%d.MarshalText: %v", r, err)
		}
		var back Reason
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, back, err, r)
		}
	}
	if _, err := (maxReason + 1).MarshalText(); err == nil {
		t.Errorf("MarshalText of an unknown reason = nil error")
	}
	var r Reason
	if err := r.UnmarshalText([]byte("nope")); err == nil {
		t.Errorf("UnmarshalText(nope) = nil error")
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Reason: ReasonTimeout, Detail: "ran past 1s"}, "sandbox: unit timeout: ran past 1s"},
		{&Error{Reason: ReasonExit, ExitCode: 2}, "sandbox: unit exit 2"},
		{&Error{Reason: ReasonCanceled, Err: ErrClosed}, "sandbox: unit canceled"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if !errors.Is(&Error{Reason: ReasonCanceled, Err: ErrClosed}, ErrClosed) {
		t.Errorf("errors.Is(Error{Err: ErrClosed}, ErrClosed) = false")
	}
}
