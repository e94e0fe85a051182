// SPDX-License-Identifier: MIT
/*
 * The hotplug-script path (spec/blkif-xenbus.md B.1): a vbd added with
 * `script=` has no usable store until the script ran. blkbackd reaches
 * InitWait without one (xl's 10 s deadline), then opens the store the
 * script names in physical-device-path as soon as it appears:
 *  - disk 51712: the script names a seeded image; the guest then reads the
 *    image's bytes (not params', which names something else);
 *  - disk 51728: the script names a file that does not exist; the backend
 *    goes Closing with an error node naming it before any guest connects,
 *    and disk 51712 of the same daemon is not disturbed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "front/blkfront.h"
#include "lib/blkscen.h"
#include "lib/blkscen2.h"
#include "lib/check.h"

#define DISK_BYTES (4ull << 20)
#define SEED 21
#define SCRIPT "be:script=/etc/xen/scripts/block"

static int guest(void *arg)
{
	static uint8_t buf[128 * 1024];
	struct blkfront_cfg cfg;
	struct blkfront *bf;
	struct blkfront_io io = {
		.op = BLKFRONT_READ,
		.sector = 8,
		.buf = buf,
		.len = sizeof(buf),
	};
	struct blkfront_done d;

	blkfront_cfg_init(&cfg);
	cfg.devid = 51712;
	bf = blk2_connect(&cfg);
	CHECK(blkfront_info(bf)->sectors == DISK_BYTES / 512,
	      "sectors %llu, want the script's image",
	      (unsigned long long)blkfront_info(bf)->sectors);
	CHECK(blk2_do(bf, 0, &io, &d) == 0, "read: status %d", d.rsp_status);
	CHECK(blk_diff(buf, sizeof(buf), SEED, 8 * 512) < 0,
	      "read something else than the script's image");
	blk2_no_violations(bf, "read");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

/* What the block script does last: name the store, say it is done. */
static void script_runs(struct blk_scen *s, unsigned int devid,
			const char *path)
{
	const char *be = blk_be("vbd", 1, devid);

	CHECK(simenv_sh(&s->env, 0, NULL, 0,
			"xenstore-write %s/physical-device-path %s "
			"%s/hotplug-status connected",
			be, path, be) == 0,
	      "the script's writes");
}

int main(void)
{
	struct blk_scen s;
	char img[PATH_MAX], missing[PATH_MAX + 16];
	const char *v = NULL;

	blk_start(&s, 1, "--single", NULL);
	snprintf(img, sizeof(img), "%s",
		 blk_image(&s, "disk.img", DISK_BYTES, SEED));
	snprintf(missing, sizeof(missing), "%s/gone.img", s.env.dir);

	/* params names nothing usable: only the script's word counts. */
	blk_add(&s, "vbd", 1, 51712, "phy:/dev/not-this-one", SCRIPT);
	blk_add(&s, "vbd", 1, 51728, "phy:/dev/not-this-one", SCRIPT);
	CHECK(!blk_read(&s, "/local/domain/0/error/backend/vbd/1/51712/error"),
	      "an error before the script ran");

	script_runs(&s, 51728, missing);
	for (int i = 0; i < 500; i++) {
		v = blk_read(&s, "%s/state", blk_be("vbd", 1, 51728));
		if (v && !strcmp(v, "5"))
			break;
		usleep(10000);
	}
	CHECK(v && !strcmp(v, "5"), "disk 51728: state %s, want 5 (Closing)",
	      v ? v : "absent");
	v = blk_read(&s, "/local/domain/0/error/backend/vbd/1/51728/error");
	CHECK(v && strstr(v, missing) && !strncmp(v, "2 ", 2),
	      "disk 51728: error node \"%s\" should be ENOENT naming %s",
	      v ? v : "(none)", missing);

	script_runs(&s, 51712, img);
	CHECK(blk_guest(&s, 1, guest, NULL) == 0, "the guest failed");
	v = blk_read(&s, "%s/state", blk_be("vbd", 1, 51712));
	CHECK(v && !strcmp(v, "6"), "disk 51712 state %s after close",
	      v ? v : "absent");
	return blk_pass(&s);
}
