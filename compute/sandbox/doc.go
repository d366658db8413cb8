// Package sandbox runs untrusted WebAssembly work units (WASI preview 1
// commands) with wazero, in warm child processes, so that no module can take
// the worker daemon down.
//
// A unit sees no network and no host filesystem except its input directory,
// mounted read-only at /input; its argv[0] is "unit" and its environment is
// exactly what the caller passes. Its clock and random source are virtual and
// deterministic: the same module, arguments, environment, input and seed give
// byte-identical stdout on every run, so replicated results can be compared
// by hash. Each unit runs under Limits: a linear-memory cap, a wall-time
// deadline, and caps on stdout, stderr and module size.
//
// # Processes
//
// A [Pool] owns child processes, each running [ChildMain] (the enxame binary's
// hidden "sandbox-child" subcommand). A child compiles modules once, keeps
// them compiled in memory by module key (with an optional on-disk wazero
// compilation cache shared by all children), and runs one unit at a time. The
// parent speaks to it over its stdin and stdout with the length-prefixed
// binary protocol described in DESIGN.md, and trusts nothing it says: every
// frame has a hard size cap and every field is checked. A child that dies,
// misses its deadline by more than a grace period, grows past its memory
// budget (derived from its unit's limits) or breaks the protocol is killed,
// and a warm spare takes its place. WebAssembly tables, which wazero keeps
// outside the linear memory, are bounded and counted against the memory
// cap. The on-disk cache keeps at most Config.MaxCacheBytes, least recently
// used modules going first.
//
// # Isolation
//
// On Linux each child confines itself before it reads a unit, without root:
// Landlock (read only Config.UnitDirs, the cache and its own binary; write
// only the cache), no_new_privs, a seccomp filter (no sockets, no new
// processes, no exec, no ptrace...) and RLIMIT_FSIZE; Pool.Isolation reports
// what is active. Elsewhere only the process boundary stands. DESIGN.md,
// Isolation, has the details.
//
// # Callers' duties
//
//  1. Build a Config whose Command starts the child entry point: for the
//     enxame binary, []string{exe, "sandbox-child"}, where the hidden
//     subcommand calls os.Exit(sandbox.ChildMain(os.Stdin, os.Stdout))
//     before it reads anything else. Set UnitDirs to where units' modules
//     and inputs are staged.
//  2. New(cfg, logger); defer Close.
//  3. Run(ctx, unit) from as many goroutines as you like; at most
//     Config.Slots units run at once. A nil error means the unit exited 0;
//     otherwise errors.As(err, &*sandbox.Error) gives the Reason.
//
// sandbox imports only the standard library, golang.org/x/sys and wazero;
// it must not import
// node, cli, share or dht.
package sandbox
