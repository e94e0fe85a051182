# blk-pv: blkbackd serves a PV guest's xvda (xl vbd + pvback-block, no
# xen-blkback): fio verify (randwrite, randrw; 4 KiB - 1 MiB; 2 queues),
# fsync, discard, resize, detach/attach, reboot, worker killed.
# budget: 1200
. /e2e/blk.sh
scenario() { blk_suite pv; }
