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

// graph maps every package the module's packages depend on (theirs, the
// standard library's and third parties') by import path to its direct
// imports from non-test files, as `go list -deps -json ./...` reports them.
type graph map[string][]string

// loadGraph runs go list and returns the graph and the module's packages
// (relative to the module, "" for the root), sorted.
func loadGraph(t *testing.T) (graph, []string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-deps", "-json=ImportPath,Imports,Module", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	g := graph{}
	var mine []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
			Module     *struct{ Path string }
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		g[p.ImportPath] = p.Imports
		if p.Module != nil && p.Module.Path == module {
			rel, _ := own(p.ImportPath)
			mine = append(mine, rel)
		}
	}
	slices.Sort(mine)
	return g, mine
}

// own returns imp relative to the module ("" for the root) and whether imp
// is one of the module's packages.
func own(imp string) (string, bool) {
	if imp == module {
		return "", true
	}
	return strings.CutPrefix(imp, module+"/")
}

// abs is the import path of the module's package rel.
func abs(rel string) string {
	if rel == "" {
		return module
	}
	return module + "/" + rel
}

func isStd(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

// under reports whether pkg (relative to the module, "" for the root) is dir
// or below it.
func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

// ownUnder returns a forbidden func matching the module's packages in dirs
// and below.
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

// archRule is one import rule of STYLE.md §2.
type archRule struct {
	name string
	// transitive makes the rule cover every package the importer depends
	// on, directly or through others; otherwise only its direct imports.
	transitive bool
	// applies reports whether the rule covers the importing package.
	applies func(pkg string) bool
	// forbidden reports whether such a package may not import imp (an
	// import path).
	forbidden func(imp string) bool
	// allow lists the edges that break the rule today, each with what would
	// have to move to remove it. It only shrinks: TestArchitecture fails on
	// an entry that matches no edge, so whoever removes an edge deletes its
	// entry.
	allow []allowance
}

// allowance is an edge pkg → imp (both relative to the module) a rule lets
// through for now, and why it exists.
type allowance struct{ pkg, imp, why string }

var archRules = []archRule{
	{
		name:       "share never depends on node, cli, dht, compute or simnet",
		transitive: true,
		applies:    func(p string) bool { return under(p, "share") },
		forbidden:  ownUnder("node", "cli", "dht", "compute", "simnet"),
	},
	{
		name:       "compute never depends on node, cli, dht, share or simnet",
		transitive: true,
		applies:    func(p string) bool { return under(p, "compute") },
		forbidden:  ownUnder("node", "cli", "dht", "share", "simnet"),
	},
	{
		name:       "dht never depends on share, compute, node, cli or simnet",
		transitive: true,
		applies:    func(p string) bool { return under(p, "dht") },
		forbidden:  ownUnder("share", "compute", "node", "cli", "simnet"),
	},
	{
		name:       "node never depends on cli or simnet",
		transitive: true,
		applies:    func(p string) bool { return under(p, "node") },
		forbidden:  ownUnder("cli", "simnet"),
	},
	{
		name:       "node/control never depends on compute, share, dht, cli or simnet: the API has its own types",
		transitive: true,
		applies:    func(p string) bool { return p == "node/control" },
		forbidden:  ownUnder("compute", "share", "dht", "cli", "simnet"),
	},
	{
		name:       "nothing but main depends on cli",
		transitive: true,
		applies:    func(p string) bool { return p != "" && !under(p, "cli") },
		forbidden:  ownUnder("cli"),
	},
	{
		name:    "cli imports, of the module's packages, only node, node/control and simnet",
		applies: func(p string) bool { return under(p, "cli") },
		forbidden: func(imp string) bool {
			rel, ok := own(imp)
			return ok && rel != "node" && rel != "node/control" && rel != "simnet"
		},
	},
	{
		name: "production code never imports the testing package",
		// simnet is the exception: virtual time exists only inside a
		// testing/synctest bubble, which simnet.Bubble obtains for the
		// `enxame simnet` command through testing.MainStart. This rule is
		// direct so that cli and main may import simnet.
		applies: func(p string) bool { return !isTestHelper(p) && !under(p, "simnet") },
		forbidden: func(imp string) bool {
			return imp == "testing"
		},
	},
	{
		name:       "production code never depends on the module's test helpers",
		transitive: true,
		applies:    func(p string) bool { return !isTestHelper(p) },
		forbidden: func(imp string) bool {
			rel, ok := own(imp)
			return ok && isTestHelper(rel)
		},
	},
	{
		name: "outside node, simnet and internal/nodetest only libp2p core/... (and gologshim)",
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
		name: "pure cores import only the standard library, go-cid and core/peer",
		applies: func(p string) bool {
			return p == "share/plan" || p == "share/provide" || p == "share/search" || p == "compute/sched"
		},
		forbidden: func(imp string) bool {
			return !isStd(imp) && imp != "github.com/ipfs/go-cid" && imp != "github.com/libp2p/go-libp2p/core/peer"
		},
	},
}

// isTestHelper reports whether p, one of the module's packages, exists for
// tests: internal/nodetest, internal/kubotest and any package named *test.
func isTestHelper(p string) bool {
	return under(p, "internal/nodetest") || under(p, "internal/kubotest") || strings.HasSuffix(p, "test")
}

// violation is a forbidden edge: a package reaches imp through path (import
// paths, the package first, imp last).
type violation struct {
	rule *archRule
	path []string
}

func (v violation) pkg() string { rel, _ := own(v.path[0]); return rel }
func (v violation) imp() string { return v.path[len(v.path)-1] }

func (v violation) String() string {
	names := make([]string, len(v.path))
	for i, p := range v.path {
		names[i] = displayPkg(p)
	}
	return fmt.Sprintf("%s: %s", v.rule.name, strings.Join(names, " → "))
}

// check returns the edges of g from the module's packages pkgs (relative
// names) that the rules forbid, in a stable order, allowed ones included.
func check(g graph, pkgs []string, rules []archRule) []violation {
	var out []violation
	for i := range rules {
		r := &rules[i]
		for _, p := range pkgs {
			if !r.applies(p) {
				continue
			}
			if !r.transitive {
				for _, imp := range g[abs(p)] {
					if r.forbidden(imp) {
						out = append(out, violation{r, []string{abs(p), imp}})
					}
				}
				continue
			}
			for _, path := range reach(g, abs(p)) {
				if r.forbidden(path[len(path)-1]) {
					out = append(out, violation{r, path})
				}
			}
		}
	}
	return out
}

// reach returns, for every package p depends on, a shortest import path
// from p to it, in breadth-first order (imports in go list's order).
func reach(g graph, p string) [][]string {
	prev := map[string]string{p: p}
	queue := []string{p}
	var paths [][]string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, imp := range g[cur] {
			if _, seen := prev[imp]; seen {
				continue
			}
			prev[imp] = cur
			queue = append(queue, imp)
			path := []string{imp}
			for at := cur; ; at = prev[at] {
				path = append(path, at)
				if at == p {
					break
				}
			}
			slices.Reverse(path)
			paths = append(paths, path)
		}
	}
	return paths
}

