#!/usr/bin/env bash
# blk over the emulated Xen: fio in a simulated guest (the pvback-blkfront
# external engine: userspace blkfront -> ring -> blkbackd) against a file in
# tmpfs, printed next to fio with io_uring straight on the same file, in the
# same run. Never a test: figures only.
#
#   bench/blk-xensim.sh            the default set, 3 rounds (10-15 minutes)
#   BENCH_TIME=10 bench/blk-xensim.sh        seconds per job (default 4)
#   BENCH_QUICK=1 bench/blk-xensim.sh        a handful of jobs
#   BENCH_ROUNDS=5 bench/blk-xensim.sh       rounds (default 3)
#   BENCH_IMG_DIR=/var/tmp bench/blk-xensim.sh
#                  the image in that directory instead of tmpfs: the page
#                  cache of a disk filesystem (blkbackd with direct=0, the
#                  reference fio without dropping the cache first)
#
# Each round runs every job once: the references first, then blkbackd with
# each engine and grant mode. A row is the median of its rounds. "x fio" is
# the median over the rounds of the row's IOPS over the reference's IOPS in
# the same round (same rw, bs, qd), "p50-fio" likewise the difference of the
# p50 latencies: the figures to quote on a shared, noisy machine. The last
# column lists each round's IOPS. Latencies: completion latency as fio
# reports it, in us; cpu us/io: blkbackd's CPU time (user+system, all its
# threads) per I/O. One blkbackd process (--single); it is restarted for
# each engine and grant mode, and what it logs about how its engine runs
# is printed under the table.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${PVBACK_BUILD:-$src/build}
[[ $build == /* ]] || build=$src/$build
T=${BENCH_TIME:-4}
quick=${BENCH_QUICK:-0}
rounds=${BENCH_ROUNDS:-3}
imgdir=${BENCH_IMG_DIR:-}
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
if [[ -n $imgdir ]]; then
	img=$(mktemp "$imgdir/pvback-bench.XXXXXX.img")
	where="image in $imgdir ($(stat -f -c %T "$imgdir"), page cache)"
	direct=0
else
	img=$work/disk.img
	where="image in tmpfs"
	direct=1
fi
raw=$work/raw.tsv
daemon=
cleanup() {
	[[ -n $daemon ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	"$xensim" down >/dev/null 2>&1 || true
	[[ -n $imgdir ]] && rm -f "$img"
	rm -rf "$work"
}
trap cleanup EXIT

truncate -s 1G "$img"
# Written once, so reads find data, not holes (and the page cache holds it).
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
	(eval "$("$xensim" env 0)"; exec "$blkbackd" --single --log-level info \
		--set engine="$1" --set persistent="$2" --set direct="$direct" \
		--set run-dir="$work/run") >>"$work/blkbackd.log" 2>&1 &
	daemon=$!
	if [[ -z ${added:-} ]]; then
		"$xensim" device-add vbd 1 51712 "be:params=$img" >/dev/null
		added=1
	fi
	sleep 0.5
}

# fio's JSON -> "iops mbs p50 p99 p999 ios" (latencies in us).
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

row() {	# round label rw bs qd queues  (through blkbackd)
	local r=$1 label=$2 rw=$3 bs=$4 qd=$5 nq=$6 out=$work/fio.json t0 t1
	t0=$(cpu_ticks "$daemon")
	(cd "$work" && "$xensim" run 1 fio --name=b --output-format=json \
		--output="$out" --ioengine=external:"$engine_so" \
		--devid=51712 --queues="$nq" --ring_order=4 --indirect=256 \
		--rw="$rw" --bs="$bs" --iodepth="$qd" --iodepth_batch_complete_max="$qd" \
		--time_based --runtime="$T" --ramp_time=1 \
		--percentile_list=50:99:99.9 >/dev/null 2>>"$work/fio.err")
	t1=$(cpu_ticks "$daemon")
	read -r iops mbs p50 p99 p999 ios <<<"$(summarise "$out")"
	awk -v r="$r" -v l="$label" -v rw="$rw" -v bs="$bs" -v qd="$qd" \
	    -v nq="$nq" -v iops="$iops" -v mbs="$mbs" -v p50="$p50" \
	    -v p99="$p99" -v p999="$p999" -v ios="$ios" -v dt=$((t1 - t0)) \
	    -v clk="$clk" \
	    'BEGIN { cpu = ios ? dt * 1e6 / clk / ios : 0;
		 printf "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\n",
			r, l, rw, bs, qd, nq, iops, mbs, p50, p99, p999, cpu }' >>"$raw"
}

ref() {	# round rw bs qd: fio io_uring straight on the file (page cache)
	local r=$1 rw=$2 bs=$3 qd=$4 out=$work/fio.json
	fio --name=r --output-format=json --output="$out" --filename="$img" \
		--ioengine=io_uring --direct=0 --invalidate=0 --rw="$rw" \
		--bs="$bs" --iodepth="$qd" --time_based --runtime="$T" \
		--ramp_time=1 --percentile_list=50:99:99.9 >/dev/null \
		2>>"$work/fio.err"
	read -r iops mbs p50 p99 p999 ios <<<"$(summarise "$out")"
	printf "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n" "$r" \
		"fio io_uring on the file" "$rw" "$bs" "$qd" "-" "$iops" "$mbs" \
		"$p50" "$p99" "$p999" "-" >>"$raw"
}

if [[ $quick == 1 ]]; then
	jobs=("randread 4k 32" "randwrite 4k 32")
else
	jobs=("randread 4k 1" "randread 4k 32" "randread 4k 128"
	      "randwrite 4k 1" "randwrite 4k 32" "read 128k 32" "read 1m 8")
fi

echo "blk over xensim: $(nproc) cpus, $(uname -r), fio $(fio --version), ${T}s per job, $where, $rounds round(s)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; r++)); do
	for j in "${jobs[@]}"; do
		# shellcheck disable=SC2086
		ref $r $j
	done

	start_daemon uring 0
	for j in "${jobs[@]}"; do
		# shellcheck disable=SC2086
		row $r "blkbackd uring, grant copy" $j 1
	done
	[[ $quick == 1 ]] || row $r "blkbackd uring, grant copy" randread 4k 32 2

	start_daemon uring 1
	row $r "blkbackd uring, persistent" randread 4k 32 1
	row $r "blkbackd uring, persistent" randwrite 4k 32 1
	[[ $quick == 1 ]] || row $r "blkbackd uring, persistent" read 1m 8 1

	start_daemon aio 0
	row $r "blkbackd aio, grant copy" randread 4k 32 1
	row $r "blkbackd aio, grant copy" randwrite 4k 32 1

	start_daemon null 0
	row $r "blkbackd null, grant copy" randread 4k 32 1
	row $r "blkbackd null, grant copy" randread 4k 128 1
	[[ $quick == 1 ]] || row $r "blkbackd null, grant copy" randread 4k 128 2
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo

python3 - "$raw" <<'EOF'
import statistics, sys

rows = {}       # (label, rw, bs, qd, nq) -> list of (round, fields)
order = []
refs = {}       # (round, rw, bs, qd) -> (iops, p50)
for line in open(sys.argv[1]):
    r, label, rw, bs, qd, nq, iops, mbs, p50, p99, p999, cpu = \
        line.rstrip("\n").split("\t")
    key = (label, rw, bs, qd, nq)
    if key not in rows:
        rows[key] = []
        order.append(key)
    rows[key].append((r, int(iops), float(mbs), float(p50), float(p99),
                      float(p999), cpu))
    if nq == "-":
        refs[(r, rw, bs, qd)] = (int(iops), float(p50))

med = statistics.median
print("| what                         | rw        |   bs |  qd |  q |      IOPS | x fio | p50 us | p50-fio | p99 us  | p99.9us | cpu us/io |     MB/s | IOPS of each round |")
print("|------------------------------|-----------|------|-----|----|-----------|-------|--------|---------|---------|---------|-----------|----------|--------------------|")
for key in order:
    label, rw, bs, qd, nq = key
    rs = rows[key]
    ratio = delta = "-"
    if nq != "-":
        pairs = [(x[1] / refs[(x[0], rw, bs, qd)][0],
                  x[3] - refs[(x[0], rw, bs, qd)][1])
                 for x in rs if (x[0], rw, bs, qd) in refs
                 and refs[(x[0], rw, bs, qd)][0]]
        if pairs:
            ratio = "%.2f" % med([p[0] for p in pairs])
            delta = "%+.1f" % med([p[1] for p in pairs])
    cpu = "-" if rs[0][6] == "-" else "%.2f" % med([float(x[6]) for x in rs])
    each = " ".join("%dk" % round(x[1] / 1000) for x in rs)
    print("| %-28s | %-9s | %4s | %3s | %2s | %9d | %5s | %6.1f | %7s | %7.1f | %7.1f | %9s | %8.1f | %-18s |" % (
        label, rw, bs, qd, nq, med([x[1] for x in rs]), ratio,
        med([x[3] for x in rs]), delta, med([x[4] for x in rs]),
        med([x[5] for x in rs]), cpu, med([x[2] for x in rs]), each))
EOF
echo
echo "cpu us/io: blkbackd's user+system time over the job / I/Os completed (fio's ramp included)."
# What blkbackd said about how its engines ran (ioeng_ops.describe), once each.
sed -n 's/.*info: \(.*q[0-9]*: [a-z]* engine: .*\)/blkbackd: \1/p' \
	"$work/blkbackd.log" | sed 's/^blkbackd: [^ ]* q[0-9]*: /blkbackd: /' | sort -u
