#!/bin/bash
# run.sh [--list] [SCENARIO...] - the end-to-end tests on a real Xen.
#
# Builds the images (build-images.sh), boots Xen 4.17 + the Debian Linux
# Dom0 in qemu-system-x86_64 (TCG, -cpu qemu64,+svm,+npt, -nic none), where
# Dom0 runs blkbackd and netbackd as services and the scenarios
# (scenarios/<name>.sh) one after the other, once per emulated CPU count
# the scenarios ask for, then prints a summary ending in "N passed,
# N failed".
# Exit status 0 only when every check of every scenario passed.
#
#   tests/e2e/run.sh                  the default set
#   tests/e2e/run.sh blk-pv smoke     chosen scenarios, in that order
#   tests/e2e/run.sh --list           the scenarios and their budgets
#
# Environment: BUILD (build dir, default build; blkbackd must be built,
# and netbackd for the net-* scenarios), E2E_TIMEOUT (seconds QEMU may
# run; default the scenarios' budgets + 300), E2E_FIORT (seconds per fio
# run in blk-compare), E2E_IPERFT (seconds per iperf3 run in the net-*
# scenarios), E2E_MEM (MiB, 4096), E2E_SMP (the CPUs of every boot;
# by default each scenario's, see smp_of), E2E_ACCEL (tcg,thread=multi),
# E2E_CPU (qemu64,+svm,+npt),
# E2E_QEMU (the QEMU binary, qemu-system-x86_64), E2E_QEMU_DATA (its
# firmware and option ROM directories, colon-separated, each passed as -L;
# for a QEMU unpacked outside /usr, see README.md), E2E_XENARGS (added
# to Xen's command line, e.g. "hap_1gb=0 hap_2mb=0"), E2E_TSC (the guests'
# tsc_mode in xl.cfg, e.g. native; default xl's), E2E_BLKSET (blkbackd
# settings over dom0/blkbackd.conf, "key=value ...", e.g. "engine=aio"),
# E2E_PERF=1 (perf in Dom0: blk-compare and net-compare profile the whole
# of Dom0 during each figure's run, perf-*.txt in their logs; needs the
# host's linux-perf), E2E_PARALLEL (0: boots one after the other; by
# default, when the host has a core per boot, the boots run side by side,
# each with one emulated CPU).
# The serial console (host-timestamped) and Dom0's /var/log
# are kept in $BUILD/e2e/logs/<date>/ ($BUILD/e2e/logs/last), in
# smp<N>/ below it for each boot when there are several.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
# two boots: the PV scenarios with two emulated CPUs, the PVH and HVM ones
# with one (smp_of)
DEFAULT="blk-pv blk-per-vm blk-compare net-pv net-compare blk-pvh net-pvh blk-hvm net-hvm"

budget_of() { sed -n 's/^# budget: *\([0-9]*\).*/\1/p' "$HERE/scenarios/$1.sh"; }

if [ "${1:-}" = --list ]; then
	for f in "$HERE"/scenarios/*.sh; do
		s=$(basename "$f" .sh)
		printf '%-14s %5ss  %s\n' "$s" "$(budget_of "$s")" \
			"$(awk '/^# budget:/ { exit } /^#/ { sub(/^# */, ""); if (NR == 1) sub(/^[^:]*: */, ""); printf "%s ", $0 }' "$f" | fold -s -w 60 | sed '2,$s/^/                       /')"
	done
	echo "default: $DEFAULT"
	exit 0
fi
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || read -ra SCENARIOS <<< "$DEFAULT"
for s in "${SCENARIOS[@]}"; do
	[ -f "$HERE/scenarios/$s.sh" ] || {
		echo "e2e: no scenario '$s' (tests/e2e/run.sh --list)" >&2
		exit 2
	}
done

"$TOP/scripts/deps.sh" --e2e --check || {
	echo "e2e: run scripts/deps.sh --e2e (make e2e does)" >&2
	exit 2
}
[ -x "$BUILD/blkbackd" ] || {
	echo "e2e: no $BUILD/blkbackd: build it first (make e2e does)" >&2
	exit 2
}
case " ${SCENARIOS[*]}" in
*" net-"*)
	[ -x "$BUILD/netbackd" ] || {
		echo "e2e: no $BUILD/netbackd: build it first (make e2e does)" >&2
		exit 2
	}
	;;
