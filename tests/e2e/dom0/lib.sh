# lib.sh - what every e2e scenario uses in Dom0 (sourced; busybox ash).
#
#   results    pass NAME [DETAIL], fail NAME DETAIL, info TEXT, fig TEXT,
#              check NAME CMD..., gcheck NAME GUEST CMD... (markers on the
#              serial console, counted in /run/e2e/results)
#   waiting    wait_until SECS CMD... (every wait is bounded)
#   guests     guest_create, guest_ready, g (a command run by the guest's
#              agent, over xenstore), guest_rebooted, guest_destroy
#   backends   backend_mode blkbackd|mixed, blkbackd_start/_stop,
#              blk_stats, worker_pid, vbd3_add/vbd3_remove;
#              net_mode netbackd|kernel, netbackd_start/_stop,
#              nb_queues, nb_drops, if_drops, nb_log_errors, bridge_setup
#   evidence   evidence TAG: xenstore, daemon log, xl logs, guest dmesg
#              into /var/log/e2e/$SCEN/ (kept on the host for a failed run)
#
# A scenario (scenarios/<name>.sh) runs in its own shell with SCEN set; it
# defines scenario() and may use everything here.

RESULTS=/run/e2e/results
BLKBACKD_LOG=/var/log/pvback/blkbackd.log
NETBACKD_LOG=/var/log/pvback/netbackd.log
# Dom0's bridge and its address; guests take NET_PREFIX.<n>
BRIDGE=xenbr0
NET_PREFIX=10.99.0
NET_HOST=$NET_PREFIX.1
# iproute2's ip (build-images.sh copies it where /sbin/ip resolves on the
# host); a bare `ip` in busybox ash is busybox's own applet
IPR=/usr/bin/ip
SCEN=${SCEN:-none}
SLOG=/var/log/e2e/$SCEN

up() { cut -d' ' -f1 /proc/uptime; }
# seconds (integer) since boot
now() { cut -d. -f1 /proc/uptime; }
say() { echo "@@INFO $SCEN: $*"; }
info() { say "$*"; }
fig() { echo "@@FIG $SCEN $*"; }

pass() {
	echo "PASS $SCEN/$1" >> "$RESULTS"
	echo "@@PASS $SCEN/$1${2:+ ($2)}"
}

fail() {
	echo "FAIL $SCEN/$1" >> "$RESULTS"
	echo "@@FAIL $SCEN/$1${2:+ ($2)}"
	evidence "$1"
}

# check NAME CMD...: CMD's status decides.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "'$*' failed"; fi
}

# wait_until SECS CMD...: poll CMD every 0.25 s; 0 once it succeeds.
wait_until() {
	local end=$(($(now) + $1))
	shift
	while ! "$@"; do
		[ "$(now)" -ge "$end" ] && return 1
		sleep 0.25
	done
	return 0
}

# ------------------------------------------------------------ logs
# follow FILE TAG: copy FILE's lines to the serial console as "[TAG] line",
# for the whole boot (one follower per file).
follow() {
	local flag
	flag=/run/e2e/follow.$(echo "$1" | tr / _)
	[ -e "$flag" ] && return 0
	: > "$flag"
	(tail -n +1 -F "$1" 2> /dev/null | while IFS= read -r l; do
		echo "[$2] $l"
	done) &
}