// TestArchitecture fails on any import edge that STYLE.md §2 forbids, direct
// or (for the rules about the module's layers) through other packages. Fix
// a failure by restructuring the code, not by editing the rules.
func TestArchitecture(t *testing.T) {
	g, mine := loadGraph(t)
	for _, must := range []string{"", "cli", "node", "dht", "share/plan", "compute/sched"} {
		if !slices.Contains(mine, must) {
			t.Fatalf("go list did not report package %q; got %d packages", must, len(mine))
		}
	}
	used := map[*allowance]bool{}
	for _, v := range check(g, mine, archRules) {
		if a := v.rule.allowed(v.pkg(), v.imp()); a != nil {
			used[a] = true
			continue
		}
		t.Error(v)
	}
	for i := range archRules {
		r := &archRules[i]
		for j := range r.allow {
			if a := &r.allow[j]; !used[a] {
				t.Errorf("%s: allowed edge %s → %s is gone: delete its entry", r.name, displayPkg(abs(a.pkg)), displayPkg(abs(a.imp)))
			}
		}
	}
}

// allowed returns r's allowance for the edge pkg → imp, or nil.
func (r *archRule) allowed(pkg, imp string) *allowance {
	for i := range r.allow {
		if r.allow[i].pkg == pkg && abs(r.allow[i].imp) == imp {
			return &r.allow[i]
		}
	}
	return nil
}

