#!/usr/bin/env bash
# `make install DESTDIR=...` lays the daemons out as Dom0 services: both
# binaries in sbin (they run), the xl hotplug scripts in /etc/xen/scripts
# (executable), systemd units that systemd-analyze accepts without a word
# (once pointed at the staged binaries), configuration files the daemons
# read without an error, and a second install keeps what an administrator
# changed in them.
set -u
src=${PVBACK_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
build=${PVBACK_BUILD:-$src/build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

make -s -C "$src" BUILD="$build" DESTDIR="$tmp/root" install >"$tmp/make.log" 2>&1 ||
	{ cat "$tmp/make.log"; fail "make install"; }
r=$tmp/root
for d in blkbackd netbackd; do
	[[ -x $r/usr/sbin/$d ]] || fail "$d not installed"
	"$r/usr/sbin/$d" --help >/dev/null 2>&1 || fail "$d --help"
	[[ -f $r/etc/pvback/$d.conf ]] || fail "$d.conf not installed"
	# Exit 1 (no daemon to ask), not 2 (a bad configuration).
	"$r/usr/sbin/$d" --config "$r/etc/pvback/$d.conf" \
		--set run-dir="$tmp/run" --stats >/dev/null 2>"$tmp/err"
	rc=$?
	[[ $rc == 1 ]] && ! grep -q "$d.conf" "$tmp/err" ||
		fail "$d.conf: exit $rc: $(cat "$tmp/err")"
	u=$r/lib/systemd/system/$d.service
	[[ -f $u ]] || fail "$d.service not installed"
	grep -q "^ExecStart=/usr/sbin/$d " "$u" || fail "$d.service: ExecStart"
done
for s in pvback-block pvback-vif; do
	[[ -x $r/etc/xen/scripts/$s ]] || fail "hotplug script $s"
done
if command -v systemd-analyze >/dev/null; then
	for d in blkbackd netbackd; do
		sed "s|/usr/sbin/|$r/usr/sbin/|; s|/etc/pvback/|$r/etc/pvback/|" \
			"$r/lib/systemd/system/$d.service" >"$tmp/$d.service"
		systemd-analyze verify "$tmp/$d.service" >"$tmp/verify" 2>&1 &&
			! [[ -s $tmp/verify ]] ||
			fail "$d.service: $(cat "$tmp/verify")"
	done
else
	echo "systemd-analyze missing: units not verified"
fi
echo "kinds = vbd3" >>"$r/etc/pvback/blkbackd.conf"
make -s -C "$src" BUILD="$build" DESTDIR="$r" install >"$tmp/make.log" 2>&1 ||
	fail "second make install"
tail -n 1 "$r/etc/pvback/blkbackd.conf" | grep -qx 'kinds = vbd3' ||
	fail "a second install overwrote blkbackd.conf"
echo "installed and verified"