esac

IMG=$BUILD/e2e/img
LOGS=$BUILD/e2e/logs/$(date +%Y%m%d-%H%M%S)
mkdir -p "$IMG" "$LOGS"
ln -sfn "$(basename "$LOGS")" "$BUILD/e2e/logs/last"
# keep the newest 20 runs
ls -d "$BUILD"/e2e/logs/2*/ | sort -r | tail -n +21 | xargs -r rm -rf
t0=$(date +%s.%N)
if ! "$HERE/build-images.sh" "$IMG" "$BUILD" > "$LOGS/build-images.log" 2>&1; then
	echo "e2e: image build failed:" >&2
	tail -n 20 "$LOGS/build-images.log" >&2
	exit 2
fi
printf 'e2e: images built in %.1f s (%s)\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$IMG"

# smp_of SCENARIO: the emulated CPUs its boot gets ("# smp:" in its file,
# else 2; E2E_SMP, when set, for every scenario). PVH and HVM guests run
# under Xen's SVM, which QEMU 7.2's TCG emulates reliably only with one CPU
# (README.md); PV scenarios gain from two.
smp_of() {
	local n
	n=$(sed -n 's/^# smp: *\([0-9]*\).*/\1/p' "$HERE/scenarios/$1.sh")
	echo "${E2E_SMP:-${n:-2}}"
}

# boot DIR SMP SCENARIO...: one QEMU boot running those scenarios; the
# serial console in DIR/serial.log, Dom0's /var/log in DIR/dom0
boot() {
	local dir=$1 smp=$2 total=300 list timeout s qrc
	shift 2
	for s in "$@"; do total=$((total + $(budget_of "$s"))); done
	timeout=${E2E_TIMEOUT:-$total}
	list=$(IFS=+; echo "$*")
	mkdir -p "$dir"
	# the log disk: Dom0 writes a tar of its /var/log onto it
	truncate -s 256M "$dir/logdisk.img"
	echo "e2e: scenarios: $* (-smp $smp, QEMU timeout $timeout s)"
	echo "e2e: serial console: $dir/serial.log"
	# NB: a comma in a multiboot module's arguments would have to be doubled
	timeout -k 10 "$timeout" "$QEMU" "${qdata[@]}" \
		-accel "${E2E_ACCEL:-tcg,thread=multi}" -cpu "${E2E_CPU:-qemu64,+svm,+npt}" \
		-m "${E2E_MEM:-4096}" -smp "$smp" -no-reboot -nic none \
		-display none -monitor none -serial stdio \
		-drive file="$dir/logdisk.img",format=raw,if=none,id=logs \
		-device virtio-blk-pci,drive=logs \
		-kernel "$IMG/xen" \
		-append "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=1536M,max:1536M dom0_max_vcpus=2${E2E_XENARGS:+ $E2E_XENARGS}" \
		-initrd "$IMG/vmlinuz console=hvc0 earlyprintk=xen loglevel=5 e2e=$list $extra,$IMG/dom0.cpio.gz" \
		< /dev/null 2>&1 |
		perl -MTime::HiRes=time -ne 'BEGIN { $| = 1; $t0 = time; open(L, ">", $ARGV[0]) or die; shift; L->autoflush(1) }
			s/\r//g; my $l = sprintf("[%8.2f] %s", time - $t0, $_); print L $l;
			print $l if /\@\@(BEGIN|END|PASS|FAIL|FIG|DONE)/' "$dir/serial.log"
	qrc=${PIPESTATUS[0]}
	case $qrc in
	0) echo "e2e: QEMU exited" ;;
	124 | 137) echo "e2e: QEMU killed after $timeout s (timeout)" ;;
	*) echo "e2e: QEMU exit status $qrc" ;;
	esac

	mkdir -p "$dir/dom0"
	if tar -xf "$dir/logdisk.img" -C "$dir/dom0" 2> /dev/null; then
		rm -f "$dir/logdisk.img"
	else
		echo "e2e: no Dom0 logs on the log disk (kept as $dir/logdisk.img)"
	fi
}

