package script

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/enxame/enxame/compute/wire"
	"github.com/google/go-cmp/cmp"
)

func TestPartBytesIsTheWireCap(t *testing.T) {
	if PartBytes != wire.MaxArgLen {
		t.Errorf("PartBytes = %d, want wire.MaxArgLen %d", PartBytes, wire.MaxArgLen)
	}
}

func TestEncodeDecode(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		parts int
	}{
		{"empty", "", 0},
		{"short", "print('hi')\n", 1},
		{"exactly one part", strings.Repeat("a", PartBytes), 1},
		{"one byte over a part", strings.Repeat("a", PartBytes+1), 2},
		{"multibyte across a cut", strings.Repeat("a", PartBytes-1) + "é" + "b", 2},
		{"largest", strings.Repeat("ção", MaxBytes/len("ção")), MaxBytes/(PartBytes-1) + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, err := Encode("job.star", []byte(tt.src))
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if got := len(args) - 3; got > tt.parts || got < tt.parts-1 {
				t.Errorf("Encode gave %d parts, want about %d", got, tt.parts)
			}
			for i, a := range args {
				if len(a) > PartBytes || !utf8.ValidString(a) {
					t.Errorf("argument %d: %d bytes, UTF-8 %v; want at most %d bytes of UTF-8", i, len(a), utf8.ValidString(a), PartBytes)
				}
			}
			name, src, rest, err := Decode(append(args, "x", "--script"))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if name != "job.star" || src != tt.src {
				t.Errorf("Decode = %q, %d bytes; want job.star, %d bytes", name, len(src), len(tt.src))
			}
			if diff := cmp.Diff([]string{"x", "--script"}, rest); diff != "" {
				t.Errorf("Decode rest mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name, file, src string
	}{
		{"too large", "a.star", strings.Repeat("a", MaxBytes+1)},
		{"not UTF-8", "a.star", "print('\xff')"},
		{"NUL", "a.star", "a\x00b"},
		{"no name", "", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if args, err := Encode(tt.file, []byte(tt.src)); err == nil {
				t.Errorf("Encode(%q, %.20q) = %d args, want an error", tt.file, tt.src, len(args))
			}
		})
	}
	if _, err := Encode("a", make([]byte, MaxBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Encode of %d bytes: %v, want ErrTooLarge", MaxBytes+1, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"none", nil},
		{"not a script", []string{"-list", "1", "2"}},
		{"no count", []string{Flag, "a"}},
		{"bad count", []string{Flag, "a", "x"}},
		{"negative count", []string{Flag, "a", "-1"}},
		{"too many parts", []string{Flag, "a", "1000"}},
		{"missing parts", []string{Flag, "a", "2", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, _, err := Decode(tt.args); !errors.Is(err, ErrNotScript) {
				t.Errorf("Decode(%q) error = %v, want ErrNotScript", tt.args, err)
			}
		})
	}
	big := []string{Flag, "a", "9"}
	for range 9 {
		big = append(big, strings.Repeat("a", PartBytes))
	}
	if _, _, _, err := Decode(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode of 9 full parts: %v, want ErrTooLarge", err)
	}
}

func TestInput(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"b/x": "2", "a": "1", "c": "3"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := Input{Dir: dir}
	names, err := in.Files()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b/x", "c"}, names); diff != "" {
		t.Errorf("Files mismatch (-want +got):\n%s", diff)
	}
	if all, err := in.ReadAll(); err != nil || string(all) != "123" {
		t.Errorf("ReadAll = %q, %v; want 123", all, err)
	}
	if b, err := in.Read("b/x"); err != nil || string(b) != "2" {
		t.Errorf("Read(b/x) = %q, %v; want 2", b, err)
	}
	for _, bad := range []string{"../a", "/a", "nosuch", "b/../a", "", "."} {
		if _, err := in.Read(bad); err == nil {
			t.Errorf("Read(%q) gave no error", bad)
		}
	}
	none := Input{Dir: filepath.Join(dir, "missing")}
	if names, err := none.Files(); err != nil || len(names) != 0 {
		t.Errorf("Files of a missing directory = %q, %v; want none", names, err)
	}
	if all, err := none.ReadAll(); err != nil || len(all) != 0 {
		t.Errorf("ReadAll of a missing directory = %q, %v; want empty", all, err)
	}
}

// FuzzDecode: Decode never panics on any arguments, never returns a source
// over MaxBytes, and Encode → Decode gives back the script.
func FuzzDecode(f *testing.F) {
	f.Add("job.star", "print(1)\n", "--script\x00a\x002\x00x\x00y")
	f.Add("a.js", strings.Repeat("é", 3000), "--script\x00a\x00-1")
	f.Add("x", "", "--script\x00a\x00999999999999999999999")
	f.Add("x", "", "")
	f.Fuzz(func(t *testing.T, name, src, raw string) {
		args := strings.Split(raw, "\x00")
		if _, s, rest, err := Decode(args); err == nil {
			if len(s) > MaxBytes || len(rest) > len(args) {
				t.Fatalf("Decode(%q) = %d bytes, %d rest", args, len(s), len(rest))
			}
		}
		enc, err := Encode(name, []byte(src))
		if err != nil {
			return
		}
		gotName, gotSrc, rest, err := Decode(append(enc, "tail"))
		if err != nil || gotName != name || gotSrc != src || len(rest) != 1 || rest[0] != "tail" {
			t.Fatalf("Decode(Encode(%q, %q)) = %q, %q, %q, %v", name, src, gotName, gotSrc, rest, err)
		}
		for _, a := range enc {
			if len(a) > PartBytes {
				t.Fatalf("Encode gave an argument of %d bytes", len(a))
			}
		}
	})
}