# evidence TAG: what a failed check leaves behind for the host.
evidence() {
	local dir=$SLOG/evidence-$1 n d
	mkdir -p "$dir"
	{
		echo "== uptime $(up)"
		xl list
		echo "== backends"
		xenstore-ls -fp /local/domain/0/backend 2>&1
		for n in $(xl list | awk 'NR > 2 { print $1 }'); do
			d=$(xl domid "$n" 2> /dev/null) || continue
			echo "== frontends of $n (domain $d)"
			xenstore-ls -fp /local/domain/"$d"/device 2>&1
			xenstore-ls -fp /local/domain/"$d"/data 2>&1
		done
		echo "== error nodes"
		xenstore-ls -f /local/domain/0/error 2>&1
		echo "== lsmod"
		lsmod
		echo "== processes"
		ps -o pid,ppid,stat,args
	} > "$dir/state.txt" 2>&1
	blkbackd --stats > "$dir/blkbackd-stats.txt" 2>&1
	tail -n 200 "$BLKBACKD_LOG" > "$dir/blkbackd-log-tail.txt" 2>&1
	if [ -e "$NETBACKD_LOG" ]; then
		netbackd --stats > "$dir/netbackd-stats.txt" 2>&1
		tail -n 200 "$NETBACKD_LOG" > "$dir/netbackd-log-tail.txt" 2>&1
		{
			$IPR -d -s link
			echo "== $BRIDGE ports"
			ls /sys/class/net/$BRIDGE/brif 2>&1
			echo "== addresses"
			$IPR addr
		} > "$dir/net.txt" 2>&1
	fi
	xl dmesg > "$dir/xl-dmesg.txt" 2>&1
	dmesg > "$dir/dom0-dmesg.txt" 2>&1
	echo "@@INFO $SCEN: evidence for $1 in $dir"
}

# ------------------------------------------------------------ guests
# guest_cfg NAME TYPE MEM VCPUS DISKS [EXTRA]: the xl config, printed.
# DISKS is the inside of xl's disk = [ ... ] (may be empty); GUEST_VIFS,
# when set, the inside of vif = [ ... ] (no NIC otherwise).
GUEST_VIFS=
guest_cfg() {
	local name=$1 type=$2 mem=$3 vcpus=$4 disks=$5 extra=${6:-}
	cat << EOF
name = "$name"
type = "$type"
kernel = "/e2e/guest/vmlinuz"
ramdisk = "/e2e/guest/initrd.cpio.gz"
memory = $mem
vcpus = $vcpus
disk = [ $disks ]
on_poweroff = "destroy"
on_reboot = "restart"
on_crash = "preserve"
EOF
	[ -n "$GUEST_VIFS" ] && echo "vif = [ $GUEST_VIFS ]"
	# PVH and HVM guests: Xen would trap every RDTSC (the emulated CPU has
	# no invariant TSC), a round trip through the emulated SVM that slows
	# their I/O about five times over; with one emulated CPU (smp_of in
	# run.sh) the TSC is the same everywhere, so let them read it
	if [ -s /run/e2e/tsc ]; then
		echo "tsc_mode = \"$(cat /run/e2e/tsc)\""
	elif [ "$type" != pv ]; then
		echo 'tsc_mode = "native"'
	fi
	if [ "$type" = hvm ]; then
		# The PV console (hvc0) works for PVHVM guests too; the
		# emulated UART keeps what Linux prints before it is up.
		cat << EOF
extra = "console=ttyS0 console=hvc0 quiet $extra"
serial = "file:/var/log/xen/console/guest-$name-serial.log"
vnc = 0
sdl = 0
nographic = 1
vga = "none"
EOF
	else
		echo "extra = \"console=hvc0 quiet $extra\""
	fi
}

# guest_create NAME TYPE MEM VCPUS DISKS [EXTRA] [-p]: xl create (bounded);
# -p leaves it paused. The console log is followed on the serial console.
guest_create() {
	local name=$1 cfg=$SLOG/$1.cfg paused="" rc t0
	[ "${7:-}" = -p ] && paused=-p
	guest_cfg "$1" "$2" "$3" "$4" "$5" "${6:-}" > "$cfg"
	follow /var/log/xen/console/guest-"$name".log "$name"
	t0=$(up)
	timeout 180 xl -vvv create $paused "$cfg" > "$SLOG/xl-create-$name.log" 2>&1
	rc=$?
	info "xl create $name: rc=$rc in $(awk "BEGIN { print $(up) - $t0 }") s"
	if [ $rc != 0 ]; then
		grep -v 'libxl_event.c\|poller\|^xc: debug' "$SLOG/xl-create-$name.log" | tail -25
		return 1
	fi
	return 0
}

