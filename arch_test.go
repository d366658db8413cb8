package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/enxame/enxame"

// pkgImports lists, for every package of the module, its direct imports
// (from non-test files), as `go list -json ./...` reports them.
func pkgImports(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-json=ImportPath,Imports", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p.Imports
	}
	return pkgs
}

// under reports whether pkg (relative to the module, "" for the root) is dir
// or below it.
func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

func isStd(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

// archRule is one forbidden-import rule of STYLE.md §2.
type archRule struct {
	name string
	// applies reports whether the rule covers the importing package.
	applies func(pkg string) bool
	// forbidden reports whether imp may not be imported by such a package.
	forbidden func(imp string) bool
}

func own(imp string) (string, bool) {
	if imp == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(imp, module+"/")
	return rel, ok
}

func ownUnder(dirs ...string) func(string) bool {
	return func(imp string) bool {
		rel, ok := own(imp)
		if !ok {
			return false
		}
		for _, d := range dirs {
			if under(rel, d) {
				return true
			}
		}
		return false
	}
}

var archRules = []archRule{
	{
		name:      "share never imports node, cli, dht, compute or simnet",
		applies:   func(p string) bool { return under(p, "share") },
		forbidden: ownUnder("node", "cli", "dht", "compute", "simnet"),
	},
	{
		name:      "compute never imports node, cli, dht, share or simnet",
		applies:   func(p string) bool { return under(p, "compute") },
		forbidden: ownUnder("node", "cli", "dht", "share", "simnet"),
	},
	{
		name:      "dht never imports share, compute, node, cli or simnet",
		applies:   func(p string) bool { return under(p, "dht") },
		forbidden: ownUnder("share", "compute", "node", "cli", "simnet"),
	},
	{
		name:      "node never imports cli or simnet",
		applies:   func(p string) bool { return under(p, "node") },
		forbidden: ownUnder("cli", "simnet"),
	},
	{
		name:      "only main imports cli",
		applies:   func(p string) bool { return p != "" && !under(p, "cli") },
		forbidden: ownUnder("cli"),
	},
	{
		name: "production code never imports test helpers",
		// simnet is the exception: virtual time exists only inside a
		// testing/synctest bubble, which simnet.Bubble obtains for the
		// `enxame simnet` command through testing.MainStart.
		applies: func(p string) bool {
			return !under(p, "internal/nodetest") && !under(p, "internal/kubotest") && !strings.HasSuffix(p, "test") &&
				!under(p, "simnet")
		},
		forbidden: func(imp string) bool {
			rel, ok := own(imp)
			return imp == "testing" || ok && (strings.HasSuffix(rel, "test") || under(rel, "internal/kubotest"))
		},
	},
	{
		name: "outside node, simnet and internal/nodetest only libp2p core/... (and gologshim in cli)",
		applies: func(p string) bool {
			return !under(p, "node") && !under(p, "simnet") && !under(p, "internal/nodetest") && !under(p, "bench")
		},
		forbidden: func(imp string) bool {
			const lp = "github.com/libp2p/go-libp2p"
			if imp == lp+"/gologshim" {
				return false
			}
			return imp == lp || strings.HasPrefix(imp, lp+"/") && !strings.HasPrefix(imp, lp+"/core/")
		},
	},
	{
		name:    "pure cores import only the standard library, go-cid and core/peer",
		applies: func(p string) bool { return p == "share/plan" || p == "compute/sched" },
		forbidden: func(imp string) bool {
			return !isStd(imp) && imp != "github.com/ipfs/go-cid" && imp != "github.com/libp2p/go-libp2p/core/peer"
		},
	},
}

// TestArchitecture fails on any import edge that STYLE.md §2 forbids. Fix a
// failure by restructuring the code, not by editing the rules.
func TestArchitecture(t *testing.T) {
	pkgs := pkgImports(t)
	for _, must := range []string{"", "cli", "node", "dht", "share/plan", "compute/sched"} {
		if _, ok := pkgs[must]; !ok {
			t.Fatalf("go list did not report package %q; got %d packages", must, len(pkgs))
		}
	}
	names := make([]string, 0, len(pkgs))
	for p := range pkgs {
		names = append(names, p)
	}
	slices.Sort(names)
	for _, r := range archRules {
		for _, p := range names {
			if !r.applies(p) {
				continue
			}
			for _, imp := range pkgs[p] {
				if r.forbidden(imp) {
					t.Errorf("%s: %s imports %s", r.name, displayPkg(p), imp)
				}
			}
		}
	}
}

// TestArchitectureRules checks that the rules catch the edges they name.
func TestArchitectureRules(t *testing.T) {
	tests := []struct {
		pkg, imp string
		want     bool
	}{
		{"share", module + "/node", true},
		{"share/wire", module + "/dht", true},
		{"share", module + "/share/plan", false},
		{"compute", module + "/share", true},
		{"compute", module + "/compute/sandbox", false},
		{"dht", module + "/node", true},
		{"node", module + "/cli", true},
		{"node", module + "/dht", false},
		{"share", "github.com/libp2p/go-libp2p/p2p/host/basic", true},
		{"share", "github.com/libp2p/go-libp2p/core/host", false},
		{"node", "github.com/libp2p/go-libp2p/p2p/host/basic", false},
		{"share/plan", "github.com/ipfs/boxo/blockstore", true},
		{"share/plan", "github.com/libp2p/go-libp2p/core/peer", false},
		{"node", "testing", true},
		{"cli", module + "/internal/nodetest", true},
		{"simnet", "testing", false},
		{"share", "testing", true},
		{"", module + "/cli", false},
		{"dht", module + "/cli", true},
	}
	for _, tt := range tests {
		got := false
		for _, r := range archRules {
			if r.applies(tt.pkg) && r.forbidden(tt.imp) {
				got = true
			}
		}
		if got != tt.want {
			t.Errorf("rules forbid %s → %s = %v, want %v", displayPkg(tt.pkg), tt.imp, got, tt.want)
		}
	}
}

func displayPkg(p string) string {
	if p == "" {
		return fmt.Sprintf("%s (main)", module)
	}
	return module + "/" + p
}
