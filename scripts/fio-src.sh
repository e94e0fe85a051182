#!/usr/bin/env bash
# Fetch and configure fio's source at the version of the installed fio, for
# building an external ioengine (tests/fio/pvback-blkfront.c).
#
#   scripts/fio-src.sh DIR
#
# Debian ships no fio headers: an external engine must be compiled against
# fio's own source at the version of /usr/bin/fio. This takes Debian's source
# package through apt, with a private apt state under DIR (sources with
# deb-src, lists, cache), so the machine's apt configuration is not touched
# (method: shared/notes/fio-external-engine.md). It unpacks the upstream
# tarball, runs ./configure once and prints the source directory on stdout.
# A second run finds the configured tree and only prints it. Everything else
# goes to stderr; on failure one message says what could not be done.
set -euo pipefail

die() { echo "fio-src: $*" >&2; exit 1; }

(($# == 1)) || die "usage: scripts/fio-src.sh DIR"
mkdir -p "$1"
W=$(cd "$1" && pwd)

command -v fio >/dev/null || die "fio is not installed (scripts/deps.sh installs it)"
ver=$(fio --version 2>/dev/null | sed -n 's/^fio-\([0-9][0-9.]*\).*/\1/p')
[[ -n $ver ]] || die "cannot read the version from 'fio --version'"
srcdir=$W/fio-$ver

if [[ -f $srcdir/config-host.h ]]; then
	echo "$srcdir"
	exit 0
fi

# One fetch at a time per DIR (two makes may share it).
exec 9>"$W/.lock"
flock 9
if [[ -f $srcdir/config-host.h ]]; then
	echo "$srcdir"
	exit 0
fi

deb_src=/etc/apt/sources.list.d/debian.sources
[[ -f $deb_src ]] || die "no $deb_src to derive a deb-src entry from"
mkdir -p "$W/apt/parts" "$W/apt/lists/partial" "$W/apt/cache/archives/partial" \
	"$W/dl"
sed 's/^Types: deb$/Types: deb deb-src/' "$deb_src" >"$W/apt/parts/src.sources"
O=(-o "Dir::Etc::SourceList=/dev/null"
   -o "Dir::Etc::SourceParts=$W/apt/parts"
   -o "Dir::State::Lists=$W/apt/lists"
   -o "Dir::Cache=$W/apt/cache"
   -o "APT::Sandbox::User=root")

# The installed package's source version, so the tarball matches the binary.
want=fio
sv=$(dpkg-query -W -f='${source:Version}' fio 2>/dev/null || true)
[[ -n $sv ]] && want="fio=$sv"

log=$W/fetch.log
: >"$log"
# apt-get update succeeds even when every download failed: look for the
# Sources index it should have fetched.
apt-get "${O[@]}" -q update >>"$log" 2>&1 || true
ls "$W"/apt/lists/*Sources* >/dev/null 2>&1 ||
	die "cannot fetch fio's source: the Debian archive is unreachable (apt-get update found no deb-src index; log: $log)"
if ! (cd "$W/dl" && apt-get "${O[@]}" -q source --download-only "$want") >>"$log" 2>&1 &&
   ! (cd "$W/dl" && apt-get "${O[@]}" -q source --download-only fio) >>"$log" 2>&1; then
	die "cannot fetch fio's source: 'apt-get source --download-only fio' failed (log: $log)"
fi
orig=$(ls "$W"/dl/fio_"$ver".orig.tar.* 2>/dev/null | head -n 1 || true)
[[ -n $orig ]] ||
	die "the Debian archive has no fio $ver source (got: $(ls "$W/dl" | tr '\n' ' '))"

rm -rf "$srcdir" "$W/unpack"
mkdir -p "$W/unpack"
tar xf "$orig" -C "$W/unpack" || die "cannot unpack $orig"
top=$(ls "$W/unpack")
[[ $(echo "$top" | wc -l) == 1 && -f $W/unpack/$top/configure ]] ||
	die "unexpected layout in $orig"
mv "$W/unpack/$top" "$srcdir"
rmdir "$W/unpack"
if ! (cd "$srcdir" && ./configure) >>"$log" 2>&1; then
	rm -f "$srcdir/config-host.h"
	die "fio's ./configure failed (log: $log)"
fi
[[ -f $srcdir/config-host.h ]] || die "fio's ./configure wrote no config-host.h"
echo "$srcdir"
