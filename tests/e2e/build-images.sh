#!/bin/bash
# build-images.sh OUT BINDIR - the images the e2e machine boots, from
# installed Debian files only (scripts/deps.sh --e2e), in a few seconds:
#
#   OUT/xen            the hypervisor (multiboot ELF, from /boot/xen-4.17-amd64.gz)
#   OUT/vmlinuz        Debian's kernel, for Dom0 and for every guest
#   OUT/dom0.cpio.gz   Dom0: busybox, the Xen tools, QEMU's Xen device model
#                      (qdisk, HVM), BINDIR/blkbackd (and BINDIR/netbackd
#                      when built) in /usr/sbin, the hotplug scripts, the
#                      configs, iperf3, the harness (dom0/, scenarios/), and
#                      the guest kernel and initramfs
#   OUT/domu.cpio.gz   guests: busybox, xen-blkfront/-netfront, fio, iperf3,
#                      xenstore tools (the agent's channel to Dom0)
#
# Nothing is downloaded. Staging trees are OUT/root-dom0 and OUT/root-domu.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
OUT=$1
BINDIR=$2
KV=${KV:-$(ls /lib/modules | sort -V | tail -1)}
XENLIB=/usr/lib/xen-4.17

mkdir -p "$OUT"
gunzip -c /boot/xen-4.17-amd64.gz > "$OUT/xen"
cp /boot/vmlinuz-"$KV" "$OUT/vmlinuz"

# Binaries at their own path, with the libraries ldd names.
copy_bin() {
	local root=$1 b lib
	shift
	for b in "$@"; do
		b=$(readlink -f "$b")
		install -D -m755 "$b" "$root$b"
		for lib in $(ldd "$b" 2>/dev/null | grep -o '/[^ )]*'); do
			[ -e "$root$lib" ] || install -D -m755 "$(readlink -f "$lib")" "$root$lib"
		done
	done
}

# Kernel modules with their dependencies, then depmod for the tree.
copy_mods() {
	local root=$1 m f
	shift
	for m in "$@"; do
		for f in $(modprobe -S "$KV" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'); do
			install -D -m644 "$f" "$root$f"
		done
	done
	cp /lib/modules/"$KV"/modules.order /lib/modules/"$KV"/modules.builtin* \
		"$root/lib/modules/$KV/"
	depmod -b "$root" "$KV"
}

base_root() {
	local root=$1 a
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root,var/lib,var/log,mnt}
	ln -s ../run "$root/var/run"
	install -m755 /bin/busybox "$root/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
	done
	# pvback: an unprivileged user for the daemons' workers to drop to
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'pvback:x:998:998:pvback workers:/nonexistent:/bin/false' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' > "$root/etc/passwd"
	printf '%s\n' 'root:x:0:' 'pvback:x:998:' 'nogroup:x:65534:' > "$root/etc/group"
	# glibc dlopen()s libgcc_s for pthread_cancel: xl and fio abort without
	install -D -m644 /lib/x86_64-linux-gnu/libgcc_s.so.1 "$root/lib/x86_64-linux-gnu/libgcc_s.so.1"
	# /usr/bin/xenstore is multi-call (Debian's xenstore-* are links to it)
	copy_bin "$root" /usr/bin/xenstore
	for t in read write ls list rm exists chmod watch; do
		ln -sf xenstore "$root/usr/bin/xenstore-$t"
	done
}

