#!/usr/bin/env bash
# blk over the emulated Xen: fio in a simulated guest (the pvback-blkfront
# external engine: userspace blkfront -> ring -> blkbackd) against a file in
# tmpfs, printed next to fio with io_uring straight on the same file, in the
# same run. Never a test: figures only.
#
#   bench/blk-xensim.sh            the default set (a few minutes)
#   BENCH_TIME=10 bench/blk-xensim.sh        seconds per job (default 4)
#   BENCH_QUICK=1 bench/blk-xensim.sh        a handful of jobs
#
# Columns: IOPS, MB/s, completion latency p50/p99/p99.9 (us) as fio reports
# them, and blkbackd's CPU time (user+system, all its threads) per I/O in
# microseconds. The reference rows ("fio io_uring on the file") have no
# blkbackd CPU. One blkbackd process (--single); it is restarted for each
# engine and grant mode.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${PVBACK_BUILD:-$src/build}
[[ $build == /* ]] || build=$src/$build
T=${BENCH_TIME:-4}
quick=${BENCH_QUICK:-0}
engine_so=$build/fio/pvback-blkfront.so
xensim=$src/tests/xensim/xensim
blkbackd=$build/blkbackd

for f in "$engine_so" "$blkbackd" "$build/xensim/xensimd"; do
	[[ -e $f ]] || { echo "blk-xensim: $f missing (make all fio-engine)" >&2; exit 1; }
done
command -v fio >/dev/null || { echo "blk-xensim: fio missing" >&2; exit 1; }
command -v python3 >/dev/null || { echo "blk-xensim: python3 missing" >&2; exit 1; }

work=$(mktemp -d /dev/shm/pvback-bench.XXXXXX)
export XENSIM_DIR=$work/sim PVBACK_BUILD=$build
img=$work/disk.img
daemon=
cleanup() {
	[[ -n $daemon ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	"$xensim" down >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

truncate -s 1G "$img"
# Written once, so reads find data, not holes.
dd if=/dev/zero of="$img" bs=1M count=1024 conv=notrunc status=none
"$xensim" up --guests 1 --mem 512 >/dev/null

clk=$(getconf CLK_TCK)
cpu_ticks() {	# user+system ticks of a process, all threads
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

start_daemon() {	# engine persistent
	if [[ -n $daemon ]]; then
		kill "$daemon"; wait "$daemon" 2>/dev/null || true
	fi
	(eval "$("$xensim" env 0)"; exec "$blkbackd" --single --log-level warn \
		--set engine="$1" --set persistent="$2" \
		--set run-dir="$work/run") >>"$work/blkbackd.log" 2>&1 &
	daemon=$!
	if [[ -z ${added:-} ]]; then
		"$xensim" device-add vbd 1 51712 "be:params=$img" >/dev/null
		added=1
	fi
	sleep 0.5
}

# fio's JSON -> "iops mbs p50 p99 p999" (latencies in us).
summarise() {
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
io = j["read"] if j["read"]["io_bytes"] >= j["write"]["io_bytes"] else j["write"]
pct = io["clat_ns"].get("percentile", {})
def p(k):
    return pct.get(k, 0) / 1000.0
print("%d %.1f %.1f %.1f %.1f %d" % (io["iops"], io["bw_bytes"] / 1e6,
      p("50.000000"), p("99.000000"), p("99.900000"),
      j["read"]["total_ios"] + j["write"]["total_ios"]))
' "$1"
}

row() {	# label rw bs qd queues  (through blkbackd)
	local label=$1 rw=$2 bs=$3 qd=$4 nq=$5 out=$work/fio.json t0 t1 s
	t0=$(cpu_ticks "$daemon")
	(cd "$work" && "$xensim" run 1 fio --name=b --output-format=json \
		--output="$out" --ioengine=external:"$engine_so" \
		--devid=51712 --queues="$nq" --ring_order=4 --indirect=256 \
		--rw="$rw" --bs="$bs" --iodepth="$qd" --iodepth_batch_complete_max="$qd" \
		--time_based --runtime="$T" --ramp_time=1 \
		--percentile_list=50:99:99.9 >/dev/null 2>>"$work/fio.err")
	t1=$(cpu_ticks "$daemon")
	read -r iops mbs p50 p99 p999 ios <<<"$(summarise "$out")"
	awk -v l="$label" -v rw="$rw" -v bs="$bs" -v qd="$qd" -v nq="$nq" \
	    -v iops="$iops" -v mbs="$mbs" -v p50="$p50" -v p99="$p99" \
	    -v p999="$p999" -v ios="$ios" -v dt=$((t1 - t0)) -v clk="$clk" \
	    'BEGIN { cpu = ios ? dt * 1e6 / clk / ios : 0;
		 printf "| %-28s | %-9s | %4s | %3s | %2s | %9d | %8.1f | %7.1f | %7.1f | %7.1f | %6.2f |\n",
			l, rw, bs, qd, nq, iops, mbs, p50, p99, p999, cpu }'
}

ref() {	# rw bs qd: fio io_uring straight on the file (page cache: tmpfs)
	local rw=$1 bs=$2 qd=$3 out=$work/fio.json
	fio --name=r --output-format=json --output="$out" --filename="$img" \
		--ioengine=io_uring --direct=0 --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --time_based --runtime="$T" --ramp_time=1 \
		--percentile_list=50:99:99.9 >/dev/null 2>>"$work/fio.err"
	read -r iops mbs p50 p99 p999 ios <<<"$(summarise "$out")"
	printf "| %-28s | %-9s | %4s | %3s | %2s | %9d | %8.1f | %7.1f | %7.1f | %7.1f | %6s |\n" \
		"fio io_uring on the file" "$rw" "$bs" "$qd" "-" "$iops" "$mbs" \
		"$p50" "$p99" "$p999" "-"
}

echo "blk over xensim: $(nproc) cpus, $(uname -r), fio $(fio --version), ${T}s per job, image in tmpfs"
echo
echo "| what                         | rw        |   bs |  qd |  q |      IOPS |     MB/s | p50 us  | p99 us  | p99.9us | cpu us/io |"
echo "|------------------------------|-----------|------|-----|----|-----------|----------|---------|---------|---------|--------|"

if [[ $quick == 1 ]]; then
	jobs=("randread 4k 32" "randwrite 4k 32")
else
	jobs=("randread 4k 1" "randread 4k 32" "randread 4k 128"
	      "randwrite 4k 1" "randwrite 4k 32" "read 128k 32" "read 1m 8")
fi

for j in "${jobs[@]}"; do
	# shellcheck disable=SC2086
	ref $j
done

start_daemon uring 0
for j in "${jobs[@]}"; do
	# shellcheck disable=SC2086
	row "blkbackd uring, grant copy" $j 1
done
[[ $quick == 1 ]] || row "blkbackd uring, grant copy" randread 4k 32 2

start_daemon uring 1
row "blkbackd uring, persistent" randread 4k 32 1
row "blkbackd uring, persistent" randwrite 4k 32 1
[[ $quick == 1 ]] || row "blkbackd uring, persistent" read 1m 8 1

if [[ $quick != 1 ]]; then
	start_daemon aio 0
	row "blkbackd aio, grant copy" randread 4k 32 1
	row "blkbackd aio, grant copy" randwrite 4k 32 1
fi

start_daemon null 0
row "blkbackd null, grant copy" randread 4k 32 1
row "blkbackd null, grant copy" randread 4k 128 1
[[ $quick == 1 ]] || row "blkbackd null, grant copy" randread 4k 128 2
echo
echo "cpu us/io: blkbackd's user+system time over the job / I/Os completed (fio's ramp included)."
