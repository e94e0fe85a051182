# net-pvh: the net-pv checks with a PVH guest.
# budget: 900
# smp: 1
. /e2e/net.sh
scenario() { net_suite pvh; }
