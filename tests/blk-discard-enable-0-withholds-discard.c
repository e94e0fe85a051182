// SPDX-License-Identifier: MIT
/*
 * The toolstack's discard-enable=0 (xl's `no-discard`) withholds discard,
 * as Linux blkback does: a disk added with it is connected without
 * feature-discard (nor its granularity keys), while the same kind of disk
 * without it, on the same daemon, offers feature-discard=1 and
 * discard-secure=0 (a file cannot erase securely).
 */
#include <stdio.h>
#include <string.h>

#include "front/blkfront.h"
#include "lib/blkscen.h"
#include "lib/blkscen2.h"
#include "lib/check.h"

static int guest(void *arg)
{
	struct blkfront_cfg cfg;
	struct blkfront *bf;

	for (unsigned int devid = 51712; devid <= 51728; devid += 16) {
		blkfront_cfg_init(&cfg);
		cfg.devid = devid;
		bf = blk2_connect(&cfg);
		CHECK(blkfront_close(bf) == 0, "close: %s",
		      blkfront_last_error());
	}
	return 0;
}

int main(void)
{
	struct blk_scen s;
	const char *v;

	blk_start(&s, 1, "--single", NULL);
	blk_add(&s, "vbd", 1, 51712, blk_image(&s, "a.img", 1 << 20, 0),
		"be:discard-enable=0");
	blk_add(&s, "vbd", 1, 51728, blk_image(&s, "b.img", 1 << 20, 0), NULL);
	CHECK(blk_guest(&s, 1, guest, NULL) == 0, "the guest failed");

	v = blk_read(&s, "%s/feature-discard", blk_be("vbd", 1, 51712));
	CHECK(!v, "discard-enable=0, yet feature-discard = %s", v);
	v = blk_read(&s, "%s/discard-granularity", blk_be("vbd", 1, 51712));
	CHECK(!v, "discard-enable=0, yet discard-granularity = %s", v);
	v = blk_read(&s, "%s/feature-discard", blk_be("vbd", 1, 51728));
	CHECK(v && !strcmp(v, "1"), "the other disk: feature-discard %s",
	      v ? v : "absent");
	v = blk_read(&s, "%s/discard-secure", blk_be("vbd", 1, 51728));
	CHECK(v && !strcmp(v, "0"), "a file: discard-secure %s, want 0",
	      v ? v : "absent");
	return blk_pass(&s);
}
