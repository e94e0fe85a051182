#!/usr/bin/env bash
# net over the emulated Xen: guest TX and guest RX through netbackd (64 B
# and 1514 B frames, 64 KiB GSO; 1 and 2 queues), each next to the same
# traffic through a raw TAP with no backend (the host-path limit) and next
# to memcpy bandwidth, measured in the same run. Never a test: figures only.
#
#   bench/net-xensim.sh                     the default set (6-7 minutes)
#   BENCH_TIME=3 bench/net-xensim.sh        seconds per measurement (2)
#   BENCH_RUNS=7 bench/net-xensim.sh        runs per case; medians (5)
#   BENCH_QUICK=1 bench/net-xensim.sh       1 s, 3 runs, 1-queue cases only
#   BENCH_CASES=tx-64-1q,rx-gso-2q ...      chosen cases
#   BENCH_PIN=0 bench/net-xensim.sh         no CPU pinning
#   BENCH_PERF=1 bench/net-xensim.sh        then one more run of a few cases
#                                           under `perf record -g -p
#                                           <netbackd>`, top costs printed
#   BENCH_VERBOSE=1                         every measurement on stderr
#   BENCH_DPDK=0 bench/net-xensim.sh        without the DPDK port's case
#
# Then, when netbackd was built with its DPDK port and dpdk-testpmd is
# installed (Debian: dpdk-dev), a run of its own: 64-byte guest TX through
# port=dpdk into testpmd (rxonly, the vhost-user switch), Mpps and CPU
# ns/pkt next to the TAP path's tx-64-1q figures of the main run (when that
# case ran). testpmd polls one cpu (the guest's) without pause.
#
# The program is $BUILD/bench/helpers/net-xensim (bench/helpers/
# net-xensim.c, which says how each path is driven and measured). Needs
# root, /dev/net/tun and network namespaces, like the net-* tests.
#
# Columns: Mpps and Gbit/s (frame bytes, Ethernet header included) that
# arrived (the sink's count for guest TX, the guest's or the raw reader's
# for guest RX); "vs raw": that throughput over the raw TAP's of the same
# run; cpu ns/pkt: CPU time of the backend side (every netbackd thread, or
# the raw TAP writer/reader threads) per packet, and Mpps/core, what that
# gives on a core of its own; busy / waited: the backend side's CPU time
# and run-queue wait over the wall time (a waited figure well above 0 means
# the machine's other load took its CPU); guest and host: the CPU the
# guest process and the sink or source used; loss: sent but not counted.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${PVBACK_BUILD:-${BUILD:-$src/build}}
[[ $build == /* ]] || build=$src/$build
helper=$build/bench/helpers/net-xensim

for f in "$helper" "$build/netbackd" "$build/xensim/xensimd"; do
	[[ -e $f ]] || { echo "net-xensim: $f missing (make all)" >&2; exit 1; }
done
if [[ $(id -u) != 0 ]]; then
	echo "net-xensim: skipped, needs root (TAP devices, namespaces)" >&2
	exit 0
fi

export PVBACK_SRC=$src PVBACK_BUILD=$build
export LD_LIBRARY_PATH=$build/xensim/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

args=(-t "${BENCH_TIME:-2}" -r "${BENCH_RUNS:-5}")
cases=${BENCH_CASES:-}
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
	args=(-t 1 -r 3)
	cases=${cases:-tx-64-1q,tx-1514-1q,tx-gso-1q,rx-64-1q,rx-1514-1q,rx-gso-1q}
fi
[[ -n $cases ]] && args+=(-c "$cases")
[[ ${BENCH_PIN:-1} == 0 ]] && args+=(--no-pin)
[[ ${BENCH_VERBOSE:-0} == 1 ]] && args+=(-v)

perfdir=
if [[ ${BENCH_PERF:-0} == 1 ]]; then
	if command -v perf >/dev/null; then
		perfdir=$(mktemp -d /tmp/pvback-netperf.XXXXXX)
		args+=(--perf "$perfdir" --perf-cases
		       "${BENCH_PERF_CASES:-tx-64-1q,rx-64-1q,tx-gso-1q,rx-gso-1q}")
	else
		echo "net-xensim: no perf (apt-get install linux-perf): no profile" >&2
	fi
fi

# TMPDIR: where the emulated Xen keeps its state (a tmpfs is best).
[[ -d /dev/shm && -w /dev/shm ]] && export TMPDIR=${TMPDIR:-/dev/shm}
out=$(mktemp /tmp/pvback-netbench.XXXXXX)
trap 'rm -f "$out"' EXIT
"$helper" "${args[@]}" | tee "$out"

# The DPDK port's case: optional, skipped without DPDK.
if [[ ${BENCH_DPDK:-1} == 1 ]]; then
	if ! "$build/netbackd" --help 2>&1 | grep -q 'dpdk-vhost-dir'; then
		echo; echo "net-xensim: DPDK port case skipped: netbackd built without DPDK"
	elif ! command -v dpdk-testpmd >/dev/null; then
		echo; echo "net-xensim: DPDK port case skipped: no dpdk-testpmd (dpdk-dev)"
	else
		# The TAP path's tx-64-1q row: Mpps (column 6), ns/pkt (10).
		ref=$(awk -F'|' '$2 ~ /guest TX/ && $3 ~ /64 B/ && $4 ~ /1/ &&
			$5 ~ /netbackd/ { gsub(/ /, ""); print $6 ":" $10 }' "$out")
		dargs=(-t "${args[1]}" -r "${args[3]}")
		[[ -n $ref ]] && dargs+=(--tap-ref "$ref")
		[[ ${BENCH_PIN:-1} == 0 ]] && dargs+=(--no-pin)
		[[ ${BENCH_VERBOSE:-0} == 1 ]] && dargs+=(-v)
		echo
		"$helper" --dpdk "${dargs[@]}" ||
			echo "net-xensim: the DPDK port case failed" >&2
	fi
fi

[[ -n $perfdir ]] || exit 0
# Where netbackd's time went: by object, by function (self), and the share
# under the system calls and kernel paths that matter here (children).
# head closes its pipe early: that is no failure here.
set +o pipefail
for data in "$perfdir"/*.data; do
	[[ -e $data ]] || continue
	echo
	echo "== profile of netbackd, $(basename "$data" .data) ($data)"
	perf report -i "$data" --stdio --no-children --sort dso -g none \
		2>/dev/null | grep '%' | head -n 6
	echo "-- top functions (self)"
	perf report -i "$data" --stdio --no-children --sort dso,sym -g none \
		2>/dev/null | grep '%' | head -n 16
	echo "-- under (children)"
	perf report -i "$data" --stdio --children --sort sym -g none \
		2>/dev/null | grep '%' |
		grep -E '\] (__GI___writev|__GI___readv|tun_get_user|tun_do_read|tpacket_rcv|ip_rcv|netif_receive_skb|eventfd_write|epoll_wait|schedule|_copy_from_iter|_copy_to_iter) *$' || true
done
echo
echo "perf data kept in $perfdir"
