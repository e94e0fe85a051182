# net-hvm: the net-pv checks with an HVM guest on its PV NIC (PVHVM;
# type=vif, no emulated NIC).
# budget: 1200
# smp: 1
. /e2e/net.sh
scenario() { net_suite hvm; }
