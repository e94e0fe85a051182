# blk-compare: one PV guest with three disks on files in the same Dom0
# tmpfs: xvda on the kernel blkback (xl, block script, loop device), xvdb
# on QEMU qdisk, xvdc on blkbackd (vbd3); fio verify on each, then the same
# fio workloads on each, their figures side by side.
# budget: 1500
. /e2e/blk.sh

# name:fio arguments (run for E2E_FIORT seconds each, default 8)
WORKLOADS="write-1m-qd4:--rw=write,--bs=1m,--iodepth=4
randread-4k-qd1:--rw=randread,--bs=4k,--iodepth=1
randwrite-4k-qd1:--rw=randwrite,--bs=4k,--iodepth=1
randread-4k-qd32:--rw=randread,--bs=4k,--iodepth=32
randwrite-4k-qd32:--rw=randwrite,--bs=4k,--iodepth=32
read-1m-qd4:--rw=read,--bs=1m,--iodepth=4
randrw-64k-2jobs-qd8:--rw=randrw,--bs=64k,--iodepth=8,--numjobs=2,--cpus_allowed=0-1,--cpus_allowed_policy=split"
BACKENDS="blkbackd:xvdc kernel-blkback:xvda qemu-qdisk:xvdb"

# figure KEY RESULT: one value out of cmd_fio's result line
figure() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

scenario() {
	local d rt fr b dev wl name args n=0 order r iops mbs p50 k
	rt=$(cat /run/e2e/fiort 2> /dev/null || echo 8)
	check mixed-mode backend_mode mixed
	for b in kernel qdisk pvback; do mk_image /images/$b.img 256; done
	guest_create compare pv 384 2 \
		"'format=raw,vdev=xvda,access=rw,script=block,target=/images/kernel.img', 'format=raw,vdev=xvdb,access=rw,backendtype=qdisk,target=/images/qdisk.img'" \
		"" -p || { fail xl-create; return; }
	pass xl-create
	d=$(domid compare)
	check vbd3-added vbd3_add "$d" 51744 xvdc /images/pvback.img
	xl unpause compare
	check guest-agent guest_ready compare 120 || return
	for b in $BACKENDS; do
		dev=${b#*:}
		gcheck "${b%%:*}-disk-visible" -t 90 compare wait-disk "$dev" 60 || return
	done
	for b in $BACKENDS; do
		dev=${b#*:}
		g compare disk-info "$dev"
		fig "setup ${b%%:*} ($dev): $G_RES"
	done
	for k in 51712:kernel-blkback 51728:qemu-qdisk 51744:blkbackd; do
		fr=/local/domain/$d/device/vbd/${k%%:*}
		b=$(xenstore-read $fr/backend)
		fig "setup ${k#*:}: $b queues=$(xenstore-read $fr/multi-queue-num-queues 2> /dev/null || echo 1)" \
			"ring-page-order=$(xenstore-read $fr/ring-page-order 2> /dev/null || echo 0)" \
			"persistent=$(xenstore-read $b/feature-persistent 2> /dev/null)" \
			"indirect=$(xenstore-read $b/feature-max-indirect-segments 2> /dev/null || echo -)"
	done

	# correctness first, on each
	for b in $BACKENDS; do
		gcheck "${b%%:*}-fio-verify" -t 900 compare fio "${b#*:}" verify \
			--rw=randrw --bsrange=4k-1m $FIO_2Q $FIO_VERIFY --size=40m --offset_increment=64m
	done

	# figures: each workload on each backend; who goes first rotates
	fig "fio ${rt}s per run (+1 s ramp), O_DIRECT libaio in the guest; MB/s = 10^6 B/s, clat in us"
	fig "$(printf '%-22s %-6s %12s %12s %12s %8s' workload metric blkbackd kernel-blkback qemu-qdisk ours/kernel)"
	echo "$WORKLOADS" | while IFS=: read -r name args; do
		args=$(echo "$args" | tr , ' ')
		order=$BACKENDS
		case $((n % 3)) in
		1) order="kernel-blkback:xvda qemu-qdisk:xvdb blkbackd:xvdc" ;;
		2) order="qemu-qdisk:xvdb blkbackd:xvdc kernel-blkback:xvda" ;;
		esac
		n=$((n + 1))
		for b in $order; do
			perf_start "${b%%:*}-$name" $((rt + 2))
			if g -t $((rt * 4 + 120)) compare fio "${b#*:}" "$name" $args --size=200m \
				--time_based --runtime="$rt" --ramp_time=1 --norandommap --randrepeat=0; then
				echo "$G_RES" > "/run/e2e/fig.$name.${b%%:*}"
			else
				fail "fio-$name-${b%%:*}" "$G_RES"
				echo "" > "/run/e2e/fig.$name.${b%%:*}"
			fi
		done
		for m in iops mbs p50; do
			set --
			for b in blkbackd kernel-blkback qemu-qdisk; do
				r=$(cat "/run/e2e/fig.$name.$b")
				v=$(figure "r_$m" "$r")
				[ -n "$v" ] || v=$(figure "w_$m" "$r")
				set -- "$@" "${v:--}"
			done
			ratio=$(awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }')
			fig "$(printf '%-22s %-6s %12s %12s %12s %8s' "$name" "$m" "$1" "$2" "$3" "$ratio")"
		done
	done
	pass figures-printed
	perf_reports
	# blkbackd's own view of those runs (grant copies, persistent grants,
	# latency histogram), for whoever studies the figures
	blkbackd --stats --json > "$SLOG/blkbackd-stats.json" 2>&1
	blk_stats | sed "s/^/@@INFO $SCEN: /"
	g -t 30 compare poweroff
	check guest-powered-off wait_until 60 sh -c "! xl domid compare > /dev/null 2>&1"
	check vbd3-removed vbd3_remove "$d" 51744
	check blkbackd-worker-exits wait_until 20 sh -c ". /e2e/lib.sh; ! worker_pid $d > /dev/null"
}
