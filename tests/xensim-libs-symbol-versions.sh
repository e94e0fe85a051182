#!/usr/bin/env bash
# The drop-in libxengnttab.so.1 / libxenevtchn.so.1 export exactly the
# symbols of Debian's real libraries, with the same versions (VERS_1.0 ..
# VERS_1.2) and the same version chain, so programs linked against the real
# ones bind to ours unchanged.
set -u
build=${PVBACK_BUILD:-build}
real=/usr/lib/x86_64-linux-gnu
fail=0

exports() {	# "VERSION NAME" for each defined dynamic symbol
	objdump -T "$1" | awk '$2 == "g" && $4 != "*UND*" { print $(NF-1), $NF }' | sort
}
verdefs() {	# the version definitions and their parents
	objdump -p "$1" | sed -n '/^Version definitions:/,/^$/p'
}

for lib in libxengnttab.so.1 libxenevtchn.so.1; do
	ours=$build/xensim/lib/$lib
	[[ -f $real/$lib ]] || { echo "skip: $real/$lib not installed"; exit 77; }
	[[ -f $ours ]] || { echo "FAIL: $ours not built"; exit 1; }
	if ! d=$(diff <(exports "$real/$lib") <(exports "$ours")); then
		echo "FAIL: $lib exports differ (< Debian, > ours):"
		echo "$d"
		fail=1
	fi
	if ! d=$(diff <(verdefs "$real/$lib") <(verdefs "$ours")); then
		echo "FAIL: $lib version definitions differ:"
		echo "$d"
		fail=1
	fi
	n=$(exports "$ours" | grep -c ' xen')
	echo "$lib: $n functions, versions: $(exports "$ours" | awk '$1 == $2 { printf "%s ", $1 }')"
	((n > 5)) || { echo "FAIL: $lib exports only $n functions"; fail=1; }
done
exit $fail
