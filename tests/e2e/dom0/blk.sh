# blk.sh - the blkbackd checks every guest type goes through (sourced by
# scenarios/blk-pv.sh, blk-pvh.sh, blk-hvm.sh after lib.sh).
#
# blk_suite TYPE: one guest of TYPE (pv, pvh, hvm), 2 vCPUs, whose xvda is
# an image file served by blkbackd through the xl disk spec
#   format=raw,vdev=xvda,access=rw,script=pvback-block,target=FILE
# with xen-blkback not loaded. Each step below is a check of its own.

# the fio verify runs (2 jobs on 2 CPUs, so both queues carry requests)
FIO_2Q="--numjobs=2 --cpus_allowed=0-1 --cpus_allowed_policy=split --iodepth=16"
FIO_VERIFY="--verify=crc32c --verify_fatal=1 --do_verify=1"

BLK_SPEC_PREFIX="format=raw,vdev=xvda,access=rw,script=pvback-block,target="

# blk_resync: the guest was replaced behind our back (a crash: Xen resets
# an HVM-container guest on a triple fault and xl re-creates it). Say so,
# with what Xen saw and the kernel symbol at the RIP, then go on with the
# new domain. Uses blk_suite's name, d, be, fe, boot_s.
blk_resync() {
	local nd rip
	nd=$(domid "$name")
	[ "$nd" = "$d" ] && return 0
	# xl's monitor re-creates a crashed guest within seconds
	[ -n "$nd" ] || wait_until 60 sh -c "xl domid $name > /dev/null 2>&1"
	nd=$(domid "$name")
	fail "guest-restarted-unexpectedly-dom$d" "domain $d is now ${nd:-gone}"
	xl dmesg | grep -E "Triple fault|crash|RIP:" | tail -n 2 | sed "s/^/@@INFO $SCEN: /"
	[ -n "$nd" ] || return 1
	d=$nd
	be=/local/domain/0/backend/vbd/$d/51712
	fe=/local/domain/$d/device/vbd/51712
	guest_ready "$name" "$boot_s" || return 1
	rip=$(xl dmesg | sed -n 's/.*RIP: *0010:\[<\(ffffffff[0-9a-f]*\)>\].*/\1/p' | tail -n 1)
	[ -n "$rip" ] && g "$name" ksym "$rip" && info "guest RIP at the crash: $G_RES"
	g -t 90 "$name" wait-disk xvda 60
}