# guest_up NAME TYPE MEM VCPUS DISKS EXTRA SECS: guest_create, then the
# guest's agent answers within SECS; the checks xl-create and guest-agent.
guest_up() {
	if ! guest_create "$1" "$2" "$3" "$4" "$5" "$6"; then
		fail xl-create "see $SLOG/xl-create-$1.log"
		return 1
	fi
	pass xl-create
	guest_ready "$1" "$7" && return 0
	fail guest-agent "no agent after ${7}s"
	return 1
}

# domid NAME: the current domain id, or nothing.
domid() { xl domid "$1" 2> /dev/null; }

# guest_ready NAME SECS: the guest's agent answers (it wrote data/e2e/ready).
guest_ready() {
	local d
	wait_until "$2" sh -c "d=\$(xl domid $1 2>/dev/null) &&
		xenstore-read /local/domain/\$d/data/e2e/ready > /dev/null 2>&1"
}

# g [-t SECS] NAME CMD ARGS...: run CMD in the guest's agent (guest/cmds.sh)
# and wait (default 300 s) for its status; G_RES is its one-line result.
# One command at a time per guest.
#
# The wait costs Dom0 little: under TCG each process it starts (xl above
# all, a tenth of a CPU second) is CPU a benchmark in the guest would
# have had, so it polls fast only at first, reads the clock without a
# process and asks xenstore, not xl, whether the domain is still there.
G_RES=
g() {
	local t=300 name d p seq v end u nap=0.1
	if [ "$1" = -t ]; then
		t=$2
		shift 2
	fi
	name=$1
	shift
	d=$(domid "$name") || {
		G_RES="no domain $name"
		return 98
	}
	p=/local/domain/$d/data/e2e
	seq=$$.$(up)
	xenstore-write "$p/cmd" "$seq $*" || {
		G_RES="cannot write $p/cmd"
		return 98
	}
	end=$(($(now) + t))
	while :; do
		v=$(xenstore-read "$p/done" 2> /dev/null)
		case "$v" in "$seq "*) break ;; esac
		read -r u _ < /proc/uptime
		if [ "${u%.*}" -ge "$end" ]; then
			G_RES="no answer to '$*' in ${t}s"
			return 124
		fi
		# destroyed, or rebooted under another domid: xl removed
		# its directory
		if ! xenstore-exists "/local/domain/$d" 2> /dev/null; then
			G_RES="domain $d gone during '$*'"
			return 97
		fi
		sleep $nap
		case $nap in 0.1) nap=0.2 ;; 0.2) nap=0.5 ;; 0.5) nap=1 ;; esac
	done
	v=${v#"$seq "}
	G_RES=${v#* }
	[ "$G_RES" = "$v" ] && G_RES=
	return "${v%% *}"
}

# gcheck NAME [-t SECS] GUEST CMD ARGS...: a guest command as a check.
gcheck() {
	local name=$1 rc
	shift
	g "$@"
	rc=$?
	if [ $rc = 0 ]; then pass "$name" "$G_RES"; else fail "$name" "rc=$rc $G_RES"; fi
	return $rc
}

# guest_rebooted NAME OLD_DOMID SECS: xl's monitor re-created the domain
# (new domid) and its agent answers.
guest_rebooted() {
	local end=$(($(now) + $3)) d
	while :; do
		d=$(domid "$1")
		[ -n "$d" ] && [ "$d" != "$2" ] && break
		[ "$(now)" -ge "$end" ] && return 1
		sleep 0.5
	done
	guest_ready "$1" $((end - $(now) > 1 ? end - $(now) : 1))
}

# guest_destroy NAME: gone, whatever state it was in (bounded); its vbd3
# disks (which xl does not know) are removed as the toolstack would.
guest_destroy() {
	local d
	d=$(domid "$1") || return 0
	timeout 60 xl destroy "$1" > /dev/null 2>&1
	vbd3_remove_all "$d"
	wait_until 20 sh -c "! xl domid $1 > /dev/null 2>&1"
}

# all_guests_destroy: between scenarios.
all_guests_destroy() {
	local n
	for n in $(xl list | awk 'NR > 2 { print $1 }'); do
		guest_destroy "$n"
	done
}

# ------------------------------------------------------------ daemons
# pvback_start NAME LOG [ARGS...]: a pvback daemon as a service would start
# it (supervisor mode, /etc/pvback/NAME.conf, its log kept in LOG); 0 once
# it says it runs.
pvback_start() {
	local name=$1 log=$2 pid n
	shift 2
	mkdir -p /var/log/pvback
	echo "==== $(up) $name $*" >> "$log"
	# the log keeps earlier starts: wait for one more "running" line
	n=$(grep -c "running (supervisor)" "$log")
	setsid /usr/sbin/$name "$@" >> "$log" 2>&1 < /dev/null &
	pid=$!
	echo $pid > /run/$name.pid
	wait_until 10 sh -c "[ \$(grep -c 'running (supervisor)' $log) -gt $n ]" &&
		kill -0 $pid 2> /dev/null
}

pvback_stop() {
	local pid
	pid=$(cat /run/$1.pid 2> /dev/null) || return 0
	kill -TERM "$pid" 2> /dev/null
	wait_until 10 sh -c "! kill -0 $pid 2> /dev/null" || kill -KILL "$pid" 2> /dev/null
	rm -f /run/$1.pid
}

# ------------------------------------------------------------ blkbackd
# blkbackd_start [ARGS...]: with E2E_BLKSET's settings (/run/e2e/blkset,
# one key=value a line) first, so that ARGS win
blkbackd_start() {
	local a="" k
	if [ -s /run/e2e/blkset ]; then
		while read -r k; do a="$a --set $k"; done < /run/e2e/blkset
	fi
	# shellcheck disable=SC2086 # one word per --set and per setting
	pvback_start blkbackd "$BLKBACKD_LOG" $a "$@"
}
blkbackd_stop() { pvback_stop blkbackd; }

# backend_mode blkbackd|mixed: who serves backend/vbd.
#   blkbackd  xen-blkback not loaded; blkbackd claims vbd3 and vbd
#   mixed     xen-blkback serves vbd; blkbackd claims only vbd3
backend_mode() {
	[ "$(cat /run/e2e/mode 2> /dev/null)" = "$1" ] && return 0
	blkbackd_stop
	case "$1" in
	blkbackd)
		rmmod xen-blkback 2> /dev/null
		! lsmod | grep -q '^xen_blkback' || return 1
		blkbackd_start || return 1
		;;
	mixed)
		modprobe xen-blkback || return 1
		blkbackd_start --set kinds=vbd3 || return 1
		;;
	esac
	echo "$1" > /run/e2e/mode
	info "backend mode $1: $(lsmod | grep -c '^xen_blkback') xen_blkback, blkbackd pid $(cat /run/blkbackd.pid)"
}

