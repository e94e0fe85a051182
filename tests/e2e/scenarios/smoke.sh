# smoke: a PV guest boots with a blkbackd disk and one fio verify passes.
# budget: 300
. /e2e/blk.sh
scenario() {
	local img=/images/smoke.img
	check blkbackd-mode backend_mode blkbackd
	mk_image "$img" 128
	guest_up smoke pv 256 2 "'$BLK_SPEC_PREFIX$img'" "" 120 || return
	gcheck disk-visible -t 90 smoke wait-disk xvda 60 || return
	gcheck fio-verify -t 240 smoke fio xvda smoke --rw=randwrite --bsrange=4k-1m \
		--size=16m $FIO_2Q $FIO_VERIFY
	g -t 30 smoke poweroff
	check guest-gone wait_until 60 sh -c "! xl domid smoke > /dev/null 2>&1"
}
