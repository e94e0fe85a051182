# blk-pvh: the blk-pv checks with a PVH guest (one emulated CPU, as every
# PVH and HVM scenario: see README.md).
# budget: 1500
# smp: 1
. /e2e/blk.sh
scenario() { blk_suite pvh; }