blk_suite() {
	local type=$1 name=$SCEN img=/images/$SCEN.img d be fe v n m1 m2 m3 \
		before after boot_s=120 t0 bl
	[ "$type" = hvm ] && boot_s=240

	check blkbackd-mode backend_mode blkbackd
	check kernel-blkback-not-loaded sh -c "! lsmod | grep -q '^xen_blkback'"
	# this scenario's part of blkbackd's log
	bl=$(($(wc -l < "$BLKBACKD_LOG") + 1))
	mk_image "$img" 256
	guest_up "$name" "$type" 384 2 "'$BLK_SPEC_PREFIX$img'" "" "$boot_s" || return 1
	d=$(domid "$name")
	be=/local/domain/0/backend/vbd/$d/51712
	fe=/local/domain/$d/device/vbd/51712
	gcheck disk-visible -t 90 "$name" wait-disk xvda 60 || return 1

	# the control plane as xl and blkfront left it
	v=$(xenstore-read $be/physical-device-path 2> /dev/null)
	check hotplug-script-wrote-store [ "$v" = "$img" ]
	check backend-connected [ "$(xenstore-read $be/state)" = 4 ]
	check frontend-connected [ "$(xenstore-read $fe/state)" = 4 ]
	n=$(xenstore-read $fe/multi-queue-num-queues 2> /dev/null)
	check frontend-2-queues [ "${n:-1}" = 2 ]
	info "negotiated: queues=${n:-1} ring-page-order=$(xenstore-read $fe/ring-page-order 2> /dev/null || echo 0)" \
		"persistent=$(xenstore-read $be/feature-persistent 2> /dev/null)/$(xenstore-read $fe/feature-persistent 2> /dev/null)" \
		"indirect=$(xenstore-read $be/feature-max-indirect-segments 2> /dev/null)" \
		"worker=$(worker_pid "$d")"
	g "$name" disk-info xvda && info "guest disk: $G_RES"

	# data integrity, random write then verify, block sizes 4 KiB - 1 MiB
	gcheck fio-randwrite-verify -t 900 "$name" fio xvda randwrite-verify \
		--rw=randwrite --bsrange=4k-1m $FIO_2Q $FIO_VERIFY --size=40m --offset_increment=64m
	n=$(blk_queues_used "$d")
	check two-queues-used [ "$n" = 2 ]
	n=$(blk_count "$d" indirect)
	check indirect-requests [ "$n" -gt 0 ]
	info "indirect requests so far: $n"
	blk_resync
	gcheck fio-randrw-verify -t 900 "$name" fio xvda randrw-verify \
		--rw=randrw --rwmixread=50 --bsrange=4k-1m $FIO_2Q $FIO_VERIFY --size=40m --offset_increment=64m

	# fsync: flushes reach the daemon
	blk_resync
	before=$(blk_count "$d" flush)
	gcheck fsync-verify "$name" fio xvda fsync --rw=randwrite --bs=4k --size=2m \
		--offset=136m --iodepth=1 --fsync=4 $FIO_VERIFY
	after=$(blk_count "$d" flush)
	check fsync-flushes-reach-blkbackd [ "$after" -gt "$before" ]
	info "flush requests: $before -> $after"

	# discard then zeros
	blk_resync
	before=$(blk_count "$d" discard)
	gcheck discard-reads-zeros "$name" discard-zeros xvda 160 16
	after=$(blk_count "$d" discard)
	check discard-reaches-blkbackd [ "$after" -gt "$before" ]

	# growing the backing file
	blk_resync
	truncate -s 320M "$img"
	gcheck resize-seen -t 60 "$name" wait-size xvda $((320 * 1048576)) 30
	gcheck resize-io-in-new-space "$name" fio xvda tail --rw=randwrite --bs=64k \
		--offset=256m --size=64m --iodepth=8 $FIO_VERIFY

	# detach, attach: the data is still there
	blk_resync
	g "$name" pattern-write xvda 180 8
	m1=${G_RES#md5=}
	check pattern-written [ ${#m1} = 32 ]
	t0=$(up)
	timeout 60 xl block-detach "$name" xvda > "$SLOG/xl-block-detach.log" 2>&1
	check block-detach [ $? = 0 ]
	check backend-removed-after-detach wait_until 20 sh -c "! xenstore-exists $be 2> /dev/null"
	gcheck guest-sees-detach "$name" wait-gone xvda 30
	timeout 60 xl block-attach "$name" "$BLK_SPEC_PREFIX$img" > "$SLOG/xl-block-attach.log" 2>&1
	check block-attach [ $? = 0 ]
	gcheck disk-back-after-attach -t 90 "$name" wait-disk xvda 60
	gcheck data-kept-across-detach-attach "$name" pattern-check xvda 180 8 "$m1"
	info "detach + attach: $(awk "BEGIN { print $(up) - $t0 }") s"

	# guest reboot
	blk_resync
	g "$name" pattern-write xvda 200 8
	m2=${G_RES#md5=}
	t0=$(up)
	g "$name" reboot
	if guest_rebooted "$name" "$d" "$boot_s"; then
		pass guest-rebooted "$(awk "BEGIN { print $(up) - $t0 }") s"
		d=$(domid "$name")
		be=/local/domain/0/backend/vbd/$d/51712
		gcheck disk-after-reboot -t 90 "$name" wait-disk xvda 60
		gcheck data-kept-across-reboot "$name" pattern-check xvda 200 8 "$m2"
		gcheck fio-verify-after-reboot -t 600 "$name" fio xvda after-reboot \
			--rw=randwrite --bsrange=4k-256k --iodepth=8 --size=16m --offset=64m $FIO_VERIFY
	else
		fail guest-rebooted "domain $d not back with an agent in ${boot_s}s"
		return 1
	fi

	# the worker killed with the guest idle
	blk_resync
	g "$name" pattern-write xvda 210 8
	m3=${G_RES#md5=}
	sleep 2
	if worker_kill "$d"; then
		check backend-connected-after-kill wait_until 30 sh -c \
			"[ \"\$(xenstore-read $be/state 2> /dev/null)\" = 4 ]"
		gcheck data-after-worker-kill -t 120 "$name" pattern-check xvda 210 8 "$m3"
		gcheck fio-verify-after-worker-kill -t 600 "$name" fio xvda after-kill \
			--rw=randwrite --bsrange=4k-256k --iodepth=8 --size=16m --offset=64m $FIO_VERIFY
		g -t 30 "$name" dmesg 15 > /dev/null
		info "the guest's kernel log after the kill is on its console ([$name] lines)"
	fi
	info "blkbackd stats at the end:"
	blk_stats | sed "s/^/@@INFO $SCEN: /"

	# shutdown: the daemon lets the device go
	blk_resync
	g -t 30 "$name" poweroff
	check guest-powered-off wait_until 60 sh -c "! xl domid $name > /dev/null 2>&1"
	check backend-gone-after-shutdown wait_until 20 sh -c "! xenstore-exists $be 2> /dev/null"
	check worker-exits-without-devices wait_until 20 sh -c ". /e2e/lib.sh; ! worker_pid $d > /dev/null"
	# last: whatever went wrong above shows in the log
	check blkbackd-log-clean blk_log_errors "$bl" "$KILLED"
	return 0
}
