# net-compare: one PV guest whose NIC is served in turn by netbackd
# (pvback-vif, a TAP on xenbr0) and by the kernel netback (xen-netback,
# Xen's vif-bridge), switched with network-detach / network-attach under
# the running guest (both claim every vif: never both at once); iperf3 TCP
# both ways, 1 and 4 streams, on each in ABBA order, figures side by side.
# budget: 1200
. /e2e/net.sh

MAC=00:16:3e:4e:00:03
IP=$NET_PREFIX.3
# name:iperf3 client arguments (the guest is the client; -R: Dom0 sends)
WORKLOADS="guest-to-host:
host-to-guest:-R
guest-to-host-4-streams:-P,4
host-to-guest-4-streams:-P,4,-R"

# net_on BACKEND: the guest's NIC is served by BACKEND (netbackd, kernel),
# up, with its address; a NIC on the other backend is detached first and
# the backends switched.
net_on() {
	local b=$1 d cur devid script tap
	d=$(domid netcmp)
	cur=$(cat /run/e2e/netcmp.on 2> /dev/null)
	if [ "$cur" != "$b" ]; then
		devid=$(vif_of "$d")
		if [ -n "$devid" ]; then
			timeout 60 xl network-detach netcmp "$devid" >> "$SLOG/xl-network.log" 2>&1 ||
				{ fail "detach-from-$cur"; return 1; }
			wait_until 20 sh -c "! xenstore-exists /local/domain/0/backend/vif/$d/$devid 2> /dev/null" ||
				{ fail "backend-gone-$cur"; return 1; }
			g netcmp nic-gone $MAC 30 || { fail "guest-sees-detach-$cur" "$G_RES"; return 1; }
		fi
		net_mode "$b" || { fail "mode-$b"; return 1; }
		script=pvback-vif
		[ "$b" = kernel ] && script=vif-bridge
		timeout 60 xl network-attach netcmp "$(vif_spec pv $MAC $script)" >> "$SLOG/xl-network.log" 2>&1 ||
			{ fail "attach-to-$b"; return 1; }
		echo "$b" > /run/e2e/netcmp.on
	fi
	g -t 90 netcmp net-up $MAC "$IP/24" 60 || { fail "nic-up-on-$b" "$G_RES"; return 1; }
	# who really serves it: netbackd's is a TAP, the kernel's is not
	devid=$(vif_of "$d")
	tap=vif$d.$devid
	if [ "$b" = netbackd ]; then
		[ -e /sys/class/net/$tap/tun_flags ] || { fail "served-by-$b" "$tap is not a TAP"; return 1; }
	else
		[ -e /sys/class/net/$tap ] && [ ! -e /sys/class/net/$tap/tun_flags ] ||
			{ fail "served-by-$b" "$tap missing or a TAP"; return 1; }
	fi
	[ "$(tap_master $tap)" = $BRIDGE ] || { fail "on-bridge-$b" "$tap not on $BRIDGE"; return 1; }
	info "on $b: $tap, $G_RES"
}

# cpu_snap [PID]: "UPTIME DOM0 GUEST PROC", the CPU seconds Xen has
# charged Domain-0 and the guest so far (all their vCPUs) and those of
# process PID (netbackd's worker: all its threads), at this moment. /proc
# counts in USER_HZ, 100 on x86.
cpu_snap() {
	local p=0
	[ -n "$1" ] && p=$(awk '{ printf "%.2f", ($14 + $15) / 100 }' /proc/"$1"/stat 2> /dev/null)
	echo "$(up) $(xl list | awk '$1 == "Domain-0" { d = $NF } $1 == "netcmp" { g = $NF }
		END { printf "%s %s", d + 0, g + 0 }') ${p:-0}"
}

# cpu_use SNAP0 SNAP1: "DOM0 GUEST PROC DOM0S": the first three in % of
# one CPU between them, then Dom0's CPU seconds.
cpu_use() {
	echo "$1 $2" | awk '{ w = $5 - $1; if (w <= 0) w = 1
		printf "%.0f %.0f %.0f %.2f", ($6 - $2) * 100 / w, ($7 - $3) * 100 / w, ($8 - $4) * 100 / w, $6 - $2 }'
}

