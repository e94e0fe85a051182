#!/usr/bin/env bash
# Run the benchmark programs and scripts (bench/*.c built into $BUILD/bench,
# bench/*.sh but real-xen.sh; all, or the NAMEs given) and keep their output.
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
	# real-xen.sh boots Xen in QEMU for half an hour: make bench-e2e,
	# or by name
	for f in "$src"/bench/*.sh; do
		case $(basename "$f") in
		run-bench.sh | real-xen.sh) ;;
		*) names+=("$(basename "$f" .sh)") ;;
		esac
	done
fi
stamp=$(date -u +%Y%m%dT%H%M%SZ)
for n in "${names[@]}"; do
	echo "== $n ($(date -u '+%F %T') UTC, $(nproc) cpus, $(uname -r))"
	if [[ -x $build/bench/$n ]]; then
		"$build/bench/$n"
	else
		bash "$src/bench/$n.sh"
	fi | tee "$out/$stamp-$n.txt"
done
