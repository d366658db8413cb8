#!/usr/bin/env bash
# build-kubo.sh builds the Kubo (IPFS) binary that enxame's interop tests and
# baselines run against, and prints its path on stdout (build output goes to
# stderr).
#
# The version is the one tools/kubo/go.mod requires. The binary is cached at
#   ${ENXAME_KUBO_DIR:-$HOME/.cache/enxame/kubo}/ipfs-v<version>
# and the build is skipped when that file exists and `ipfs version` reports the
# expected version, so running the script again is cheap. Concurrent runs are
# serialised with flock(1) when it is available; without it they still produce
# a correct binary because each build writes a private file and renames it.
#
# Requirements: bash, coreutils and Go (1.26+, or any Go that can download the
# toolchain go.mod asks for). The module proxy must be reachable the first time.
#
# Why a separate module: `go install github.com/ipfs/kubo/cmd/ipfs@vX` is
# refused because Kubo's go.mod replaces go-libp2p with a fork the proxy does
# not serve. A dependency's replace directives are ignored, so tools/kubo
# requires Kubo plus an upstream go-libp2p and builds the command from there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
mod="$root/tools/kubo"

version="$(sed -nE 's/^(require[[:space:]]+)?[[:space:]]*github\.com\/ipfs\/kubo v([^[:space:]]+).*/\2/p' "$mod/go.mod" | head -n 1)"
if [[ -z "$version" ]]; then
	echo "build-kubo: cannot find the github.com/ipfs/kubo requirement in $mod/go.mod" >&2
	exit 1
fi

dir="${ENXAME_KUBO_DIR:-${HOME:?HOME is not set}/.cache/enxame/kubo}"
bin="$dir/ipfs-v$version"

# usable reports whether $1 is an ipfs binary of the expected version.
usable() {
	[[ -x "$1" ]] || return 1
	local out
	out="$("$1" version 2>/dev/null)" || return 1
	[[ "$out" == "ipfs version $version" ]]
}

if usable "$bin"; then
	echo "$bin"
	exit 0
fi

command -v go >/dev/null 2>&1 || { echo "build-kubo: go is not on PATH" >&2; exit 1; }
mkdir -p "$dir"

# Serialise concurrent builds (several test binaries may ask at once).
if command -v flock >/dev/null 2>&1; then
	exec 9>"$dir/.build.lock"
	flock 9
	if usable "$bin"; then # another run finished it while we waited
		echo "$bin"
		exit 0
	fi
fi

tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT

echo "build-kubo: building Kubo v$version into $bin (the first build downloads modules and takes several minutes)" >&2
start=$SECONDS
# -mod=mod lets the build resolve Kubo's full graph from tools/kubo/go.mod and
# go.sum; GOWORK=off keeps any go.work out of it; GOFLAGS from the environment
# are kept (for example -buildvcs=false) but -mod is forced on the command line.
(
	cd "$mod"
	GOWORK=off go build -mod=mod -o "$tmp" github.com/ipfs/kubo/cmd/ipfs
) >&2

if ! usable "$tmp"; then
	echo "build-kubo: built $tmp but \`ipfs version\` does not report $version: $("$tmp" version 2>&1 || true)" >&2
	exit 1
fi
mv -f "$tmp" "$bin"
trap - EXIT
echo "build-kubo: built Kubo v$version in $((SECONDS - start))s" >&2
echo "$bin"
