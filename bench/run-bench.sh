#!/usr/bin/env bash
# Run the benchmark programs (all, or the NAMEs given) and keep their output.
#
#   bench/run-bench.sh [NAME...]
#
# Each program prints its figures next to its references measured in the same
# run. Output is kept in $BUILD/bench-results/<date>-<name>.txt; figures that
# go into bench/results/ or the README are quoted from such a run, with its
# command.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
[[ $build == /* ]] || build=$src/$build
export PVBACK_SRC=$src PVBACK_BUILD=$build
export LD_LIBRARY_PATH=$build/xensim/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
out=$build/bench-results
mkdir -p "$out"

names=("$@")
if ((${#names[@]} == 0)); then
	for f in "$build"/bench/*; do
		[[ -x $f && -f $f ]] && names+=("$(basename "$f")")
	done
fi
stamp=$(date -u +%Y%m%dT%H%M%SZ)
for n in "${names[@]}"; do
	echo "== $n ($(date -u '+%F %T') UTC, $(nproc) cpus, $(uname -r))"
	"$build/bench/$n" | tee "$out/$stamp-$n.txt"
done