scenario() {
	local t=$NET_IPERFT r b order name args f v nl d tap ratio rr pid c0
	check netbackd-mode net_mode netbackd
	nl=$(($(wc -l < "$NETBACKD_LOG") + 1))
	check iperf3-server iperf_server_start
	rm -f /run/e2e/netcmp.on /run/e2e/nfig.* /run/e2e/ndrops.*
	# no NIC at boot: each backend's gets attached in turn
	GUEST_VIFS=
	guest_up netcmp pv 384 2 "" "xen_netfront.max_queues=2" 120 || return

	# ABBA: each backend runs first once
	for r in 1 2; do
		order="netbackd kernel"
		[ $r = 2 ] && order="kernel netbackd"
		for b in $order; do
			if ! net_on $b; then
				continue
			fi
			pass "round-$r-on-$b"
			g netcmp ping "$NET_HOST" 3 > /dev/null
			pid=
			[ "$b" = netbackd ] && pid=$(worker_pid "$(domid netcmp)" netbackd)
			echo "$WORKLOADS" | while IFS=: read -r name args; do
				args=$(echo "$args" | tr , ' ')
				c0=$(cpu_snap $pid)
				[ $r = 1 ] && perf_start "$b-$name" $((t + 1))
				if g -t $((t * 3 + 90)) netcmp iperf "$NET_HOST" "$t" $args; then
					# "mbps=X retr=Y", then cpu_use's four
					echo "$(echo "$G_RES" | sed 's/[a-z]*=//g') $(cpu_use "$c0" "$(cpu_snap $pid)")" >> /run/e2e/nfig.$name.$b
				else
					fail "iperf-$name-$b-$r" "$G_RES"
				fi
			done
			# what was dropped on the way, this phase (a vif's
			# counters start with it)
			d=$(domid netcmp)
			tap=vif$d.$(vif_of "$d")
			if [ "$b" = netbackd ]; then
				echo "round $r: $tap $(if_drops "$tap"), netbackd $(nb_drops "$d")" >> /run/e2e/ndrops.$b
				netbackd --stats --json > "$SLOG/netbackd-stats-round-$r.json" 2>&1
			else
				echo "round $r: $tap $(if_drops "$tap")" >> /run/e2e/ndrops.$b
			fi
		done
	done

	fig "iperf3 TCP, guest is the client, ${t}s per run, receiver Mbit/s: mean (round 1, round 2); rounds ABBA"
	fig "$(printf '%-24s %-20s %-20s %11s %s' workload netbackd kernel-netback ours/kernel '(per round)')"
	echo "$WORKLOADS" | while IFS=: read -r name args; do
		set --
		for b in netbackd kernel; do
			f=/run/e2e/nfig.$name.$b
			v=$(awk '{ s += $1; n++; l = l (n > 1 ? " " : "") $1 }
				END { if (n) printf "%.0f (%s)", s / n, l; else print "-" }' "$f" 2> /dev/null)
			set -- "$@" "${v:--}"
		done
		ratio=$(awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }')
		# each round's pair ran back to back: its ratio shows the spread
		rr=$(paste -d '|' /run/e2e/nfig.$name.netbackd /run/e2e/nfig.$name.kernel 2> /dev/null |
			awk -F '|' '{ a = $1 + 0; b = $2 + 0
				l = l (NR > 1 ? " " : "") (a > 0 && b > 0 ? sprintf("%.2f", a / b) : "-") }
				END { print l }')
		fig "$(printf '%-24s %-20s %-20s %11s %s' "$name" "$1" "$2" "$ratio" "(${rr:--})")"
	done
	# loss shows as the senders' retransmissions
	fig "TCP retransmissions (sender), per run"
	echo "$WORKLOADS" | while IFS=: read -r name args; do
		set --
		for b in netbackd kernel; do
			v=$(awk '{ l = l (NR > 1 ? " " : "") $2 } END { print l }' /run/e2e/nfig.$name.$b 2> /dev/null)
			set -- "$@" "${v:--}"
		done
		fig "$(printf '%-24s %-20s %-20s' "$name" "$1" "$2")"
	done
	# where the CPU went: a backend that needs more of Dom0 per bit, or
	# leaves Dom0 or the guest idle, shows here (Dom0 and the guest have
	# two vCPUs each, on the two emulated CPUs)
	fig "CPU while iperf3 ran, % of one CPU, per run: Dom0 guest netbackd-worker; Dom0 ms per Gbit"
	echo "$WORKLOADS" | while IFS=: read -r name args; do
		set --
		for b in netbackd kernel; do
			v=$(awk -v t="$t" -v b=$b '{ l = l (NR > 1 ? ", " : "") $3 " " $4 (b == "netbackd" ? " " $5 : "")
				if ($1 + 0 > 0) l = l sprintf(" %.0f", $6 * 1000 / ($1 * t / 1000)) }
				END { print l }' /run/e2e/nfig.$name.$b 2> /dev/null)
			set -- "$@" "${v:--}"
		done
		fig "$(printf '%-24s netbackd %s | kernel %s' "$name" "$1" "$2")"
	done
	for b in netbackd kernel; do
		sed "s/^/drops on $b, /" /run/e2e/ndrops.$b 2> /dev/null | while read -r v; do fig "$v"; done
	done
	pass figures-printed
	perf_reports

	g -t 30 netcmp poweroff
	check guest-powered-off wait_until 60 sh -c "! xl domid netcmp > /dev/null 2>&1"
	iperf_server_stop
	# Dom0 as it was: netbackd the service, xen-netback gone
	check netbackd-mode-restored net_mode netbackd
	check netbackd-log-clean nb_log_errors "$nl"
}
