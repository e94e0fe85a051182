#!/usr/bin/env bash
# The main job, on a machine without Xen: start the emulated Xen, show what
# the guests and Dom0 see through the real xenstore tools, then let a guest
# share memory and an event channel with Dom0 and measure the data path.
#
# This grows with the daemons: once blkbackd serves disks, the guest runs fio
# against it here.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
[[ $build == /* ]] || build=$src/$build
export PVBACK_SRC=$src PVBACK_BUILD=$build
xensim=$src/tests/xensim/xensim
dir=$(mktemp -d "${TMPDIR:-/tmp}/pvback-demo.XXXXXX")
trap '"$xensim" down --dir "$dir" >/dev/null 2>&1 || true' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
as() { local d=$1; shift; "$xensim" run --dir "$dir" "$d" "$@"; }

step "Start the emulated Xen: Dom0 and two guests ($dir)"
"$xensim" up --dir "$dir" --guests 2

step "Dom0: xenstore-ls /local/domain (Debian's real tool, unchanged)"
as 0 xenstore-ls -p /local/domain | sed -n '1,24p'

step "Guest 1 writes into its own tree"
as 1 xenstore-write data/greeting "hello from guest 1"
as 1 xenstore-read data/greeting

step "Guest 1 tries to read Dom0's tree and to write guest 2's: refused"
as 1 xenstore-read /local/domain/0/name 2>&1 || echo "  -> refused, as xenstored refuses it"
as 1 xenstore-write /local/domain/2/data/x y 2>&1 || echo "  -> refused, as xenstored refuses it"

step "Guest 1 shares pages and an event channel; Dom0 grant-copies and pings"
LD_LIBRARY_PATH=$build/xensim/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
	"$build/bench/xensim-costs" 3

step "Stop"
"$xensim" down --dir "$dir"
trap - EXIT
echo "done"
