# cmds.sh - the commands the guest agent (guest/init) runs for Dom0.
#
# cmd_NAME ARGS... (Dom0: g GUEST NAME ARGS..., dashes for underscores):
# output goes to the guest console, `res` adds to the one-line result Dom0
# gets back, the exit status is the verdict. Sizes and offsets in MiB.

res() { echo "$*" >> /tmp/res; }
after() { echo "$1" > /tmp/after; }

# what the xenbus devices look like from here (for diagnosis)
xen_devices() {
	local d
	for d in /sys/bus/xen/devices/*; do
		[ -e "$d" ] && echo "  $d: nodename=$(cat "$d/nodename" 2> /dev/null) state=$(cat "$d/state" 2> /dev/null)"
	done
}

cmd_echo() { res "$*"; }

cmd_dmesg() { dmesg | tail -n "${1:-40}"; }

cmd_reboot() { after reboot; }
cmd_poweroff() { after poweroff; }

# wait-disk DEV SECS: /dev/DEV appears (and gets no I/O scheduler)
cmd_wait_disk() {
	local i=0
	while [ ! -b /dev/"$1" ] && [ $i -lt $((${2:-60} * 5)) ]; do
		sleep 0.2
		i=$((i + 1))
	done
	if [ ! -b /dev/"$1" ]; then
		echo "no /dev/$1 after ${2:-60} s"
		xen_devices
		dmesg | tail -n 20
		return 1
	fi
	echo none > /sys/block/"$1"/queue/scheduler 2> /dev/null
	res "bytes=$(blockdev --getsize64 /dev/"$1") after=$((i / 5))s"
}

# wait-gone DEV SECS: /dev/DEV went away (detached)
cmd_wait_gone() {
	local i=0
	while [ -e /dev/"$1" ] && [ $i -lt $((${2:-30} * 5)) ]; do
		sleep 0.2
		i=$((i + 1))
	done
	[ ! -e /dev/"$1" ] || { echo "/dev/$1 still there"; xen_devices; return 1; }
	res "gone after $((i / 5))s"
}

# disk-info DEV: what blkfront negotiated with the backend
cmd_disk_info() {
	local q=/sys/block/$1/queue
	[ -d "$q" ] || return 1
	res "bytes=$(blockdev --getsize64 /dev/"$1") hw_queues=$(ls /sys/block/"$1"/mq | wc -l)" \
		"max_hw_sectors_kb=$(cat $q/max_hw_sectors_kb) max_segments=$(cat $q/max_segments)" \
		"discard_max_bytes=$(cat $q/discard_max_bytes) write_cache=$(cat $q/write_cache | tr ' ' _)" \
		"fua=$(cat $q/fua) ro=$(cat /sys/block/"$1"/ro)"
}

# wait-size DEV BYTES SECS: the disk grew to BYTES
cmd_wait_size() {
	local i=0 b
	while :; do
		b=$(blockdev --getsize64 /dev/"$1")
		[ "$b" = "$2" ] && break
		[ $i -ge $((${3:-30} * 5)) ] && { echo "size $b, want $2"; dmesg | tail -n 5; return 1; }
		sleep 0.2
		i=$((i + 1))
	done
	res "bytes=$b after=$((i / 5))s"
}

# fio DEV NAME ARGS...: one fio run on /dev/DEV (O_DIRECT, libaio) with
# ARGS; the result holds fio's own figures (clat in us).
cmd_fio() {
	local dev=$1 name=$2 rc line
	shift 2
	fio --name="$name" --filename=/dev/"$dev" --direct=1 --ioengine=libaio \
		--group_reporting --output-format=normal,terse --terse-version=3 \
		--percentile_list=50:99 "$@" > /tmp/fio.out 2>&1
	rc=$?
	grep -v '^3;' /tmp/fio.out
	line=$(grep '^3;' /tmp/fio.out | tail -n 1)
	if [ -z "$line" ]; then
		res "fio rc=$rc, no figures"
		return 1
	fi
	res "$(echo "$line" | awk -F';' '{
		p = "err=" $5
		if ($8 + 0 > 0) { r50 = $18; r99 = $19; sub(/.*=/, "", r50); sub(/.*=/, "", r99)
			p = p sprintf(" r_iops=%d r_mbs=%.1f r_p50=%s r_p99=%s", $8, $7 * 1024 / 1e6, r50, r99) }
		if ($49 + 0 > 0) { w50 = $59; w99 = $60; sub(/.*=/, "", w50); sub(/.*=/, "", w99)
			p = p sprintf(" w_iops=%d w_mbs=%.1f w_p50=%s w_p99=%s", $49, $48 * 1024 / 1e6, w50, w99) }
		print p }')"
	[ $rc = 0 ] && [ "$(echo "$line" | cut -d';' -f5)" = 0 ]
}

# pattern-write DEV OFF LEN: random data at OFF..OFF+LEN MiB, read back;
# the result is its md5 (Dom0 keeps it across detach, reboot, ...)
cmd_pattern_write() {
	local m b
	dd if=/dev/urandom of=/tmp/pat bs=1M count="$3" 2> /dev/null || return 1
	dd if=/tmp/pat of=/dev/"$1" bs=1M seek="$2" oflag=direct conv=fsync 2> /dev/null || return 1
	m=$(md5sum < /tmp/pat | cut -c1-32)
	b=$(dd if=/dev/"$1" bs=1M skip="$2" count="$3" iflag=direct 2> /dev/null | md5sum | cut -c1-32)
	rm -f /tmp/pat
	res "md5=$m"
	[ "$m" = "$b" ] || { echo "read back $b, wrote $m"; return 1; }
}

# pattern-check DEV OFF LEN MD5: the data is still there
cmd_pattern_check() {
	local b
	b=$(dd if=/dev/"$1" bs=1M skip="$2" count="$3" iflag=direct 2> /dev/null | md5sum | cut -c1-32)
	res "md5=$b"
	[ "$b" = "$4" ] || { echo "read $b, want $4"; return 1; }
}

# discard-zeros DEV OFF LEN: data written, discarded, then read as zeros
cmd_discard_zeros() {
	local max nz
	max=$(cat /sys/block/"$1"/queue/discard_max_bytes)
	[ "$max" -gt 0 ] || { res "no discard (discard_max_bytes=0)"; return 1; }
	cmd_pattern_write "$1" "$2" "$3" || return 1
	blkdiscard -o $(($2 * 1048576)) -l $(($3 * 1048576)) /dev/"$1" || { res "blkdiscard failed"; return 1; }
	nz=$(dd if=/dev/"$1" bs=1M skip="$2" count="$3" iflag=direct 2> /dev/null | tr -d '\000' | wc -c)
	res "nonzero_bytes=$nz discard_max_bytes=$max"
	[ "$nz" = 0 ]
}

# ksym ADDR: the kernel symbol holding ADDR (hex, as Xen prints a RIP)
cmd_ksym() {
	local a
	a=$(printf '%016x' "0x${1#0x}")
	set -- $(awk -v a="$a" '$1 <= a && $1 > b { b = $1; s = $3 } END { print b, s }' /proc/kallsyms)
	[ -n "${2:-}" ] || return 1
	res "$(printf '%s is %s+0x%x' "$a" "$2" $((0x$a - 0x$1)))"
}

# ------------------------------------------------------------ network
# The netfront interface with MAC (the vif spec's mac=), or nothing.
nic_of() {
	local d
	for d in /sys/class/net/*; do
		[ "$(cat "$d/address" 2> /dev/null)" = "$1" ] && { echo "${d##*/}"; return 0; }
	done
	return 1
}