// TestArchitectureRules checks that the rules catch the edges they name.
func TestArchitectureRules(t *testing.T) {
	const m = module + "/"
	tests := []struct {
		pkg, imp string
		want     bool
	}{
		{"share", m + "node", true},
		{"share/wire", m + "dht", true},
		{"share", m + "share/plan", false},
		{"compute", m + "share", true},
		{"compute", m + "compute/sandbox", false},
		{"dht", m + "node", true},
		{"node", m + "cli", true},
		{"node", m + "dht", false},
		{"share", "github.com/libp2p/go-libp2p/p2p/host/basic", true},
		{"share", "github.com/libp2p/go-libp2p/core/host", false},
		{"node", "github.com/libp2p/go-libp2p/p2p/host/basic", false},
		{"share/plan", "github.com/ipfs/boxo/blockstore", true},
		{"share/plan", "github.com/libp2p/go-libp2p/core/peer", false},
		{"node", "testing", true},
		{"cli", m + "internal/nodetest", true},
		{"cli", m + "share", true},
		{"cli", m + "node/control", false},
		{"cli", m + "simnet", false},
		{"cli", "github.com/spf13/cobra", false},
		{"simnet", "testing", false},
		{"simnet", m + "internal/nodetest", true},
		{"share", "testing", true},
		{"", m + "cli", false},
		{"dht", m + "cli", true},
	}
	for _, tt := range tests {
		got := false
		for _, r := range archRules {
			if r.applies(tt.pkg) && r.forbidden(tt.imp) {
				got = true
			}
		}
		if got != tt.want {
			t.Errorf("rules forbid %s → %s = %v, want %v", displayPkg(abs(tt.pkg)), tt.imp, got, tt.want)
		}
	}
}

// TestArchitectureTransitive checks that check follows imports through
// other packages for the transitive rules only, and names the path.
func TestArchitectureTransitive(t *testing.T) {
	g := graph{
		abs("share"):           {abs("share/wire"), "github.com/x/lib"},
		abs("share/wire"):      {"fmt", abs("internal/varint")},
		abs("internal/varint"): {abs("node")},
		abs("node"):            {"github.com/libp2p/go-libp2p/p2p/host/basic"},
		"github.com/x/lib":     {"testing"},
		abs("cli"):             {abs("node"), abs("share")},
	}
	pkgs := []string{"cli", "internal/varint", "node", "share", "share/wire"}
	var got []string
	for _, v := range check(g, pkgs, archRules) {
		got = append(got, v.String())
	}
	path := func(rels ...string) string {
		names := make([]string, len(rels))
		for i, r := range rels {
			names[i] = displayPkg(abs(r))
		}
		return strings.Join(names, " → ")
	}
	want := []string{
		"share never depends on node, cli, dht, compute or simnet: " + path("share", "share/wire", "internal/varint", "node"),
		"share never depends on node, cli, dht, compute or simnet: " + path("share/wire", "internal/varint", "node"),
		"cli imports, of the module's packages, only node, node/control and simnet: " + path("cli", "share"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("check() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// displayPkg is an import path, with the root package marked as main.
func displayPkg(p string) string {
	if p == module {
		return module + " (main)"
	}
	return p
}
