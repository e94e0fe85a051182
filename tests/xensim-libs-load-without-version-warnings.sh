#!/usr/bin/env bash
# A program linked against Debian's real libxengnttab / libxenevtchn (every
# program of this project is) resolves them to the drop-in libraries through
# LD_LIBRARY_PATH, and the dynamic loader prints no symbol-version warning,
# neither when resolving nor when running it for real.
set -u
build=${PVBACK_BUILD:-build}
prog=$build/bench/xensim-costs
[[ -x $prog ]] || { echo "FAIL: $prog not built"; exit 1; }
export LD_LIBRARY_PATH=$build/xensim/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fail=0

# Linked against the real ones: the NEEDED entries name their sonames.
for so in libxengnttab.so.1 libxenevtchn.so.1; do
	objdump -p "$prog" | grep -q "NEEDED *$so" ||
		{ echo "FAIL: $prog does not need $so"; fail=1; }
	where=$(ldd "$prog" 2>&1 | awk -v so="$so" '$1 == so { print $3 }')
	[[ $where -ef $build/xensim/lib/$so ]] ||
		{ echo "FAIL: $so resolves to '$where', not the drop-in"; fail=1; }
done
if ldd "$prog" 2>&1 | grep -i 'version'; then
	echo "FAIL: the loader warned while resolving"
	fail=1
fi

# Run it: a short benchmark that uses grant copy, gntshr and event channels.
out=$("$prog" 1 2>"${TMPDIR:-/tmp}/xensim-ver.$$")
rc=$?
err=$(cat "${TMPDIR:-/tmp}/xensim-ver.$$"); rm -f "${TMPDIR:-/tmp}/xensim-ver.$$"
echo "$out"
if ((rc)); then
	echo "FAIL: $prog exited $rc: $err"
	fail=1
fi
if grep -i 'no version information' <<<"$err"; then
	echo "FAIL: the loader warned while running"
	fail=1
fi
grep -q 'event channel round trip' <<<"$out" ||
	{ echo "FAIL: no round-trip figure printed"; fail=1; }
exit $fail
