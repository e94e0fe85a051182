# blk-pvh: the blk-pv checks with a PVH guest.
# budget: 1500
. /e2e/blk.sh
scenario() { blk_suite pvh; }
