# net.sh - the netbackd checks every guest type goes through (sourced by
# scenarios/net-pv.sh, net-pvh.sh, net-hvm.sh after lib.sh), and what
# net-compare shares with them: the iperf3 server in Dom0, vif specs,
# backend switches under a live guest.
#
# net_suite TYPE: one guest of TYPE (pv, pvh, hvm), 2 vCPUs, with one NIC
# served by netbackd through the xl vif spec
#   mac=MAC,bridge=xenbr0,script=pvback-vif
# with xen-netback not loaded. Each step below is a check of its own.

# seconds per iperf3 run (net-compare's figures; net_suite's runs too)
NET_IPERFT=$(cat /run/e2e/iperft 2> /dev/null || echo 8)

# vif_spec TYPE MAC SCRIPT: the inside of one vif = [ '...' ] entry. An
# HVM guest gets a PV NIC only (type=vif): no emulated twin in QEMU.
vif_spec() {
	if [ "$1" = hvm ]; then
		echo "mac=$2,bridge=$BRIDGE,script=$3,type=vif"
	else
		echo "mac=$2,bridge=$BRIDGE,script=$3"
	fi
}

# iperf_server_start / _stop: iperf3 -s on Dom0's bridge address, for the
# guests' clients (-R when Dom0 is to send).
iperf_server_start() {
	iperf3 -s -B "$NET_HOST" --forceflush > "$SLOG/iperf3-server.log" 2>&1 &
	echo $! > /run/iperf3.pid
	wait_until 10 grep -q "Server listening" "$SLOG/iperf3-server.log"
}

iperf_server_stop() {
	[ -e /run/iperf3.pid ] && kill "$(cat /run/iperf3.pid)" 2> /dev/null
	rm -f /run/iperf3.pid
}

# vif_of DOMID: the devid of that guest's (only) vif, or nothing.
vif_of() { xenstore-list /local/domain/0/backend/vif/"$1" 2> /dev/null | tail -n 1; }

# tap_master IF: the bridge IF is a port of, or nothing.
tap_master() {
	local m
	m=$(readlink /sys/class/net/"$1"/master 2> /dev/null) || return 1
	echo "${m##*/}"
}

# host_ping ADDR COUNT: every echo from Dom0 answered (output in SLOG).
host_ping() {
	ping -c "$2" -w $(($2 * 3 + 10)) "$1" > "$SLOG/ping-$1.txt" 2>&1
	grep -q " $2 packets received" "$SLOG/ping-$1.txt"
}

# vif_script_errors: pvback-vif's refusals, run as libxl runs it but on a
# directory outside backend/ (no daemon looks there): a vif whose TAP does
# not exist, and one whose device is not a TAP (the bridge itself, as a
# vifname), each fail with hotplug-status=error and a hotplug-error that
# says why; offline of a TAP that is already gone is fine.
vif_script_errors() {
	local p=e2e/pvback-vif-test/999/0 rc=0 e
	xenstore-write "$p/bridge" $BRIDGE || return 1
	XENBUS_PATH=$p vif=vif999.0 /etc/xen/scripts/pvback-vif online type_if=vif &&
		{ info "pvback-vif online: no error for a missing TAP"; rc=1; }
	e=$(xenstore-read "$p/hotplug-error" 2> /dev/null)
	info "pvback-vif, missing TAP: $e"
	case "$e" in *"vif999.0 does not exist"*) ;; *) rc=1 ;; esac
	[ "$(xenstore-read "$p/hotplug-status" 2> /dev/null)" = error ] || rc=1
	xenstore-rm "$p/hotplug-error" "$p/hotplug-status" 2> /dev/null
	xenstore-write "$p/vifname" $BRIDGE
	XENBUS_PATH=$p vif=vif999.0 /etc/xen/scripts/pvback-vif online type_if=vif &&
		{ info "pvback-vif online: no error for a device that is not a TAP"; rc=1; }
	e=$(xenstore-read "$p/hotplug-error" 2> /dev/null)
	info "pvback-vif, not a TAP: $e"
	case "$e" in *"$BRIDGE is not a TAP"*) ;; *) rc=1 ;; esac
	xenstore-rm "$p/vifname"
	XENBUS_PATH=$p vif=vif999.0 /etc/xen/scripts/pvback-vif offline type_if=vif ||
		{ info "pvback-vif offline of a gone TAP failed"; rc=1; }
	xenstore-rm e2e/pvback-vif-test
	return $rc
}