# blk_stats: blkbackd --stats, every process.
blk_stats() { blkbackd --stats 2> /dev/null; }

# blk_count DOMID CLASS: a request counter (read, write, flush, barrier,
# discard, indirect) of domain DOMID's devices, summed over their queues.
blk_count() {
	blk_stats | awk -v d="$1" -v c="$2" '
		/^[^ ]/ { split($1, a, "/"); mine = (a[2] == d) }
		mine && /^ *q[0-9]+:/ {
			for (i = 2; i < NF; i++) if ($i == c) {
				v = $(i + 1); if (c == "indirect") { split(v, a, "/"); v = a[1] + a[2] }
				s += v
			}
		}
		END { print s + 0 }'
}

# blk_queues_used DOMID: how many queues of DOMID's devices saw requests.
blk_queues_used() {
	blk_stats | awk -v d="$1" '
		/^[^ ]/ { split($1, a, "/"); mine = (a[2] == d) }
		mine && /^ *q[0-9]+:/ { if ($3 + $5 > 0) n++ }
		END { print n + 0 }'
}

# worker_pid DOMID [DAEMON]: the worker of DAEMON (blkbackd) serving that
# guest (its command line ends in "--worker DOMID"; one ps, as a process
# per /proc entry is seconds under TCG).
worker_pid() {
	ps -o pid,args | awk -v d="$1" -v n="${2:-blkbackd}" 'index($0, n) && $(NF - 1) == "--worker" && $NF == d { print $1; f = 1; exit }
		END { exit !f }'
}