QEMU=${E2E_QEMU:-qemu-system-x86_64}
qdata=()
IFS=: read -ra dirs <<< "${E2E_QEMU_DATA:-}"
for d in "${dirs[@]}"; do
	[ -n "$d" ] && qdata+=(-L "$d")
done
echo "e2e: $("$QEMU" --version | head -n 1) ($(command -v "$QEMU"))"
extra=
[ -n "${E2E_FIORT:-}" ] && extra="e2e.fiort=$E2E_FIORT"
[ -n "${E2E_VCPUS:-}" ] && extra="$extra e2e.vcpus=$E2E_VCPUS"
[ -n "${E2E_IPERFT:-}" ] && extra="$extra e2e.iperft=$E2E_IPERFT"
[ -n "${E2E_TSC:-}" ] && extra="$extra e2e.tsc=$E2E_TSC"
[ -n "${E2E_BLKSET:-}" ] && extra="$extra e2e.blkset=$(echo $E2E_BLKSET | tr ' ' +)"
[ -n "${E2E_PERF:-}" ] && extra="$extra e2e.perf=1"

# one boot per CPU count, in the order the scenarios first ask for it; a
# single boot keeps its logs in $LOGS itself, several in $LOGS/smp<N>.
# Several boots run side by side when the host has a core for each, each
# with one emulated CPU: a QEMU thread per host core, and the whole set in
# the time of its longest boot (the PV set alone takes about 20 min on one
# CPU, 12 on two; the PVH/HVM set 16) instead of the sum.
declare -A SERIAL
smps=()
for s in "${SCENARIOS[@]}"; do
	n=$(smp_of "$s")
	case " ${smps[*]} " in *" $n "*) ;; *) smps+=("$n") ;; esac
done
par=0
[ ${#smps[@]} -gt 1 ] && [ "${E2E_PARALLEL:-1}" != 0 ] &&
	[ "$(nproc)" -ge ${#smps[@]} ] && par=1
[ $par = 1 ] && echo "e2e: ${#smps[@]} boots side by side, one emulated CPU each (E2E_PARALLEL=0: one after the other)"
for n in "${smps[@]}"; do
	group=()
	for s in "${SCENARIOS[@]}"; do
		[ "$(smp_of "$s")" = "$n" ] && group+=("$s")
	done
	dir=$LOGS
	[ ${#smps[@]} -gt 1 ] && dir=$LOGS/smp$n
	if [ $par = 1 ]; then
		boot "$dir" 1 "${group[@]}" &
	else
		boot "$dir" "$n" "${group[@]}"
	fi
	for s in "${group[@]}"; do SERIAL[$s]=$dir/serial.log; done
done
wait

# ---------------------------------------------------------------- summary
np=0
nf=0
echo
echo "==== e2e summary ($LOGS)"
for s in "${SCENARIOS[@]}"; do
	S=${SERIAL[$s]}
	p=$(grep -c "@@PASS $s/" "$S")
	f=$(grep -c "@@FAIL $s/" "$S")
	end=$(grep -m1 "@@END $s " "$S" | sed 's/.*seconds=//')
	if [ -z "$end" ]; then
		f=$((f + 1))
		if grep -q "@@BEGIN $s" "$S"; then
			status="did not finish"
		else
			status="did not start"
		fi
		echo "FAIL $s/finished ($status)"
	fi
	np=$((np + p))
	nf=$((nf + f))
	grep "@@FAIL $s/" "$S" | sed 's/^\[[ 0-9.]*\] @@//'
	printf '%-14s %3d passed, %3d failed%s\n' "$s" "$p" "$f" "${end:+, $end s}"
done
figs=$(for s in "${SCENARIOS[@]}"; do grep "@@FIG $s " "${SERIAL[$s]}"; done)
if [ -n "$figs" ]; then
	echo
	echo "$figs" | sed 's/^\[[ 0-9.]*\] @@FIG //'
fi
echo
[ $nf -gt 0 ] && echo "logs: $LOGS (serial.log; dom0/: blkbackd, netbackd, xl, guest consoles, e2e/<scenario>/evidence-*)"
echo "$np passed, $nf failed"
[ $nf = 0 ] && [ $np -gt 0 ]
