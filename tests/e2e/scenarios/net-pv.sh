# net-pv: netbackd serves a PV guest's NIC (xl vif + pvback-vif on xenbr0,
# no xen-netback): pvback-vif's refusals, ping both ways, iperf3 TCP both
# ways (1 and 4 streams), 2 queues both carrying traffic, network-detach +
# network-attach, the vif and its TAP gone at poweroff, a clean netbackd
# log.
# budget: 600
. /e2e/net.sh
scenario() { net_suite pv; }
