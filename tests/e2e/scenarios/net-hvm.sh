# net-hvm: the net-pv checks with an HVM guest on its PV NIC (PVHVM;
# type=vif, no emulated NIC) (not in the default set, see blk-hvm).
# budget: 1200
. /e2e/net.sh
scenario() { net_suite hvm; }
