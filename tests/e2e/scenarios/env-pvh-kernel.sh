# env-pvh-kernel: the emulator, not pvback: a PVH guest whose disk is on the
# kernel blkback runs blk-pv's fsync workload three times; a guest crash
# here (Xen: "Triple fault") is QEMU TCG's nested SVM (README.md). Not in
# the default set; E2E_SMP=2 shows the crashes.
# budget: 900
# smp: 1
. /e2e/blk.sh

scenario() {
	local i d0 d
	check mixed-mode backend_mode mixed
	mk_image /images/k.img 256
	guest_create envpvh pvh 384 "$(cat /run/e2e/vcpus 2> /dev/null || echo 2)" \
		"'format=raw,vdev=xvda,access=rw,script=block,target=/images/k.img'" ||
		{ fail xl-create; return; }
	d0=$(domid envpvh)
	for i in 1 2 3; do
		guest_ready envpvh 180 || { fail "ready-$i"; return; }
		g -t 90 envpvh wait-disk xvda 60 || { fail "disk-$i" "$G_RES"; continue; }
		gcheck "kernel-fsync-$i" -t 600 envpvh fio xvda fsync --rw=randwrite --bs=4k \
			--size=2m --offset=136m --iodepth=1 --fsync=4 $FIO_VERIFY
	done
	d=$(domid envpvh)
	check guest-not-restarted [ "$d" = "$d0" ]
	xl dmesg | grep -E "Triple fault" | sed "s/^/@@INFO $SCEN: /"
}
