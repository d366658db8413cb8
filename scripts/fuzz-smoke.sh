#!/usr/bin/env bash
# scripts/fuzz-smoke.sh: run every fuzz target in the module for a short smoke.
#
# It finds the targets itself, so a FuzzXxx added anywhere later is run with
# no change here: each package whose test files declare a FuzzXxx function is
# built once as a fuzz-instrumented test binary (`go test -c`, see
# FUZZ_INSTRUMENT), the binary lists its own targets (`-test.list '^Fuzz'`,
# what `go test -list` runs), and each target is fuzzed from that binary in the package's
# directory. `-fuzz` takes one target per run, so the targets of a package
# run one after another. Fuzzing starts by running the target's seed corpus
# (its f.Add inputs and testdata/fuzz/FuzzXxx), so the seeds always run.
#
# A failure names the package and the target, shows the end of the fuzzer's
# output, and the script goes on with the other targets and exits 1 at the
# end. The fuzzer writes the input that failed to the package's
# testdata/fuzz/FuzzXxx/; commit it with the fix.
#
# Environment:
#   FUZZTIME      fuzzing time per target (default 5s; anything -fuzztime takes)
#   FUZZ_TIMEOUT  hard limit per target run, seeds included (default 3m)
#   FUZZ_PKGS     packages to search (default ./...)
#   FUZZ_MATCH    only run targets whose name matches this regexp (default all)
#   FUZZ_INSTRUMENT  "module" (default): coverage of this module's code;
#                 "all": of every package, as `go test -fuzz` (slow first build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PATH="/usr/local/go/bin:$PATH"

fuzztime="${FUZZTIME:-5s}"
# Minimisation is off (-test.fuzzminimizetime 0): minimising a new input can
# outlast a 5 s run on a loaded machine, and the engine then fails the target
# with "context deadline exceeded" (seen with FuzzDecodeRun in CI). A crasher
# is still reported and written to testdata/fuzz, unminimised.
timeout="${FUZZ_TIMEOUT:-3m}"
match="${FUZZ_MATCH:-.}"
cachedir="$(go env GOCACHE)/fuzz"
# Coverage guidance comes from instrumenting the code: by default only this
# module's packages, so that third-party packages come from the build cache
# that earlier builds filled (instrumenting them all, as `go test -fuzz` does, rebuilds
# every dependency: minutes on a fresh machine, for a smoke of seconds).
if [[ "${FUZZ_INSTRUMENT:-module}" == all ]]; then
	instrument=(-fuzz .)
else
	instrument=(-gcflags="$(go list -m)/...=-d=libfuzzer")
fi
bindir="$(mktemp -d "${TMPDIR:-/tmp}/fuzz-smoke.XXXXXX")"
trap 'rm -rf "$bindir"' EXIT

pkgs=()
while read -r pkg dir files; do
	[[ -z "$files" ]] && continue
	if (cd "$dir" && grep -lqE '^func Fuzz[A-Z0-9_]' $files); then
		pkgs+=("$pkg $dir")
	fi
# FUZZ_PKGS and $files are split on purpose.
# shellcheck disable=SC2086
done < <(go list -f '{{.ImportPath}} {{.Dir}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' ${FUZZ_PKGS:-./...})

start=$SECONDS
ran=0
failed=()
for entry in "${pkgs[@]}"; do
	pkg="${entry%% *}"
	dir="${entry#* }"
	bin="$bindir/$(echo "$pkg" | tr '/.' '__').test"
	if ! go test -c "${instrument[@]}" -o "$bin" "$pkg"; then
		echo "FUZZ FAIL: $pkg: test binary does not build" >&2
		failed+=("$pkg (build)")
		continue
	fi
	if ! list="$(cd "$dir" && "$bin" -test.list '^Fuzz')"; then
		echo "FUZZ FAIL: $pkg: the test binary cannot list its targets" >&2
		failed+=("$pkg (list)")
		continue
	fi
	targets="$(grep -E '^Fuzz' <<<"$list" | grep -E -- "$match" || true)"
	for target in $targets; do
		t0=$SECONDS
		log="$bindir/out.log"
		if (cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^${target}\$" -test.fuzztime "$fuzztime" \
			-test.fuzzminimizetime 0 -test.timeout "$timeout" -test.fuzzcachedir "$cachedir/$pkg") >"$log" 2>&1; then
			echo "ok   $pkg $target ($((SECONDS - t0))s)"
		elif grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
			# Go's fuzz engine sometimes ends a -fuzztime run with its own
			# deadline error and no failing input (seen in CI with targets
			# that had found nothing): not a finding of the target.
			echo "ok   $pkg $target ($((SECONDS - t0))s; the engine's deadline error, no failing input)"
		else
			echo "FUZZ FAIL: $pkg $target" >&2
			tail -n 40 "$log" >&2
			echo "(reproduce: cd $dir && go test -run '^${target}\$' ., then -fuzz '^${target}\$' to look further)" >&2
			failed+=("$pkg $target")
		fi
		ran=$((ran + 1))
	done
done

echo "fuzz smoke: $ran targets in ${#pkgs[@]} packages, ${fuzztime} each, $((SECONDS - start))s in all"
if ((ran == 0)); then
	echo "FUZZ FAIL: no fuzz targets found" >&2
	exit 1
fi
if ((${#failed[@]} > 0)); then
	echo "FUZZ FAIL: ${#failed[@]} failed:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