# perf_start NAME SECS: with e2e.perf=1, sample all of Dom0 (every
# process, kernel and user, call chains) for SECS in the background into
# $SLOG/perf-NAME.data; perf_reports turns each into text. Under Xen PV a
# sample taken while interrupts were off lands where they come back on
# (xen_irq_enable's hypercall): read those as the section before it.
perf_start() {
	[ -e /run/e2e/perf ] || return 0
	perf record -a -g -F 499 -o "$SLOG/perf-$1.data" -- sleep "$2" > "$SLOG/perf-$1.log" 2>&1 &
}

perf_reports() {
	local f
	for f in "$SLOG"/perf-*.data; do
		[ -e "$f" ] || return 0
		wait_until 30 sh -c "! pidof perf > /dev/null"
		perf report -i "$f" --stdio --no-children --sort comm -g none > "${f%.data}.comm.txt" 2>&1
		perf report -i "$f" --stdio --no-children --sort comm,dso,sym -g none --percent-limit 0.3 > "${f%.data}.flat.txt" 2>&1
		perf report -i "$f" --stdio --no-children --sort comm,sym -g caller,0.5,callee,function,percent --percent-limit 1 > "${f%.data}.graph.txt" 2>&1
		rm -f "$f"
	done
}

# worker_kill DOMID [DAEMON]: SIGKILL the worker of DAEMON (blkbackd)
# serving that guest, then check that a new one takes its place within
# 30 s (checks worker-found, worker-restarted). KILLED: the pid killed
# (for log_errors). 1 if there was no worker to kill.
KILLED=
worker_kill() {
	local d=$1 n=${2:-blkbackd}
	KILLED=$(worker_pid "$d" "$n")
	if [ -z "$KILLED" ]; then
		fail worker-found "no $n worker for domain $d"
		return 1
	fi
	kill -KILL "$KILLED"
	info "killed worker $KILLED of domain $d at $(up)"
	if wait_until 30 sh -c ". /e2e/lib.sh; p=\$(worker_pid $d $n) && [ \"\$p\" != $KILLED ]"; then
		pass worker-restarted "pid $KILLED -> $(worker_pid "$d" "$n")"
	else
		fail worker-restarted "no new $n worker for domain $d in 30 s"
	fi
}

# mk_image PATH MIB: a backing file (sparse) in Dom0's tmpfs.
mk_image() {
	rm -f "$1"
	truncate -s "$2"M "$1"
}

# ------------------------------------------------------------ vbd3
# vbd3_add DOMID DEVID VDEV TARGET: a disk of kind vbd3, written as newer
# xl (4.19+, backendtype=tap) writes it (libxl_disk.c device_disk_add,
# libxl__device_generic_add), with pvback-block as its script: blkbackd
# serves it while the kernel blkback keeps backend/vbd. Like libxl, waits
# (10 s) for the backend's InitWait, then runs the hotplug script.
vbd3_add() {
	local d=$1 devid=$2 vdev=$3 target=$4 be fe rc
	be=/local/domain/0/backend/vbd3/$d/$devid
	fe=/local/domain/$d/device/vbd/$devid
	xenstore-write "$fe/backend" "$be" "$fe/backend-id" 0 "$fe/state" 1 \
		"$fe/virtual-device" "$devid" "$fe/device-type" disk \
		"$fe/trusted" 1 || return 1
	xenstore-chmod -r "$fe" "n$d" r0 || return 1
	xenstore-write "$be/frontend" "$fe" "$be/params" "aio:$target" \
		"$be/script" /etc/xen/scripts/pvback-block "$be/frontend-id" "$d" \
		"$be/online" 1 "$be/removable" 0 "$be/bootable" 1 \
		"$be/dev" "$vdev" "$be/type" vbd3 "$be/mode" w \
		"$be/device-type" disk "$be/discard-enable" 1 \
		"$be/specification" xen "$be/state" 1 || return 1
	xenstore-chmod -r "$be" n0 "r$d" || return 1
	# libxl's private copy (teardown reads it); harmless for 4.17's xl
	xenstore-write "/libxl/$d/device/vbd3/$devid/frontend" "$fe" \
		"/libxl/$d/device/vbd3/$devid/backend" "$be" > /dev/null 2>&1
	if ! wait_until 10 sh -c "[ \"\$(xenstore-read $be/state 2>/dev/null)\" = 2 ]"; then
		info "vbd3 $be: no InitWait within 10 s (xl would give up here)"
		return 1
	fi
	XENBUS_PATH=backend/vbd3/$d/$devid XENBUS_TYPE=vbd3 XENBUS_BASE_PATH=backend \
		timeout 40 /etc/xen/scripts/pvback-block add
	rc=$?
	[ $rc = 0 ] || info "vbd3 $be: hotplug script rc=$rc"
	return $rc
}

