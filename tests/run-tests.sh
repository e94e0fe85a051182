#!/usr/bin/env bash
# pvback test runner.
#
#   tests/run-tests.sh [NAME...]
#
# Runs every test: the program build/tests/<name> of each tests/<name>.c
# and every shell test tests/<name>.sh (or only the NAMEs given), each under
# a timeout (a program left in the build by a test since removed is not
# run), and ends
# with "N passed, N failed, N skipped". Exit codes of a test: 0 pass, 77 skip,
# anything else (timeout included) fail. A failing test's output is printed;
# every test's output is kept in $BUILD/test-logs/<name>.log.
#
# Tests run against the emulated Xen: LD_LIBRARY_PATH puts the drop-in
# libxengnttab/libxenevtchn first, PVBACK_BUILD and PVBACK_SRC tell tests where
# the build and the source tree are. TEST_TIMEOUT (seconds) overrides the
# per-test limit.
set -u

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
[[ $build == /* ]] || build=$src/$build
timeout_s=${TEST_TIMEOUT:-120}
logdir=$build/test-logs
mkdir -p "$logdir"

export PVBACK_SRC=$src PVBACK_BUILD=$build
export LD_LIBRARY_PATH=$build/xensim/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# Keep tests' emulated hosts apart from anything a person left running.
export TMPDIR=${TMPDIR:-/tmp}

declare -a names=()
if (($#)); then
	names=("$@")
else
	for f in "$src"/tests/*.c; do
		[[ -f $f ]] && names+=("$(basename "$f" .c)")
	done
	for f in "$src"/tests/*.sh; do
		[[ -f $f && $(basename "$f") != run-tests.sh ]] &&
			names+=("$(basename "$f" .sh)")
	done
	mapfile -t names < <(printf '%s\n' "${names[@]}" | sort -u)
fi

pass=0 fail=0 skip=0
declare -a failed=()
for n in "${names[@]}"; do
	if [[ -x $build/tests/$n ]]; then
		cmd=("$build/tests/$n")
	elif [[ -f $src/tests/$n.sh ]]; then
		cmd=(bash "$src/tests/$n.sh")
	else
		echo "FAIL $n (no such test)"
		fail=$((fail + 1)); failed+=("$n")
		continue
	fi
	start=${EPOCHREALTIME/./}
	timeout -k 5 "$timeout_s" "${cmd[@]}" </dev/null >"$logdir/$n.log" 2>&1
	rc=$?
	us=$((${EPOCHREALTIME/./} - start))
	dur=$((us / 1000000)).$((us / 100000 % 10))
	case $rc in
	0) pass=$((pass + 1)); echo "PASS $n (${dur}s)" ;;
	77) skip=$((skip + 1)); echo "SKIP $n: $(tail -n 1 "$logdir/$n.log")" ;;
	*)
		fail=$((fail + 1)); failed+=("$n")
		[[ $rc == 124 || $rc == 137 ]] && why="timeout ${timeout_s}s" || why="exit $rc"
		echo "FAIL $n ($why, ${dur}s)"
		sed 's/^/    | /' "$logdir/$n.log" | tail -n 40
		;;
	esac
done

((fail)) && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
((fail == 0))
