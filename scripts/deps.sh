#!/usr/bin/env bash
# Install the Debian 12 packages pvback needs to build, test and demo.
#
#   scripts/deps.sh            install what is missing (apt-get), quiet when
#                              everything is there
#   scripts/deps.sh --check    exit 1 and name what is missing, install nothing
#   scripts/deps.sh --list     print the package list
#   scripts/deps.sh --e2e ...  the same, with the packages of the end-to-end
#                              tests on a real Xen under QEMU added (make e2e)
#
# Used by the Makefile (deps target, before test/demo/bench) and by .ci/run.
set -euo pipefail

PKGS=(
	build-essential pkg-config git
	libxen-dev xenstore-utils	# real libxenstore/-gnttab/-evtchn + tools
	liburing-dev libaio-dev libseccomp-dev
	fio iperf3 iproute2 procps util-linux
	binutils			# objdump for the symbol-version test
	clang-format
	clang				# libFuzzer targets (make fuzz)
	dpkg-dev			# apt-get source: fio's source for the engine
	python3				# bench/: reads fio's JSON
	gnuplot-nox			# bench/plot: PNGs of the results
	# netbackd's DPDK port (port=dpdk; built only where libdpdk is) and
	# the switch of its tests and bench case: Debian 12 ships
	# dpdk-testpmd in dpdk-dev (the dpdk package has only its scripts)
	libdpdk-dev dpdk-dev
)

# tests/e2e: Xen 4.17 + a Debian Linux Dom0 and domUs booted in QEMU (TCG),
# images built from these installed files only. Only with --e2e, so the
# default `make test` never pulls a hypervisor and a kernel.
E2E_PKGS=(
	qemu-system-x86			# the emulated machine (TCG)
	qemu-system-xen			# HVM device model and qdisk, in Dom0
	seabios				# bios-256k.bin for HVM guests
	xen-hypervisor-4.17-amd64 xen-utils-4.17
	linux-image-amd64		# Dom0 and domU kernel + modules
	busybox-static cpio kmod	# the initramfs images
	bridge-utils
)

if [[ ${1:-} == --e2e ]]; then
	shift
	PKGS+=("${E2E_PKGS[@]}")
fi

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $st == "install ok installed" ]] || missing+=("$p")
done

case "${1:-}" in
--list)
	printf '%s\n' "${PKGS[@]}"
	exit 0
	;;
--check)
	if ((${#missing[@]})); then
		echo "deps: missing: ${missing[*]}" >&2
		exit 1
	fi
	exit 0
	;;
esac

((${#missing[@]})) || exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=
if [[ $(id -u) != 0 ]]; then
	command -v sudo >/dev/null || {
		echo "deps: not root and no sudo; install: ${missing[*]}" >&2
		exit 1
	}
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
