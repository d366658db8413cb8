package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/enxame/enxame/compute/sandbox"
)

// A worker daemon runs units in children started from its own binary, whose
// hidden "sandbox-child" subcommand calls ChildMain.
func ExamplePool() {
	exe, err := os.Executable()
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := sandbox.DefaultConfig()
	cfg.Command = []string{exe, "sandbox-child"}
	cfg.CacheDir = "/var/lib/enxame/wazero-cache"
	pool, err := sandbox.New(cfg, slog.Default())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()

	res, err := pool.RunUnit(context.TODO(), sandbox.Unit{
		ModuleKey:  "bafkreig...", // the module's CID
		ModulePath: "/var/lib/enxame/blocks/wordcount.wasm",
		InputDir:   "/var/lib/enxame/units/42/input",
	})
	var unitErr *sandbox.Error
	switch {
	case errors.As(err, &unitErr):
		fmt.Println("unit failed:", unitErr.Reason, unitErr.Detail)
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Printf("%s", res.Stdout)
	}
}

// The enxame binary's hidden subcommand is one line.
func ExampleChildMain() {
	if len(os.Args) > 1 && os.Args[1] == "sandbox-child" {
		os.Exit(sandbox.ChildMain(os.Stdin, os.Stdout))
	}
}
