# blk-per-vm: per-VM choice in one boot: one guest's disk is served by the
# kernel blkback (backend/vbd, xl's block script), another's by blkbackd
# (backend/vbd3, written as newer xl writes backendtype=tap); both run fio
# verify at the same time.
# budget: 900
. /e2e/blk.sh

scenario() {
	local dk du bk bu p1 p2
	check mixed-mode backend_mode mixed
	mk_image /images/kernel.img 256
	mk_image /images/pvback.img 256
	# xl's own path for a file on the kernel backend: the block script
	# puts it on a loop device
	guest_create pervm-kernel pv 384 2 \
		"'format=raw,vdev=xvda,access=rw,script=block,target=/images/kernel.img'" ||
		{ fail xl-create-kernel; return; }
	pass xl-create-kernel
	# the vbd3 disk is added while the guest is paused, as xl adds disks
	guest_create pervm-pvback pv 384 2 "" "" -p || { fail xl-create-pvback; return; }
	du=$(domid pervm-pvback)
	check vbd3-added vbd3_add "$du" 51712 xvda /images/pvback.img
	xl unpause pervm-pvback
	dk=$(domid pervm-kernel)
	check guests-ready sh -c ". /e2e/lib.sh; guest_ready pervm-kernel 120 && guest_ready pervm-pvback 120" || return
	gcheck kernel-disk-visible -t 90 pervm-kernel wait-disk xvda 60
	gcheck pvback-disk-visible -t 90 pervm-pvback wait-disk xvda 60

	bk=/local/domain/0/backend/vbd/$dk/51712
	bu=/local/domain/0/backend/vbd3/$du/51712
	check kernel-backend-is-vbd [ "$(xenstore-read /local/domain/$dk/device/vbd/51712/backend)" = "$bk" ]
	check kernel-backend-connected [ "$(xenstore-read $bk/state)" = 4 ]
	check kernel-disk-not-blkbackd sh -c "! blkbackd --stats | grep -q '^vbd/$dk/'"
	check pvback-backend-is-vbd3 [ "$(xenstore-read /local/domain/$du/device/vbd/51712/backend)" = "$bu" ]
	check pvback-backend-connected [ "$(xenstore-read $bu/state)" = 4 ]
	check pvback-disk-is-blkbackd sh -c "blkbackd --stats | grep -q '^vbd3/$du/51712:'"
	info "kernel: $(xenstore-read $bk/physical-device-path 2> /dev/null) ($(xenstore-read $bk/physical-device 2> /dev/null));" \
		"pvback: $(xenstore-read $bu/physical-device-path 2> /dev/null)"

	# both at once
	gcheck kernel-fio-verify -t 900 pervm-kernel fio xvda kernel-verify \
		--rw=randrw --bsrange=4k-1m $FIO_2Q $FIO_VERIFY --size=40m --offset_increment=64m &
	p1=$!
	gcheck pvback-fio-verify -t 900 pervm-pvback fio xvda pvback-verify \
		--rw=randrw --bsrange=4k-1m $FIO_2Q $FIO_VERIFY --size=40m --offset_increment=64m &
	p2=$!
	# (a bare `wait` would wait for the console followers too)
	wait $p1 $p2

	g -t 30 pervm-kernel poweroff
	g -t 30 pervm-pvback poweroff
	check guests-powered-off wait_until 60 sh -c \
		"! xl domid pervm-kernel > /dev/null 2>&1 && ! xl domid pervm-pvback > /dev/null 2>&1"
	# xl 4.17 does not know vbd3: the toolstack's removal, by hand
	check vbd3-removed vbd3_remove "$du" 51712
	check pvback-worker-exits wait_until 20 sh -c ". /e2e/lib.sh; ! worker_pid $du > /dev/null"
	check kernel-backend-gone wait_until 20 sh -c "! xenstore-exists $bk 2> /dev/null"
}
