#!/usr/bin/env bash
# cross-build.sh checks that the enxame peer builds for every platform it
# supports: it builds the binary for each GOOS/GOARCH target (with cgo as go
# defaults it: off for a cross build) and runs `go vet ./...`, test files
# included, once per GOOS. It exits non-zero at the first failure.
#
# Usage: scripts/cross-build.sh [GOOS/GOARCH ...]
#   With no argument it checks linux, darwin and windows on amd64 and arm64.
#   Arguments narrow it, e.g. `scripts/cross-build.sh windows/amd64`.
#
# The first run compiles every dependency once per target (minutes of CPU);
# later runs hit the build cache. Nothing is written to the tree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
	targets=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64)
fi

vetted=" "
for target in "${targets[@]}"; do
	goos="${target%/*}" goarch="${target#*/}"
	if [[ -z "$goos" || -z "$goarch" || "$goos" == "$target" ]]; then
		echo "cross-build.sh: bad target $target (want GOOS/GOARCH)" >&2
		exit 2
	fi
	echo "build $goos/$goarch" >&2
	GOOS="$goos" GOARCH="$goarch" go build -o /dev/null .
	if [[ "$vetted" != *" $goos "* ]]; then
		echo "vet   $goos/$goarch" >&2
		GOOS="$goos" GOARCH="$goarch" go vet ./...
		vetted+="$goos "
	fi
done