net_suite() {
	local type=$1 name=$SCEN mac=00:16:3e:4e:00:02 ip=$NET_PREFIX.2 d be fe \
		tap spec n nl boot_s=120 t=$NET_IPERFT devid ifi
	# (HVM: SeaBIOS loads kernel and initrd through fw_cfg, slowly)
	[ "$type" = hvm ] && boot_s=360
	spec=$(vif_spec "$type" $mac pvback-vif)

	check netbackd-mode net_mode netbackd
	check kernel-netback-not-loaded sh -c "! lsmod | grep -q '^xen_netback'"
	check bridge-has-address sh -c "$IPR -4 addr show dev $BRIDGE | grep -q 'inet $NET_HOST/'"
	check vif-script-errors vif_script_errors
	# this scenario's part of netbackd's log
	nl=$(($(wc -l < "$NETBACKD_LOG") + 1))
	check iperf3-server iperf_server_start
	GUEST_VIFS="'$spec'"
	guest_up "$name" "$type" 384 2 "" "xen_netfront.max_queues=2" "$boot_s" || return 1
	d=$(domid "$name")
	be=/local/domain/0/backend/vif/$d/0
	fe=/local/domain/$d/device/vif/0
	tap=vif$d.0
	gcheck nic-up -t 90 "$name" net-up $mac "$ip/24" 60 || return 1

	# the control plane as xl, pvback-vif and netfront left it
	check hotplug-status-connected [ "$(xenstore-read $be/hotplug-status 2> /dev/null)" = connected ]
	check backend-connected [ "$(xenstore-read $be/state)" = 4 ]
	check frontend-connected [ "$(xenstore-read $fe/state)" = 4 ]
	check tap-is-netbackds [ -e /sys/class/net/$tap/tun_flags ]
	check tap-on-bridge [ "$(tap_master $tap)" = $BRIDGE ]
	n=$(xenstore-read $fe/multi-queue-num-queues 2> /dev/null)
	check frontend-2-queues [ "${n:-1}" = 2 ]
	info "negotiated: queues=${n:-1}" \
		"split-evtchn=$(xenstore-exists $fe/queue-0/event-channel-tx 2> /dev/null && echo yes || echo no)" \
		"be-max-queues=$(xenstore-read $be/multi-queue-max-queues 2> /dev/null)" \
		"xdp-headroom=$(xenstore-read $fe/xdp-headroom 2> /dev/null || echo -)" \
		"worker=$(worker_pid "$d" netbackd)"

	# traffic
	gcheck ping-guest-to-host "$name" ping "$NET_HOST" 5
	check ping-host-to-guest host_ping "$ip" 5
	gcheck iperf-guest-to-host -t $((t * 3 + 90)) "$name" iperf "$NET_HOST" "$t"
	gcheck iperf-host-to-guest -t $((t * 3 + 90)) "$name" iperf "$NET_HOST" "$t" -R
	# 4 streams each way: flows hash onto both queues, on both sides
	gcheck iperf-4-streams-guest-to-host -t $((t * 3 + 90)) "$name" iperf "$NET_HOST" "$t" -P 4
	gcheck iperf-4-streams-host-to-guest -t $((t * 3 + 90)) "$name" iperf "$NET_HOST" "$t" -P 4 -R
	nb_queues "$d" > "$SLOG/queues.txt"
	netbackd --stats --json > "$SLOG/netbackd-stats.json" 2>&1
	sed "s/^/@@INFO $SCEN: queue: /" "$SLOG/queues.txt"
	n=$(awk '$3 > 0' "$SLOG/queues.txt" | wc -l)
	check two-queues-carry-guest-tx [ "$n" = 2 ]
	n=$(awk '$4 > 0' "$SLOG/queues.txt" | wc -l)
	check two-queues-carry-guest-rx [ "$n" = 2 ]
	info "drops so far: netbackd $(nb_drops "$d"), $tap $(if_drops $tap)"
	info "netbackd stats before detach:"
	netbackd --stats 2> /dev/null | sed "s/^/@@INFO $SCEN: /"

	# the worker killed under a live NIC: its successor takes the frontend
	# over, with the same TAP, still on the bridge
	ifi=$(cat /sys/class/net/$tap/ifindex 2> /dev/null)
	if worker_kill "$d" netbackd; then
		check same-tap-after-kill [ "$(cat /sys/class/net/$tap/ifindex 2> /dev/null)" = "$ifi" ]
		check tap-on-bridge-after-kill [ "$(tap_master $tap)" = $BRIDGE ]
		check backend-connected-after-kill [ "$(xenstore-read $be/state 2> /dev/null)" = 4 ]
		# what the guest sees is a short outage, as a NIC reset: frames
		# sent while no worker serves it can be lost (once, an HVM guest's
		# first ping 5 s after the kill). It must be back within 30 s,
		# and lose nothing from then on.
		gcheck nic-answers-after-kill -t 90 "$name" ping-first "$NET_HOST" 30
		gcheck ping-guest-to-host-after-kill "$name" ping "$NET_HOST" 5
		check ping-host-to-guest-after-kill host_ping "$ip" 5
		gcheck iperf-host-to-guest-after-kill -t $((t * 3 + 90)) "$name" iperf "$NET_HOST" "$t" -R
	fi

	# detach, attach: a new device, served and bridged again
	timeout 60 xl network-detach "$name" 0 > "$SLOG/xl-network-detach.log" 2>&1
	check network-detach [ $? = 0 ]
	check backend-removed-after-detach wait_until 20 sh -c "! xenstore-exists $be 2> /dev/null"
	check tap-removed-after-detach wait_until 20 [ ! -e /sys/class/net/$tap ]
	gcheck guest-sees-detach "$name" nic-gone $mac 30
	timeout 60 xl network-attach "$name" "$spec" > "$SLOG/xl-network-attach.log" 2>&1
	check network-attach [ $? = 0 ]
	devid=$(vif_of "$d")
	be=/local/domain/0/backend/vif/$d/$devid
	tap=vif$d.$devid
	gcheck nic-up-after-attach -t 90 "$name" net-up $mac "$ip/24" 60
	check backend-connected-after-attach [ "$(xenstore-read $be/state 2> /dev/null)" = 4 ]
	check tap-on-bridge-after-attach [ "$(tap_master $tap)" = $BRIDGE ]
	gcheck ping-guest-to-host-after-attach "$name" ping "$NET_HOST" 5
	check ping-host-to-guest-after-attach host_ping "$ip" 5

	# shutdown: the daemon lets the device and its TAP go
	g -t 30 "$name" poweroff
	check guest-powered-off wait_until 60 sh -c "! xl domid $name > /dev/null 2>&1"
	check backend-gone-after-shutdown wait_until 20 sh -c "! xenstore-exists /local/domain/0/backend/vif/$d 2> /dev/null"
	check tap-gone-after-shutdown wait_until 20 [ ! -e /sys/class/net/$tap ]
	check worker-exits-without-devices wait_until 20 sh -c ". /e2e/lib.sh; ! worker_pid $d netbackd > /dev/null"
	iperf_server_stop
	# last: whatever went wrong above shows in the log
	check netbackd-log-clean nb_log_errors "$nl" "$KILLED"
	return 0
}
