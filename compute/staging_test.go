package compute

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/enxame/enxame/compute/wire"
	"github.com/ipfs/go-cid"
)

// TestWorkerInputCapAskedOfContent pins issue 11 finding 2: the worker asks
// Content for no more than its caps (the module's, the inputs' budget left),
// so that a fetch can stop as soon as it passes them, and a unit whose
// input passes the cap fails with input-too-large.
func TestWorkerInputCapAskedOfContent(t *testing.T) {
	sw := newSwarm()
	const inCap = 64 << 10
	w := sw.startWorker(t, WorkerConfig{Slots: 1, MaxInputBytes: inCap}, newPool(t, 1))
	c := client{h: newHost(t)}
	connect(t, c, w)
	mod := sw.hostileModule(t)
	small := sw.content.putBytes(t, bytes.Repeat([]byte("a"), 1000))
	big := sw.content.putBytes(t, make([]byte, 4*inCap))

	msgs := c.runUnit(t, w.h.ID(), &wire.RunUnit{Job: "cap", Unit: 0, Module: mod, Inputs: wireCIDs(small, big), Args: []string{"ok"}})
	f, ok := final(msgs).(*wire.Failed)
	if !ok {
		t.Fatalf("run with a big input: final message %#v, want Failed", final(msgs))
	}
	if f.Reason != "input-too-large" || !f.Deterministic {
		t.Errorf("run with a big input: Failed{%q, %q, deterministic %v}, want input-too-large, deterministic", f.Reason, f.Detail, f.Deterministic)
	}
	for _, g := range sw.content.getsOf(mod) {
		if g.maxBytes <= 0 || g.maxBytes > DefaultMaxModuleBytes {
			t.Errorf("Get(module) asked for %d bytes, want in (0, %d]", g.maxBytes, DefaultMaxModuleBytes)
		}
	}
	if gs := sw.content.getsOf(small); len(gs) != 1 || gs[0].maxBytes != inCap {
		t.Errorf("Get(first input) calls = %+v, want one for %d bytes", gs, inCap)
	}
	if gs := sw.content.getsOf(big); len(gs) != 1 || gs[0].maxBytes != inCap-1000 {
		t.Errorf("Get(big input) calls = %+v, want one for %d bytes (the budget left)", gs, inCap-1000)
	}
}

func wireCIDs(cs ...cid.Cid) []cid.Cid { return cs }

// TestCacheStagingNoSymlinkFollow pins issue 11 finding 1 (the sandbox's
// input staging): a symlink planted in a unit's directory or in the cache
// never redirects a write outside the worker's directory, nor stages a
// file from outside it.
func TestCacheStagingNoSymlinkFollow(t *testing.T) {
	content := newMemContent()
	data := []byte("attacker's bytes")
	c := content.putBytes(t, data)

	tests := []struct {
		name  string
		plant func(t *testing.T, dir, outside string) // dir is the worker's
		dst   string
	}{
		{"unit input dir is a symlink out", func(t *testing.T, dir, outside string) {
			mustMkdir(t, filepath.Join(dir, "units", "u"))
			mustSymlink(t, outside, filepath.Join(dir, "units", "u", "input"))
		}, "units/u/input/000000"},
		{"units dir is a symlink out", func(t *testing.T, dir, outside string) {
			os.RemoveAll(filepath.Join(dir, "units"))
			mustSymlink(t, outside, filepath.Join(dir, "units"))
		}, "units/module.wasm"},
		{"unit file is a symlink to a victim", func(t *testing.T, dir, outside string) {
			mustMkdir(t, filepath.Join(dir, "units", "u"))
			mustSymlink(t, filepath.Join(outside, "victim"), filepath.Join(dir, "units", "u", "module.wasm"))
		}, "units/u/module.wasm"},
		{"cache dir is a symlink out", func(t *testing.T, dir, outside string) {
			os.RemoveAll(filepath.Join(dir, "cache"))
			mustSymlink(t, outside, filepath.Join(dir, "cache"))
			mustMkdir(t, filepath.Join(dir, "units", "u"))
		}, "units/u/module.wasm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, outside := t.TempDir(), t.TempDir()
			victim := filepath.Join(outside, "victim")
			if err := os.WriteFile(victim, []byte("victim"), 0o644); err != nil {
				t.Fatal(err)
			}
			mustMkdir(t, filepath.Join(dir, "cache"))
			mustMkdir(t, filepath.Join(dir, "units"))
			tt.plant(t, dir, outside)
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			b := newBlobCache(root, "cache", 1<<20)
			_, err = b.fetch(t.Context(), content, c, 1<<20, tt.dst)
			if err == nil {
				t.Errorf("fetch to %s = nil error, want the planted symlink refused", tt.dst)
			}
			ents, err := os.ReadDir(outside)
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) != 1 || ents[0].Name() != "victim" {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Errorf("outside dir after fetch holds %q, want only the victim", names)
			}
			if got, _ := os.ReadFile(victim); string(got) != "victim" {
				t.Errorf("victim after fetch = %q, want unchanged", got)
			}
		})
	}

	// A symlink planted in the cache under a cached CID's name is not
	// staged into a unit (the unit would read a file outside).
	t.Run("cached entry is a symlink", func(t *testing.T) {
		dir, outside := t.TempDir(), t.TempDir()
		victim := filepath.Join(outside, "victim")
		if err := os.WriteFile(victim, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		mustMkdir(t, filepath.Join(dir, "cache"))
		mustMkdir(t, filepath.Join(dir, "units", "u"))
		root, err := os.OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		b := newBlobCache(root, "cache", 1<<20)
		if _, err := b.fetch(t.Context(), content, c, 1<<20, "units/u/a"); err != nil {
			t.Fatalf("first fetch: %v", err)
		}
		p := filepath.Join(dir, "cache", c.String())
		os.Remove(p)
		mustSymlink(t, victim, p)
		_, err = b.fetch(t.Context(), content, c, 1<<20, "units/u/b")
		if got, rerr := os.ReadFile(filepath.Join(dir, "units", "u", "b")); rerr == nil && string(got) != string(data) {
			t.Errorf("staged file = %q (fetch err %v), want the content's bytes or nothing", got, err)
		}
		if fi, lerr := os.Lstat(filepath.Join(dir, "units", "u", "b")); lerr == nil && !fi.Mode().IsRegular() {
			t.Errorf("staged file is %v, want a regular file", fi.Mode())
		}
	})
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
}
