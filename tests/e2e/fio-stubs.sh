#!/bin/bash
# fio-stubs.sh OUTDIR - stub libraries for the fio engines the guests never use.
#
# Debian's /usr/bin/fio links librbd, librados, libgfapi, libnbd, libibverbs,
# librdmacm, libpmem and libpmemblk (~84 MB with their own dependencies) and
# is linked with BIND_NOW, so they cannot simply be left out of the guest
# image. Each stub has the real SONAME and defines, as empty functions with
# the same symbol versions, exactly the symbols fio imports from it. The
# libaio and io_uring engines, the only ones the guests use, are unaffected;
# the stubbed engines would crash if used.
set -euo pipefail
OUT=$1
FIO=/usr/bin/fio
STUBS="libgfapi.so.0 libnbd.so.0 libibverbs.so.1 librdmacm.so.1 librados.so.2
       librbd.so.1 libpmemblk.so.1 libpmem.so.1"
mkdir -p "$OUT/src"
# "symbol version" for each undefined dynamic symbol of fio
objdump -T "$FIO" | awk '/\*UND\*/ { v = $(NF-1); gsub(/[()]/, "", v); print $NF, v }' \
	> "$OUT/src/fio-imports"
for lib in $STUBS; do
	real=$(ldd "$FIO" | awk -v n="$lib" '$1 == n { print $3 }')
	[ -n "$real" ] || continue	# a fio built without this engine
	nm -D --defined-only "$real" | awk '{ print $NF }' | sed 's/@.*//' |
		sort -u > "$OUT/src/$lib.defs"
	awk 'NR == FNR { d[$1] = 1; next } ($1 in d)' "$OUT/src/$lib.defs" \
		"$OUT/src/fio-imports" > "$OUT/src/$lib.syms"
	awk 'BEGIN { print "/* generated: stub of " ARGV[1] " for fio */" }
	     { print "void " $1 "(void) {}" }' "$OUT/src/$lib.syms" > "$OUT/src/$lib.c"
	for v in $(awk '$2 != "Base" { print $2 }' "$OUT/src/$lib.syms" | sort -u); do
		printf '%s { global: %s };\n' "$v" \
			"$(awk -v v="$v" '$2 == v { printf "%s; ", $1 }' "$OUT/src/$lib.syms")"
	done > "$OUT/src/$lib.map"
	vs=()
	[ -s "$OUT/src/$lib.map" ] && vs=(-Wl,--version-script="$OUT/src/$lib.map")
	gcc -shared -fPIC -O0 -nostdlib -Wl,-soname,"$lib" "${vs[@]}" \
		-o "$OUT/$lib" "$OUT/src/$lib.c"
done
