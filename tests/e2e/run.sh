#!/bin/bash
# run.sh [--list] [SCENARIO...] - the end-to-end tests on a real Xen.
#
# Builds the images (build-images.sh), boots Xen 4.17 + the Debian Linux
# Dom0 in qemu-system-x86_64 (TCG, -cpu qemu64,+svm,+npt, -nic none), where
# Dom0 runs blkbackd and netbackd as services and the scenarios
# (scenarios/<name>.sh) one after the other, then prints a summary ending
# in "N passed, N failed".
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
# scenarios), E2E_MEM (MiB, 4096),
# E2E_SMP (2), E2E_ACCEL (tcg,thread=multi), E2E_CPU (qemu64,+svm,+npt),
# E2E_QEMU (the QEMU binary, qemu-system-x86_64), E2E_QEMU_DATA (its
# firmware and option ROM directories, colon-separated, each passed as -L;
# for a QEMU unpacked outside /usr, see README.md), E2E_XENARGS (added
# to Xen's command line, e.g. "hap_1gb=0 hap_2mb=0"), E2E_TSC (the guests'
# tsc_mode in xl.cfg, e.g. native; default xl's).
# The serial console (host-timestamped) and Dom0's /var/log
# are kept in $BUILD/e2e/logs/<date>/ ($BUILD/e2e/logs/last).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
# blk-pvh, blk-hvm, net-pvh and net-hvm are left out: their guests crash
# inside QEMU's nested SVM under I/O load, whatever the backend (README.md,
# env-pvh-kernel)
DEFAULT="blk-pv blk-per-vm blk-compare net-pv net-compare"

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

total=300
for s in "${SCENARIOS[@]}"; do total=$((total + $(budget_of "$s"))); done
TIMEOUT=${E2E_TIMEOUT:-$total}
list=$(IFS=+; echo "${SCENARIOS[*]}")
extra=
[ -n "${E2E_FIORT:-}" ] && extra="e2e.fiort=$E2E_FIORT"
[ -n "${E2E_VCPUS:-}" ] && extra="$extra e2e.vcpus=$E2E_VCPUS"
[ -n "${E2E_IPERFT:-}" ] && extra="$extra e2e.iperft=$E2E_IPERFT"
[ -n "${E2E_TSC:-}" ] && extra="$extra e2e.tsc=$E2E_TSC"
# the log disk: Dom0 writes a tar of its /var/log onto it
truncate -s 256M "$LOGS/logdisk.img"

echo "e2e: scenarios: ${SCENARIOS[*]} (QEMU timeout ${TIMEOUT} s)"
echo "e2e: serial console: $LOGS/serial.log"
QEMU=${E2E_QEMU:-qemu-system-x86_64}
qdata=()
IFS=: read -ra dirs <<< "${E2E_QEMU_DATA:-}"
for d in "${dirs[@]}"; do
	[ -n "$d" ] && qdata+=(-L "$d")
done
echo "e2e: $("$QEMU" --version | head -n 1) ($(command -v "$QEMU"))"
# NB: a comma in a multiboot module's arguments would have to be doubled
timeout -k 10 "$TIMEOUT" "$QEMU" "${qdata[@]}" \
	-accel "${E2E_ACCEL:-tcg,thread=multi}" -cpu "${E2E_CPU:-qemu64,+svm,+npt}" \
	-m "${E2E_MEM:-4096}" -smp "${E2E_SMP:-2}" -no-reboot -nic none \
	-display none -monitor none -serial stdio \
	-drive file="$LOGS/logdisk.img",format=raw,if=none,id=logs \
	-device virtio-blk-pci,drive=logs \
	-kernel "$IMG/xen" \
	-append "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=1536M,max:1536M dom0_max_vcpus=2${E2E_XENARGS:+ $E2E_XENARGS}" \
	-initrd "$IMG/vmlinuz console=hvc0 earlyprintk=xen loglevel=5 e2e=$list $extra,$IMG/dom0.cpio.gz" \
	< /dev/null 2>&1 |
	perl -MTime::HiRes=time -ne 'BEGIN { $| = 1; $t0 = time; open(L, ">", $ARGV[0]) or die; shift; L->autoflush(1) }
		s/\r//g; my $l = sprintf("[%8.2f] %s", time - $t0, $_); print L $l;
		print $l if /\@\@(BEGIN|END|PASS|FAIL|FIG|DONE)/' "$LOGS/serial.log"
qrc=${PIPESTATUS[0]}
case $qrc in
0) echo "e2e: QEMU exited" ;;
124 | 137) echo "e2e: QEMU killed after ${TIMEOUT} s (timeout)" ;;
*) echo "e2e: QEMU exit status $qrc" ;;
esac

mkdir -p "$LOGS/dom0"
if tar -xf "$LOGS/logdisk.img" -C "$LOGS/dom0" 2> /dev/null; then
	rm -f "$LOGS/logdisk.img"
else
	echo "e2e: no Dom0 logs on the log disk (kept as $LOGS/logdisk.img)"
fi

# ---------------------------------------------------------------- summary
S=$LOGS/serial.log
np=0
nf=0
echo
echo "==== e2e summary ($LOGS)"
for s in "${SCENARIOS[@]}"; do
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
if grep -q '@@FIG' "$S"; then
	echo
	grep '@@FIG' "$S" | sed 's/^\[[ 0-9.]*\] @@FIG //'
fi
echo
[ $nf -gt 0 ] && echo "logs: $LOGS (serial.log; dom0/: blkbackd, netbackd, xl, guest consoles, e2e/<scenario>/evidence-*)"
echo "$np passed, $nf failed"
[ $nf = 0 ] && [ $np -gt 0 ]
