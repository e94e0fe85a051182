# net-pvh: the net-pv checks with a PVH guest (not in the default set: PVH
# guests crash in QEMU's nested SVM, see blk-pvh).
# budget: 900
. /e2e/net.sh
scenario() { net_suite pvh; }