# vbd3_remove DOMID DEVID: as libxl removes a device
# (libxl__initiate_device_generic_remove): online=0 and, unless it is
# already Closed, Closing; wait (10 s) for Closed; the script's remove;
# then the directories.
vbd3_remove() {
	local be=/local/domain/0/backend/vbd3/$1/$2 rc=0 st p
	st=$(xenstore-read "$be/state" 2> /dev/null) || return 0
	if [ "$st" = 6 ]; then
		xenstore-write "$be/online" 0
	else
		xenstore-write "$be/online" 0 "$be/state" 5
	fi
	wait_until 10 sh -c "s=\$(xenstore-read $be/state 2>/dev/null); [ -z \"\$s\" ] || [ \"\$s\" = 6 ]" || rc=1
	XENBUS_PATH=backend/vbd3/$1/$2 timeout 40 /etc/xen/scripts/pvback-block remove
	# one by one: xenstore-rm does all its paths in one transaction, and
	# the frontend's is gone with a dead domain
	for p in "$be" "/local/domain/$1/device/vbd/$2" "/libxl/$1/device/vbd3/$2"; do
		xenstore-rm "$p" 2> /dev/null
	done
	! xenstore-exists "$be" 2> /dev/null || rc=1
	return $rc
}

vbd3_remove_all() {
	local dev
	for dev in $(xenstore-list /local/domain/0/backend/vbd3/"$1" 2> /dev/null); do
		vbd3_remove "$1" "$dev"
	done
	xenstore-rm /local/domain/0/backend/vbd3/"$1" 2> /dev/null
	return 0
}

# ------------------------------------------------------------ netbackd
netbackd_start() { pvback_start netbackd "$NETBACKD_LOG" "$@"; }
netbackd_stop() { pvback_stop netbackd; }

# bridge_setup: Dom0's xenbr0 with NET_HOST/24, as a host's network
# configuration would have it before any guest starts. No physical port:
# the machine has no NIC, nothing leaves it.
bridge_setup() {
	[ -d /sys/class/net/$BRIDGE ] || brctl addbr $BRIDGE || return 1
	# no STP and no forwarding delay: a new port forwards at once
	echo 0 > /sys/class/net/$BRIDGE/bridge/stp_state
	echo 0 > /sys/class/net/$BRIDGE/bridge/forward_delay
	# A bridge takes its lowest port's MAC unless it has one of its own;
	# with no physical port that would be the vifs' fe:ff:ff:ff:ff:ff,
	# and it would change as vifs come and go, under the guests' ARP
	# caches. A host's bridge has its NIC's; this one gets a fixed one.
	$IPR link set dev $BRIDGE address 02:00:0a:63:00:01 || return 1
	ip link set lo up
	$IPR addr replace $NET_HOST/24 dev $BRIDGE || return 1
	ip link set $BRIDGE up
}