# net-up MAC ADDR/LEN SECS: the NIC with MAC appears; it gets ADDR and is
# up with a carrier. The result says what netfront negotiated.
cmd_net_up() {
	local i=0 n nq
	while ! n=$(nic_of "$1") && [ $i -lt $((${3:-60} * 5)) ]; do
		sleep 0.2
		i=$((i + 1))
	done
	if [ -z "$n" ]; then
		echo "no NIC with MAC $1 after ${3:-60} s"
		xen_devices
		dmesg | tail -n 20
		return 1
	fi
	ip addr flush dev "$n"
	ip addr add "$2" dev "$n" || return 1
	ip link set "$n" up || return 1
	while [ "$(cat /sys/class/net/"$n"/carrier 2> /dev/null)" != 1 ] &&
		[ $i -lt $((${3:-60} * 5)) ]; do
		sleep 0.2
		i=$((i + 1))
	done
	nq=$(ls -d /sys/class/net/"$n"/queues/tx-* | wc -l)
	res "nic=$n queues=$nq carrier=$(cat /sys/class/net/"$n"/carrier 2> /dev/null)" \
		"max_queues_param=$(cat /sys/module/xen_netfront/parameters/max_queues 2> /dev/null)" \
		"after=$((i / 5))s"
	[ "$(cat /sys/class/net/"$n"/carrier 2> /dev/null)" = 1 ]
}

# nic-gone MAC SECS: the NIC with MAC went away (detached)
cmd_nic_gone() {
	local i=0
	while nic_of "$1" > /dev/null && [ $i -lt $((${2:-30} * 5)) ]; do
		sleep 0.2
		i=$((i + 1))
	done
	! nic_of "$1" > /dev/null || { echo "NIC $1 still there"; xen_devices; return 1; }
	res "gone after $((i / 5))s"
}

# ping HOST COUNT: every echo answered
cmd_ping() {
	local out
	out=$(ping -c "${2:-5}" -w $((${2:-5} * 3 + 10)) "$1" 2>&1)
	echo "$out"
	res "$(echo "$out" | grep -E 'packets transmitted|min/avg/max' | tr '\n' ' ')"
	echo "$out" | grep -q " ${2:-5} packets received"
}

# ping-first HOST SECS: one ping answered within about SECS seconds (the
# path is up again); the result says after how many tries of a second
cmd_ping_first() {
	local i=0
	while [ $i -lt "$2" ]; do
		i=$((i + 1))
		if ping -c 1 -W 1 "$1" > /dev/null 2>&1; then
			res "answered at try $i"
			return 0
		fi
	done
	res "no answer in $2 tries"
	return 1
}

# iperf HOST SECS ARGS...: an iperf3 TCP client run against HOST (-R: the
# host sends); the result is the receiver's rate in Mbit/s (the sum of the
# streams with -P).
cmd_iperf() {
	local host=$1 t=$2 rc line
	shift 2
	iperf3 -c "$host" -t "$t" -f m --connect-timeout 20000 "$@" > /tmp/iperf.out 2>&1
	rc=$?
	cat /tmp/iperf.out
	# with -P the [SUM] line, else the one stream's
	line=$(grep 'receiver' /tmp/iperf.out | grep SUM | tail -n 1)
	[ -n "$line" ] || line=$(grep 'receiver' /tmp/iperf.out | tail -n 1)
	if [ -z "$line" ]; then
		res "iperf3 rc=$rc, no receiver line: $(grep -i error /tmp/iperf.out | head -n 1)"
		return 1
	fi
	res "mbps=$(echo "$line" | awk '{ for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }')" \
		"retr=$(grep 'sender' /tmp/iperf.out | tail -n 1 | awk '{ for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") print $(i + 1) }')"
	[ $rc = 0 ]
}
