# blk-hvm: the blk-pv checks with an HVM guest using its PV drivers (PVHVM).
# budget: 2100
# smp: 1
. /e2e/blk.sh
scenario() { blk_suite hvm; }
