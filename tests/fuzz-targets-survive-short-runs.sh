#!/usr/bin/env bash
# Every libFuzzer target (tests/fuzz/*.c, built by `make fuzz` into
# $BUILD/fuzz/) runs a short campaign from an empty corpus without finding
# a crash, a sanitizer report or a broken invariant. The long campaigns are
# run by hand: build/fuzz/<name> -max_total_time=3600 CORPUS_DIR
set -u
build=${PVBACK_BUILD:-build}
shopt -s nullglob
bins=("$build"/fuzz/*)
if ((${#bins[@]} == 0)); then
	echo "no fuzz targets in $build/fuzz (make fuzz needs clang)"
	exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rc=0
for b in "${bins[@]}"; do
	n=$(basename "$b")
	if "$b" -runs=200000 -max_total_time=20 -artifact_prefix="$work/$n-" \
		>"$work/$n.log" 2>&1; then
		echo "ok   $n: $(grep -o 'Done [0-9]* runs.*' "$work/$n.log")"
	else
		echo "FAIL $n"
		tail -30 "$work/$n.log"
		rc=1
	fi
done
exit $rc
