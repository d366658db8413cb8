// Package kubo runs and drives a real Kubo (IPFS) daemon for enxame's interop
// tests and baselines: it finds or builds the pinned Kubo binary, starts a
// private daemon on 127.0.0.1 with a fresh repository, and wraps the `ipfs`
// command line (add, cat, get, pin, swarm) with errors that carry Kubo's own
// message.
//
// The binary is built from the separate module in tools/kubo by
// scripts/build-kubo.sh and cached outside the repository, at CachePath.
//
// Tests use internal/kubotest, which wraps this package with testing.TB,
// timeouts and cleanups; tools such as bench/kubo use it directly. The package
// imports only the standard library and never imports testing.
package kubo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Version is the Kubo release enxame interoperates with and benchmarks
// against. It must match the github.com/ipfs/kubo requirement in
// tools/kubo/go.mod (a test checks this).
const Version = "0.43.1"

// Environment variables read by this package.
const (
	// EnvBinary names a Kubo binary to use instead of the cached build.
	EnvBinary = "ENXAME_KUBO_BIN"
	// EnvDir overrides the cache directory, by default
	// $HOME/.cache/enxame/kubo. scripts/build-kubo.sh reads it too.
	EnvDir = "ENXAME_KUBO_DIR"
)

// ErrNotFound reports that no Kubo binary is available without building one.
var ErrNotFound = errors.New("kubo: binary not found")

// CachePath returns where scripts/build-kubo.sh puts the binary:
// ${ENXAME_KUBO_DIR:-$HOME/.cache/enxame/kubo}/ipfs-v<Version>.
func CachePath() (string, error) {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("kubo: cache path: %w", err)
		}
		dir = filepath.Join(home, ".cache", "enxame", "kubo")
	}
	return filepath.Join(dir, "ipfs-v"+Version), nil
}

// FindBinary returns a usable Kubo binary without building one: the file
// named by ENXAME_KUBO_BIN if that is set (any Kubo version is accepted there,
// so interop can be tried against other releases; an error if it does not run),
// else the cached build if it reports Version. It returns an error wrapping
// ErrNotFound when neither exists; call Build then.
func FindBinary(ctx context.Context) (string, error) {
	if bin := os.Getenv(EnvBinary); bin != "" {
		if _, err := BinaryVersion(ctx, bin); err != nil {
			return "", fmt.Errorf("kubo: %s=%s: %w", EnvBinary, bin, err)
		}
		return bin, nil
	}
	bin, err := CachePath()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%w at %s (run scripts/build-kubo.sh)", ErrNotFound, bin)
	}
	if err := checkVersion(ctx, bin); err != nil {
		return "", fmt.Errorf("%w: cached %s is unusable (%v)", ErrNotFound, bin, err)
	}
	return bin, nil
}

// Binary returns FindBinary's answer, or builds the binary with Build when
// it is missing. ENXAME_KUBO_BIN, when set, is never replaced by a build.
func Binary(ctx context.Context) (string, error) {
	bin, err := FindBinary(ctx)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return bin, err
	}
	return Build(ctx)
}

// Build runs scripts/build-kubo.sh, which builds Kubo into CachePath unless
// a good binary is already there, and returns the path it prints. The script
// is found by walking up from the working directory (and from this source
// file) to the repository root. A cold build downloads Kubo's modules and
// compiles them, which takes several minutes; the script serialises
// concurrent builds. On failure the error carries the tail of the script's
// output.
func Build(ctx context.Context) (string, error) {
	script, err := buildScript()
	if err != nil {
		return "", err
	}
	var stdout bytes.Buffer
	stderr := newTail(16 << 10)
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kubo: build with %s: %v\n%s", script, err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	bin := strings.TrimSpace(lines[len(lines)-1])
	if err := checkVersion(ctx, bin); err != nil {
		return "", fmt.Errorf("kubo: build with %s printed %q: %w", script, bin, err)
	}
	return bin, nil
}

// buildScript finds scripts/build-kubo.sh above the working directory or,
// failing that, above this source file (absent under -trimpath).
func buildScript() (string, error) {
	const rel = "scripts/build-kubo.sh"
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, filepath.FromSlash(rel))
			if _, err := os.Stat(p); err == nil {
				if _, err := os.Stat(filepath.Join(dir, "tools", "kubo", "go.mod")); err == nil {
					return p, nil
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("kubo: cannot find %s above %s", rel, strings.Join(starts, " or "))
}

// BinaryVersion runs `bin version` and returns the version it reports,
// such as "0.43.1".
func BinaryVersion(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "version").CombinedOutput()
	if err != nil {
		if len(bytes.TrimSpace(out)) > 0 {
			err = fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
		}
		return "", fmt.Errorf("%s version: %v", bin, err)
	}
	v, ok := strings.CutPrefix(string(bytes.TrimSpace(out)), "ipfs version ")
	if !ok {
		return "", fmt.Errorf("%s version: unexpected output %q", bin, bytes.TrimSpace(out))
	}
	return v, nil
}

// checkVersion checks that bin reports Version.
func checkVersion(ctx context.Context, bin string) error {
	v, err := BinaryVersion(ctx, bin)
	if err != nil {
		return err
	}
	if v != Version {
		return fmt.Errorf("%s reports version %s, want %s", bin, v, Version)
	}
	return nil
}