mk_cpio() { # root output
	(cd "$1" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$2"
}

############ guest ############
G=$OUT/root-domu
base_root "$G"
copy_mods "$G" xen-blkfront xen-netfront
"$HERE/fio-stubs.sh" "$OUT/fio-stubs"
install -D -m755 /usr/bin/fio "$G/usr/bin/fio"
for s in "$OUT"/fio-stubs/lib*; do
	install -D -m755 "$s" "$G/lib/x86_64-linux-gnu/${s##*/}"
done
# fio's real libraries, the ones its stubbed engines do not pull in
for lib in libnuma.so.1 libz.so.1 libm.so.6 libaio.so.1 libc.so.6; do
	p=$(ldd /usr/bin/fio | awk -v n=$lib '$1 == n { print $3 }')
	[ -e "$G$p" ] || install -D -m755 "$(readlink -f "$p")" "$G$p"
done
install -D -m755 /lib64/ld-linux-x86-64.so.2 "$G/lib64/ld-linux-x86-64.so.2"
chroot "$G" /usr/bin/fio --version > /dev/null || {
	echo "build-images: fio does not run in the guest root" >&2
	exit 1
}
copy_bin "$G" /usr/bin/iperf3
chroot "$G" /usr/bin/iperf3 --version > /dev/null || {
	echo "build-images: iperf3 does not run in the guest root" >&2
	exit 1
}
install -m755 "$HERE/guest/init" "$G/init"
install -D -m644 "$HERE/guest/cmds.sh" "$G/e2e/cmds.sh"
mk_cpio "$G" "$OUT/domu.cpio.gz"

############ Dom0 ############
R=$OUT/root-dom0
base_root "$R"
copy_mods "$R" xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd \
	xen-blkback xen-netback loop bridge tun virtio_pci virtio_blk
copy_bin "$R" $XENLIB/bin/xl $XENLIB/bin/xenstored $XENLIB/bin/xenconsoled \
	$XENLIB/bin/xen-init-dom0 $XENLIB/bin/xenconsole \
	/bin/bash /usr/bin/flock /usr/bin/stat /sbin/losetup /sbin/ip \
	/usr/bin/iperf3 /usr/libexec/xen-qemu-system-i386
# E2E_PERF: perf, to profile Dom0 during the figures' runs (lib.sh)
if [ -n "${E2E_PERF:-}" ]; then
	[ -x /usr/bin/perf ] || { echo "build-images: E2E_PERF needs perf (apt-get install linux-perf)" >&2; exit 1; }
	copy_bin "$R" /usr/bin/perf
fi
# the QEMU device model: qdisk backend and HVM guests
install -D -m644 /usr/share/seabios/bios-256k.bin "$R/usr/share/seabios/bios-256k.bin"
install -D -m644 $XENLIB/boot/hvmloader "$R$XENLIB/boot/hvmloader"
for f in linuxboot_dma.bin linuxboot.bin kvmvapic.bin keymaps/en-us; do
	install -D -m644 /usr/share/qemu/$f "$R/usr/share/qemu/$f"
done
ln -sf /usr/bin/bash "$R/bin/bash"	# the Xen hotplug scripts are #!/bin/bash
ln -sf $XENLIB/bin/xl "$R/usr/sbin/xl"
mkdir -p "$R/etc/xen" "$R/var/lib/xen/dump" "$R/var/lib/xenstored" "$R/var/log/xen/console"
cp -a /etc/xen/scripts "$R/etc/xen/"
cp /etc/xen/xl.conf "$R/etc/xen/xl.conf"
# pvback, installed as a package would install it
for d in blkbackd netbackd; do
	[ -x "$BINDIR/$d" ] || continue
	copy_bin "$R" "$BINDIR/$d"
	mv "$R$(readlink -f "$BINDIR/$d")" "$R/usr/sbin/$d"
done
[ -x "$R/usr/sbin/blkbackd" ] || { echo "build-images: no $BINDIR/blkbackd" >&2; exit 1; }
for f in "$TOP"/scripts/hotplug/*; do
	install -m755 "$f" "$R/etc/xen/scripts/${f##*/}"
done
install -D -m644 "$HERE/dom0/blkbackd.conf" "$R/etc/pvback/blkbackd.conf"
install -D -m644 "$HERE/dom0/netbackd.conf" "$R/etc/pvback/netbackd.conf"
# the harness
install -m755 "$HERE/dom0/init" "$R/init"
for f in "$HERE"/dom0/*.sh; do install -D -m644 "$f" "$R/e2e/$(basename "$f")"; done
for f in "$HERE"/scenarios/*.sh; do install -D -m644 "$f" "$R/e2e/scenarios/$(basename "$f")"; done
install -D -m644 "$OUT/vmlinuz" "$R/e2e/guest/vmlinuz"
install -D -m644 "$OUT/domu.cpio.gz" "$R/e2e/guest/initrd.cpio.gz"
mk_cpio "$R" "$OUT/dom0.cpio.gz"

ls -l "$OUT"/xen "$OUT"/vmlinuz "$OUT"/*.cpio.gz
