#!/usr/bin/env bash
# blk and net on a real Xen: fio and iperf3 inside a PV domU of the e2e
# harness (Xen 4.17 + Debian Dom0 in QEMU TCG, tests/e2e), against
# blkbackd / netbackd, the kernel's blkback / netback and QEMU qdisk (disk
# only), all in the same boot; one table with the ratios pvback / kernel
# and pvback / qdisk. Never a test: figures only.
#
#   bench/real-xen.sh                     one boot (15-30 minutes; longer when busy)
#   BENCH_RUNS=3 bench/real-xen.sh        three boots; medians over them
#   E2E_FIORT=20 E2E_IPERFT=20 ...        seconds per fio / iperf3 run (8)
#   bench/real-xen.sh --from DIR...       no boot: the table from the e2e
#                                         log directories DIR (serial.log)
#   BENCH_NOTE=text                       a paragraph added to the header
#
# The boot is tests/e2e/run.sh blk-compare net-compare (both scenarios in
# one boot of Xen; blk-compare's verify checks and net-compare's switches
# are part of it). Its other knobs (E2E_QEMU, E2E_ACCEL, ...) pass through.
# Workloads, in the guest, O_DIRECT libaio on /dev/xvd* (tmpfs files in
# Dom0): 4 KiB random read and write at QD 1 and 32, 1 MiB sequential
# write and read at QD 4, 64 KiB random read/write with 2 jobs at QD 8;
# iperf3 TCP guest -> Dom0 and Dom0 -> guest, 1 and 4 streams.
#
# Output: the table on stdout and in bench/results/real-xen.md (with date,
# host, load average, versions and the command), a copy in
# $BUILD/bench-results/. Figures are medians over every run of a cell (one
# per boot for fio; two rounds per boot, ABBA, for iperf3); a ratio is the
# median of the ratios of runs made side by side (the same boot for fio,
# the same round for iperf3). For p50 latency a ratio above 1
# means pvback is slower. Under TCG the absolute figures are slow: the
# ratios are the result.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${PVBACK_BUILD:-${BUILD:-$src/build}}
[[ $build == /* ]] || build=$src/$build
results=${BENCH_RESULTS:-$src/bench/results/real-xen.md}
runs=${BENCH_RUNS:-1}
scenarios=(blk-compare net-compare)

# the command that reproduces this run, knobs included
knobs=
for v in BUILD BENCH_RUNS E2E_FIORT E2E_IPERFT E2E_QEMU E2E_QEMU_DATA E2E_ACCEL \
	E2E_CPU E2E_MEM E2E_SMP E2E_XENARGS E2E_TIMEOUT E2E_TSC E2E_BLKSET; do
	[[ -n ${!v:-} ]] && knobs+="$v=${!v} "
done
command="${knobs}bench/real-xen.sh${*:+ $*}"

logdirs=()
out=$build/bench-results
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
load_before=$(uptime)
# the code under test: the tree the daemons were built from (make bench-e2e
# builds them just before)
rev=$(git -C "$src" log -1 --format='%h %cd %s' --date=format:'%F_%H:%M' 2> /dev/null |
	awk '{ s = $0; sub(/^[^ ]* [^ ]* /, "", s); if (length(s) > 60) s = substr(s, 1, 57) "..."
		sub(/_/, " ", $2); printf "%s (%s, \"%s\")", $1, $2, s }' || true)
dirty=$(git -C "$src" status --porcelain --untracked-files=no 2> /dev/null | awk '{ printf "%s%s", (n++ ? " " : ""), $2 }' || true)
load_during=
others=
t_start=$(date -u '+%F %H:%M')
if [[ ${1:-} == --from ]]; then
	shift
	(($# > 0)) || { echo "real-xen: --from needs e2e log directories" >&2; exit 2; }
	for d in "$@"; do
		[[ -f $d/serial.log ]] || { echo "real-xen: no $d/serial.log" >&2; exit 2; }
		logdirs+=("$(cd "$d" && pwd)")
	done
	load_before=
else
	for f in "$build/blkbackd" "$build/netbackd"; do
		[[ -x $f ]] || { echo "real-xen: $f missing (make bench-e2e builds it)" >&2; exit 1; }
	done
	# the 1-minute load average every 30 s while Xen runs, and what else
	# was running at the start (another QEMU shares the two CPUs)
	loads=$out/$stamp-real-xen-load.txt
	others=$(top -b -n 2 -d 3 -w 200 | awk '/^top -/ { f++ }
		f == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 10 { printf "%s%s %.0f%%", (n++ ? ", " : ""), $12, $9 }' || true)
	while sleep 30; do cut -d' ' -f1 /proc/loadavg; done > "$loads" &
	sampler=$!
	trap 'kill $sampler 2> /dev/null || true' EXIT
	for ((i = 1; i <= runs; i++)); do
		log=$out/$stamp-real-xen-boot$i.txt
		echo "== real-xen: boot $i of $runs: tests/e2e/run.sh ${scenarios[*]} ($(date -u '+%F %T') UTC; $(uptime | sed 's/.*load/load/'))" | tee "$log"
		rc=0
		BUILD=$build "$src/tests/e2e/run.sh" "${scenarios[@]}" 2>&1 | tee -a "$log" || rc=$?
		d=$(sed -n 's/^==== e2e summary (\(.*\))$/\1/p' "$log" | tail -n 1)
		[[ -n $d ]] || d=$(readlink -f "$build/e2e/logs/last")
		[[ $rc == 0 ]] || echo "real-xen: boot $i: the harness exited $rc (failed checks are listed in the table's notes)"
		[[ -f $d/serial.log ]] && logdirs+=("$d")
	done
	kill $sampler 2> /dev/null || true
	trap - EXIT
	((${#logdirs[@]} > 0)) || { echo "real-xen: no serial log" >&2; exit 1; }
	load_during=$(sort -n "$loads" | awk '{ a[++n] = $1; s += $1 }
		END { if (n) printf "min %s, median %s, max %s (%d samples, 30 s apart)", a[1], a[int((n + 1) / 2)], a[n], n }')
fi
load_after=$(uptime)

# ---------------------------------------------------------------- figures
# One record per figure: "blk WORKLOAD METRIC BACKEND VALUE" (BACKEND:
# pvback kernel qdisk) and "net WORKLOAD mbps BACKEND VALUE ROUND" from each
# serial log; notes (retransmissions, drops, failures) as "note TEXT"; per
# boot, when it started and how long its scenarios took as "boot TEXT".
recs=$(mktemp)
trap 'rm -f "$recs"' EXIT
for d in "${logdirs[@]}"; do
	perl -ne '
		BEGIN { $b = shift @ARGV }
		s/^\[[ 0-9.]*\] //;
		# a failed switch or round leaves the rounds unpaired (the
		# scenario lists each backend'"'"'s figures in order, whatever the
		# round): such a boot'"'"'s iperf3 figures stay out
		if (/^\@\@PASS net-compare\/figures-printed/) {
			$netdone = 1;
		} elsif (!$netdone && /^\@\@FAIL net-compare\//) {
			$netbad = 1;
		}
		if ($netbad && /^\@\@FIG net-compare /) {
			print "note fail $b: net-compare figures left out (a round did not complete)\n" unless $said++;
		} elsif (/^\@\@FIG blk-compare (\S+)\s+(iops|mbs|p50)\s+(\S+)\s+(\S+)\s+(\S+)/) {
			print "blk $1 $2 pvback $3 $b\nblk $1 $2 kernel $4 $b\nblk $1 $2 qdisk $5 $b\n";
		} elsif (/^\@\@FIG net-compare TCP retransmissions/) {
			$retr = 1;
		} elsif (/^\@\@FIG net-compare CPU while/) {
			$retr = 0;
		} elsif (/^\@\@FIG net-compare (\S+)\s+netbackd (.*) \| kernel (.*)/) {
			print "note cpu $b: $1 | $2 | $3\n";
		} elsif (/^\@\@FIG net-compare drops on (.*)/) {
			my $t = $1;
			# netbackd lists only the counters above 0
			$t =~ s/, netbackd\s*$/, netbackd: none/;
			print "note drops $b: $t\n";
		} elsif ($retr && /^\@\@FIG net-compare (.{24}) (.{20}) (.*)/) {
			my ($n, $p, $k) = ($1, $2, $3);
			s/\s+$// for ($n, $p, $k);
			print "note retr $b: $n | $p | $k\n";
		} elsif (/^\@\@FIG net-compare (\S+)\s+(-|\S+ \([^)]*\))\s+(-|\S+ \([^)]*\))\s/) {
			my ($n, @v) = ($1, $2, $3);
			for my $i (0, 1) {
				next unless $v[$i] =~ /\((.*)\)/;
				my $r = 0;
				for my $x (split / /, $1) {
					$r++;
					print "net $n mbps ", ($i ? "kernel" : "pvback"), " $x $b/round-$r\n";
				}
			}
		} elsif (/^\@\@FAIL ((blk|net)-compare\/.*)/) {
			print "note fail $b: $1\n";
		}' "$(basename "$d")" < "$d/serial.log"
	for s in "${scenarios[@]}"; do
		grep -q "@@END $s " "$d/serial.log" ||
			echo "note fail $(basename "$d"): $s did not finish"
	done
	# this script's own record of the boot, if it ran it
	t=$(grep -l "logs/$(basename "$d")" "$out"/*-real-xen-boot*.txt 2> /dev/null | head -n 1 || true)
	start=
	[[ -n $t ]] && start=$(sed -n 's/^== real-xen: boot .*(\(.* UTC\); \(load average: .*\))$/started \1, \2; /p' "$t")
	echo "boot $(basename "$d"): $start$(sed -n 's/^\[[ 0-9.]*\] @@END \([^ ]*\) passed=\([0-9]*\) failed=\([0-9]*\) seconds=\([0-9]*\).*/\1 \4 s (\2 passed, \3 failed)/p' "$d/serial.log" | paste -sd';' | sed 's/;/, /g')"
done > "$recs"

# medians per cell, in the scenarios' order; medians of the side-by-side ratios
table=$(awk '
	function median(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		if (n == 0) return ""
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function fmt(v) {
		if (v == "") return ""
		return v + 0 >= 100 ? sprintf("%.0f", v) : v + 0 >= 10 ? sprintf("%.1f", v) : sprintf("%.2f", v)
	}
	# the median of the ratios of runs made side by side (one boot for fio,
	# one round for iperf3), not the ratio of medians of different boots
	function ratio(key, ref,   s, r) {
		s = ""
		for (r in run)
			if (((key, r, "pvback") in one) && ((key, r, ref) in one) &&
			    one[key, r, "pvback"] + 0 > 0 && one[key, r, ref] + 0 > 0)
				s = s " " one[key, r, "pvback"] / one[key, r, ref]
		r = median(s)
		return r == "" ? "" : sprintf("%.2f", r)
	}
	$1 == "blk" || $1 == "net" {
		key = $1 " " $2 " " $3
		if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
		# fio prints "-" for a run that failed
		if ($5 != "-") { v[key, $4] = v[key, $4] " " $5; cnt[key, $4]++; one[key, $6, $4] = $5; run[$6] = 1 }
		if ($1 == "net") { rd[key, $4, $6] = $5; rounds[key] = rounds[key] " " $6 }
	}
	END {
		name["iops"] = "IOPS"; name["mbs"] = "MB/s"; name["p50"] = "p50 clat us"
		name["mbps"] = "Mbit/s"
		printf "| workload | metric | pvback (blkbackd / netbackd) | kernel (blkback / netback) | QEMU qdisk | pvback / kernel | pvback / qdisk |\n"
		printf "|---|---|--:|--:|--:|--:|--:|\n"
		for (i = 1; i <= nk; i++) {
			split(order[i], k, " ")
			# 4 KiB workloads: IOPS and latency; larger blocks: MB/s and latency
			if (k[1] == "blk" && k[3] == "iops" && k[2] !~ /-4k-/) continue
			if (k[1] == "blk" && k[3] == "mbs" && k[2] ~ /-4k-/) continue
			p = median(v[order[i], "pvback"]); kk = median(v[order[i], "kernel"])
			q = median(v[order[i], "qdisk"])
			n = cnt[order[i], "pvback"] + 0
			printf "| %s%s | %s | %s | %s | %s | %s | %s |\n", (k[1] == "net" ? "iperf3 " : "fio "), k[2],
				name[k[3]], fmt(p), fmt(kk), (k[1] == "net" ? "" : fmt(q)),
				ratio(order[i], "kernel"), (k[1] == "net" ? "" : ratio(order[i], "qdisk"))
		}
	}' "$recs")

# per-round ratios of iperf3 (each round: the two backends back to back)
spread=$(awk '$1 == "net" { r[$2, $6, $4] = $5; if (!(($2, $6) in s)) { s[$2, $6] = 1; l[$2] = l[$2] " " $6 }
	if (!($2 in w)) { w[$2] = 1; o[++n] = $2 } }
	END {
		for (i = 1; i <= n; i++) {
			m = split(l[o[i]], a, " "); t = ""
			for (j = 1; j <= m; j++) {
				p = r[o[i], a[j], "pvback"]; k = r[o[i], a[j], "kernel"]
				t = t (j > 1 ? ", " : "") a[j] ": " p "/" k " = " ((p + 0 > 0 && k + 0 > 0) ? sprintf("%.2f", p / k) : "-")
			}
			printf "- %s: %s\n", o[i], t
		}
	}' "$recs")
# per-boot ratios of fio's throughput, when there are several boots
bspread=$(awk '$1 == "blk" && (($3 == "iops" && $2 ~ /-4k-/) || ($3 == "mbs" && $2 !~ /-4k-/)) {
		v[$2, $6, $4] = $5
		if (!(($2, $6) in s)) { s[$2, $6] = 1; l[$2] = l[$2] " " $6 }
		if (!($2 in w)) { w[$2] = 1; o[++n] = $2; m[$2] = ($3 == "iops" ? "IOPS" : "MB/s") }
		if (!($6 in nb)) { nb[$6] = 1; boots++ }
	}
	function r(a, b) { return (a + 0 > 0 && b + 0 > 0) ? sprintf("%.2f", a / b) : "-" }
	END {
		if (boots < 2) exit
		for (i = 1; i <= n; i++) {
			c = split(l[o[i]], a, " "); t = ""
			for (j = 1; j <= c; j++)
				t = t (j > 1 ? ", " : "") a[j] " " r(v[o[i], a[j], "pvback"], v[o[i], a[j], "kernel"]) \
					" / " r(v[o[i], a[j], "pvback"], v[o[i], a[j], "qdisk"])
			printf "- %s %s: %s\n", o[i], m[o[i]], t
		}
	}' "$recs")
notes_retr=$(sed -n 's/^note retr //p' "$recs")
notes_drops=$(sed -n 's/^note drops //p' "$recs")
notes_cpu=$(sed -n 's/^note cpu //p' "$recs")
notes_fail=$(sed -n 's/^note fail //p' "$recs")
boots=$(sed -n 's/^boot //p' "$recs")

# ---------------------------------------------------------------- versions
s1=${logdirs[0]}/serial.log
xen=$(sed -n 's/^\[[ 0-9.]*\] (XEN) Xen version \([^ ]*\) (\([^)]*\)).*/\1 (\2)/p' "$s1" | head -n 1 || true)
dom0k=$(sed -n 's/.*@@INFO dom0: kernel \([^,]*\),.*/\1/p' "$s1" | head -n 1 || true)
t=$(grep -l "logs/$(basename "${logdirs[0]}")" "$out"/*-real-xen-boot*.txt 2> /dev/null | head -n 1 || true)
qemu=
[[ -n $t ]] && qemu=$(sed -n 's/^e2e: \(QEMU emulator.*\)/\1/p' "$t" | head -n 1 || true)
[[ -n $qemu ]] || qemu="$(${E2E_QEMU:-qemu-system-x86_64} --version | head -n 1) (now installed)"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 || true)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
fiort=$(sed -n 's/.*@@FIG blk-compare fio \([0-9]*\)s per run.*/\1/p' "$s1" | head -n 1 || true)
iperft=$(sed -n 's/.*@@FIG net-compare iperf3 TCP, guest is the client, \([0-9]*\)s per run.*/\1/p' "$s1" | head -n 1 || true)

{
	echo "# blk and net on a real Xen: pvback next to the kernel backends and QEMU qdisk"
	echo
	echo "Command (\`make bench-e2e\` runs it after \`scripts/deps.sh --e2e\` and building the daemons):"
	echo
	echo "    $command"
	echo
	if [[ -n $load_before ]]; then
		echo "Run of $t_start - $(date -u '+%H:%M') UTC, ${#logdirs[@]} boot(s) of Xen."
	else
		echo "Table made $(date -u '+%F %H:%M') UTC from existing logs."
	fi
	echo
	[[ -n $load_before && -n $rev ]] &&
		echo "- pvback: commit $rev${dirty:+; modified in the working tree: $dirty}"
	echo "- host: $(hostname), $(nproc) CPUs ($cpu), $mem, $(uname -sr)"
	[[ -n $load_before ]] && echo "- load before: \`$(echo "$load_before" | sed 's/^ *//')\`"
	[[ -n $load_during ]] && echo "- 1-minute load average while Xen ran: $load_during"
	[[ -n $load_before ]] && echo "- load after: \`$(echo "$load_after" | sed 's/^ *//')\`"
	[[ -n $others ]] && echo "- other processes busy at the start (top, %CPU over 3 s): $others"
	echo "- Xen ${xen:-?}, Dom0 kernel ${dom0k:-?}, $qemu, TCG (-accel ${E2E_ACCEL:-tcg,thread=multi} -cpu ${E2E_CPU:-qemu64,+svm,+npt} -smp ${E2E_SMP:-2})"
	echo "- fio ${fiort:-?} s per run (+1 s ramp), iperf3 ${iperft:-?} s per run; one PV guest, 2 vCPUs, 384 MiB"
	echo "- blkbackd: tests/e2e/dom0/blkbackd.conf${E2E_BLKSET:+, with $E2E_BLKSET}"
	[[ -n ${E2E_PERF:-} ]] &&
		echo "- E2E_PERF=1: perf sampled all of Dom0 at 499 Hz during every run (profiles: perf-*.txt in the logs); the figures carry that load"
	echo "- logs: ${logdirs[*]}"
	echo "$boots" | sed 's/^/- boot /'
	[[ -n ${BENCH_NOTE:-} ]] && printf '\n%s\n' "$BENCH_NOTE"
	echo
	echo "A load average near or above 2 on this 2-CPU host means the two emulated CPUs"
	echo "were sharing it with other work: absolute figures move with it, run to run."
	echo "Ratios compare runs of the same boot, a few seconds apart."
	echo
	echo "$table"
	echo
	echo "Figures: medians; fio, one run per backend per boot; iperf3, two rounds per backend"
	echo "per boot (ABBA). Ratios: the median of the ratios of runs side by side (same boot for"
	echo "fio, same round for iperf3), listed below. p50 clat: a ratio above 1 means pvback is"
	echo "slower. qdisk serves disks only."
	if [[ -n $bspread ]]; then
		echo
		echo "fio per boot (pvback/kernel / pvback/qdisk):"
		echo
		echo "$bspread"
	fi
	if [[ -n $spread ]]; then
		echo
		echo "iperf3 per round (pvback/kernel Mbit/s, ratio):"
		echo
		echo "$spread"
	fi
	if [[ -n $notes_retr ]]; then
		echo
		echo "TCP retransmissions (sender), per run: workload | netbackd | kernel netback"
		echo
		echo "$notes_retr" | sed 's/^/- /'
	fi
	if [[ -n $notes_cpu ]]; then
		echo
		echo "CPU while each iperf3 run went on, per run: workload | netbackd | kernel netback."
		echo "Each run: Dom0 %, guest % (of one CPU; two vCPUs each), with netbackd its"
		echo "worker's %, then Dom0's CPU milliseconds per Gbit received:"
		echo
		echo "$notes_cpu" | sed 's/^/- /'
	fi
	if [[ -n $notes_drops ]]; then
		echo
		echo "Drops (the vif's counters; netbackd's own), per round:"
		echo
		echo "$notes_drops" | sed 's/^/- /'
	fi
	if [[ -n $notes_fail ]]; then
		echo
		echo "Failed checks (a failed run's figure is missing from the medians):"
		echo
		echo "$notes_fail" | sed 's/^/- /'
	fi
} > "$out/$stamp-real-xen.md"
mkdir -p "$(dirname "$results")"
cp "$out/$stamp-real-xen.md" "$results"
echo
cat "$results"
echo
echo "real-xen: written to $results (and $out/$stamp-real-xen.md)"