# net_mode netbackd|kernel: who serves backend/vif (nothing else can tell
# them apart: both claim every vif).
#   netbackd  xen-netback not loaded; netbackd runs (pvback-vif script)
#   kernel    netbackd stopped; xen-netback loaded (vif-bridge script)
# Only with no vif left: switching under a guest's NIC would leave it on
# the old backend.
net_mode() {
	[ "$(cat /run/e2e/netmode 2> /dev/null)" = "$1" ] && return 0
	case "$1" in
	netbackd)
		rmmod xen-netback 2> /dev/null
		! lsmod | grep -q '^xen_netback' || return 1
		netbackd_start || return 1
		;;
	kernel)
		netbackd_stop
		modprobe xen-netback || return 1
		;;
	esac
	echo "$1" > /run/e2e/netmode
	info "net mode $1: $(lsmod | grep -c '^xen_netback') xen_netback," \
		"netbackd pid $(cat /run/netbackd.pid 2> /dev/null || echo -)"
}

# nb_queues DOMID: one line per queue of that guest's vifs that netbackd
# serves, "DEVICE QUEUE GUEST_TX_PACKETS GUEST_RX_PACKETS", from
# netbackd --stats --json (each object on its own line, so that awk can
# take it apart without a JSON parser).
nb_queues() {
	netbackd --stats --json 2> /dev/null | tr '{' '\n' | awk -v d="$1" '
		function val(k,   i, n, f, kv) {
			n = split($0, f, ",")
			for (i = 1; i <= n; i++) {
				split(f[i], kv, ":")
				if (kv[1] == "\"" k "\"") return kv[2]
			}
			return ""
		}
		/^"device":/ { dev = val("device"); gsub(/"/, "", dev); split(dev, p, "/"); mine = (p[2] == d) }
		mine && /^"queue":/ { print dev, val("queue"), val("tx_packets"), val("rx_packets") }'
}

# nb_drops DOMID: netbackd's drop counters of that guest's vifs, summed
# over their queues: "rx:queue_full=N rx:expired=N ... tx:slots=N ...",
# only those that are not 0.
nb_drops() {
	netbackd --stats --json 2> /dev/null | tr '{}' '\n\n' | awk -v d="$1" '
		/^"device":/ { split($0, a, "\""); split(a[4], p, "/"); mine = (p[2] == d) }
		/"rx_drops":$/ { kind = "rx"; next }
		/"tx_drops":$/ { kind = "tx"; next }
		mine && kind != "" && /^"/ {
			n = split($0, f, ",")
			for (i = 1; i <= n; i++) {
				split(f[i], kv, ":"); gsub(/"/, "", kv[1])
				if (kv[2] + 0 > 0) { k = kind ":" kv[1]; if (!(k in s)) o[++no] = k; s[k] += kv[2] }
			}
		}
		{ kind = "" }
		END { for (i = 1; i <= no; i++) printf "%s%s=%d", (i > 1 ? " " : ""), o[i], s[o[i]] }'
}

# if_drops IF: the host's own drops on a vif or TAP ("tx_dropped=N
# rx_dropped=N"): what the bridge could not hand it, and back.
if_drops() {
	echo "tx_dropped=$(cat /sys/class/net/"$1"/statistics/tx_dropped 2> /dev/null)" \
		"rx_dropped=$(cat /sys/class/net/"$1"/statistics/rx_dropped 2> /dev/null)"
}

# log_errors LOG [LINE [PID]]: a daemon's log lines (from LINE on) that
# say something went wrong (err level, a worker killed or failing, an event
# storm back-off, which a real frontend never causes, a sanitizer or
# assertion report), but for the death of worker PID by our own SIGKILL;
# status 0 when there are none.
log_errors() {
	! tail -n +"${2:-1}" "$1" |
		grep -v "(pid ${3:-none}) killed by signal 9 " |
		grep -E ' err: |killed by signal|exited with status|event storm|Assertion|AddressSanitizer|runtime error|BUG'
}
nb_log_errors() { log_errors "$NETBACKD_LOG" "$@"; }
blk_log_errors() { log_errors "$BLKBACKD_LOG" "$@"; }
