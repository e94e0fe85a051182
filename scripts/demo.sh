#!/usr/bin/env bash
# The main job, on a machine without Xen: blkbackd serving the disks of two
# guests of the emulated Xen, and fio running in the guests through a
# userspace blkfront (the fio external engine), with verification, exactly
# as fio runs on xvda in a real guest. Then the daemon's statistics, and the
# toolstack removing the disks. Then netbackd serving a guest's NIC: ping
# and iperf3 between the guest's and the host's network namespaces
# (tests/demo/net-demo.c).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
[[ $build == /* ]] || build=$src/$build
export PVBACK_SRC=$src PVBACK_BUILD=$build
xensim=$src/tests/xensim/xensim
dir=$(mktemp -d "${TMPDIR:-/tmp}/pvback-demo.XXXXXX")
# Images where O_DIRECT works (tmpfs refuses it; /var/tmp is a disk).
imgdir=$(mktemp -d /var/tmp/pvback-demo.XXXXXX)
engine=$build/fio/pvback-blkfront.so
daemon=

cleanup() {
	[[ -n $daemon ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	"$xensim" down --dir "$dir" >/dev/null 2>&1 || true
	rm -rf "$imgdir"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
as() { local d=$1; shift; "$xensim" run --dir "$dir" "$d" "$@"; }

step "Start the emulated Xen: Dom0 and two guests ($dir)"
"$xensim" up --dir "$dir" --guests 2

step "Start blkbackd in Dom0 (supervisor, one worker per guest, io_uring)"
as 0 "$build/blkbackd" --set run-dir="$dir/run" >"$dir/blkbackd.log" 2>&1 &
daemon=$!
sleep 0.5

step "The toolstack gives each guest a 256 MiB disk (xvda, backend/vbd)"
for g in 1 2; do
	truncate -s 256M "$imgdir/guest$g.img"
	"$xensim" device-add --dir "$dir" vbd "$g" 51712 "be:params=$imgdir/guest$g.img"
done
sleep 0.5
echo "Dom0's view of guest 1's disk before the guest connects:"
as 0 xenstore-ls /local/domain/0/backend/vbd/1/51712 | sed 's/^/  /'

if [[ ! -f $engine ]]; then
	echo "no fio engine ($engine): 'make fio-engine' needs fio's source from the Debian archive"
	exit 1
fi

fio_job() {	# GUEST RW-MODE: fio in the guest, through the ring, verified
	local g=$1 rw=$2
	as "$g" fio --name="guest$g" --ioengine=external:"$engine" \
		--devid=51712 --queues=2 --ring_order=4 --indirect=256 \
		--rw="$rw" --bsrange=512-1M --iodepth=16 --size=128M \
		--verify=crc32c --verify_fatal=1 --do_verify=1 \
		--output-format=normal 2>&1 |
		grep -E "^ *(read|write|READ|WRITE):|err=|verify|IOPS" | sed 's/^/  /'
}

step "Guest 1: fio random writes 512 B..1 MiB, queue depth 16, then verify (crc32c)"
fio_job 1 randwrite
step "Guest 2 at the same time as guest 1 again: mixed random read/write, verified"
fio_job 1 randwrite >/dev/null & bg=$!
fio_job 2 randrw
wait "$bg"

step "Dom0's view once connected (what the frontend read)"
as 0 xenstore-ls /local/domain/0/backend/vbd/1/51712 | sed 's/^/  /'

step "blkbackd --stats: per device and queue, over all connections"
as 0 "$build/blkbackd" --stats --set run-dir="$dir/run" | sed 's/^/  /'

step "The toolstack removes guest 1's disk (online=0, state=5, wait for Closed)"
"$xensim" device-remove --dir "$dir" vbd 1 51712
as 0 xenstore-ls /local/domain/0/backend/vbd 2>/dev/null | sed 's/^/  /' || true

step "The daemon's log"
sed 's/^/  /' "$dir/blkbackd.log"

step "Stop blkbackd and its emulated host"
kill "$daemon" && wait "$daemon" 2>/dev/null || true
daemon=
"$xensim" down --dir "$dir"

# netbackd: a guest NIC through real kernel network stacks at both ends
# (needs root, TAP devices and network namespaces; says so otherwise).
printf '\n\033[1m###### netbackd ######\033[0m\n'
rc=0
LD_LIBRARY_PATH=$build/xensim/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
	"$build/tests/demo/net-demo" || rc=$?
if ((rc == 77)); then
	echo "netbackd part skipped: it needs root, TAP devices, network namespaces and iperf3"
elif ((rc != 0)); then
	exit "$rc"
fi
echo "done"
